package billingtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ChromiumEnv names a Chromium binary to use instead of the one on PATH.
const ChromiumEnv = "MICRO_TEST_CHROMIUM"

// browserTimeout bounds one browser action.
const browserTimeout = time.Minute

// Browser is headless Chromium, with a fresh profile, for one test. It
// reaches loopback addresses only: every other host name fails to resolve,
// so a page that tried to load anything from elsewhere would show it.
type Browser struct {
	ctx context.Context

	mu        sync.Mutex
	documents []document
	arrived   chan struct{}
}

// document is a page load the browser saw.
type document struct {
	url    string
	status int
}

// Page is what the browser shows once a page has loaded.
type Page struct {
	// URL is the page's address after any redirects.
	URL string
	// Status is the HTTP status of the page's document.
	Status int
	// Title is the document's title.
	Title string
	// Text is the visible text of the body.
	Text string
}

// NewBrowser starts Debian's chromium ($MICRO_TEST_CHROMIUM, else chromium
// on PATH) until the test ends. A missing browser fails the test; .ci/run
// installs it.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv(ChromiumEnv)
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("no chromium on PATH (apt-get install chromium, or set %s): %v", ChromiumEnv, err)
		}
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserFlags(path, t.TempDir())...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{ctx: ctx, arrived: make(chan struct{})}
	if err := chromedp.Listen(ctx, b.observe); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return b
}

// browserFlags run Chromium headless with a profile of its own, talking to
// nothing but the pages it is sent to.
func browserFlags(path, profile string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
	}
}

// observe records the status of every document the browser loads.
func (b *Browser) observe(ev any) {
	resp, ok := ev.(*network.EventResponseReceived)
	if !ok || resp.Type != network.ResourceTypeDocument {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.documents = append(b.documents, document{url: resp.Response.URL, status: int(resp.Response.Status)})
	close(b.arrived)
	b.arrived = make(chan struct{})
}

// loads returns how many documents have loaded, and a channel closed at
// the next one.
func (b *Browser) loads() (int, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.documents), b.arrived
}

// Open loads url and returns the page it ends on, after any redirect its
// script makes.
func (b *Browser) Open(t testing.TB, url string) Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return b.current(t, ctx)
}

// WaitForURL waits until the page's address starts with prefix, as after a
// redirect, and returns the page.
func (b *Browser) WaitForURL(t testing.TB, prefix string) Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.HasPrefix(loc, prefix) {
			_ = chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("body")))
			return b.current(t, ctx)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the browser never reached %s; it is at %s", prefix, loc)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PayWithCard types card into the open subscribe page's empty card field,
// submits the form and returns the page that answers.
func (b *Browser) PayWithCard(t testing.TB, card string) Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	before, next := b.loads()
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("card")),
		chromedp.SendKeys(chromedp.ID("card"), card),
		chromedp.Click(chromedp.ID("submit")),
	)
	if err != nil {
		t.Fatalf("pay with card %s: %v", card, err)
	}
	for n := before; n == before; n, next = b.loads() {
		select {
		case <-next:
		case <-ctx.Done():
			t.Fatalf("no page answered the card %s", card)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("page after the card %s: %v", card, err)
	}
	return b.current(t, ctx)
}

// current reads the page the browser shows.
func (b *Browser) current(t testing.TB, ctx context.Context) Page {
	t.Helper()
	var p Page
	var err error
	if p.URL, err = chromedp.Run(ctx, chromedp.Location()); err == nil {
		if p.Title, err = chromedp.Run(ctx, chromedp.Title()); err == nil {
			p.Text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		}
	}
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	b.mu.Lock()
	if n := len(b.documents); n > 0 {
		p.Status = b.documents[n-1].status
	}
	b.mu.Unlock()
	return p
}
