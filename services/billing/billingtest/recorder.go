package billingtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Stripe's hosted pages, which stripe-mock's answers point at and the
// Recorder points back at itself: a test browser never leaves the machine.
var hostedPages = []string{"https://checkout.stripe.com", "https://billing.stripe.com"}

// HostedPath is where the Recorder serves its stand-ins for Stripe's hosted
// pages: Checkout at HostedPath+"/checkout.stripe.com/…".
const HostedPath = "/hosted/"

// HostedTitle is the title of the Recorder's stand-in for a hosted page.
const HostedTitle = "Stripe hosted page (test)"

// Request is one request made of Stripe's API.
type Request struct {
	// Method and Path are the request's, such as POST /v1/customers.
	Method, Path string
	// Form is the decoded form body: Stripe's API takes parameters as
	// form fields such as line_items[0][price].
	Form url.Values
	// IdempotencyKey is the Idempotency-Key header.
	IdempotencyKey string
}

// Recorder is a reverse proxy in front of stripe-mock that keeps every
// request, because stripe-mock keeps no state to ask afterwards. Its
// answers send browsers to its own stand-ins for Stripe's hosted pages.
type Recorder struct {
	// URL is the proxy's base URL, for stripe.Options.URL.
	URL string

	mu       sync.Mutex
	requests []Request
}

// NewRecorder starts a recording proxy in front of upstream until the test
// ends.
func NewRecorder(t testing.TB, upstream string) *Recorder {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("upstream %q: %v", upstream, err)
	}
	r := &Recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = r.pointHostedPagesHere
	mux := http.NewServeMux()
	mux.HandleFunc(HostedPath, hostedPage)
	mux.Handle("/", r.record(proxy))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Requests returns every request so far, in order.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Find returns the requests made with method of path.
func (r *Recorder) Find(method, path string) []Request {
	var out []Request
	for _, req := range r.Requests() {
		if req.Method == method && req.Path == path {
			out = append(out, req)
		}
	}
	return out
}

// record keeps each request before passing it on.
func (r *Recorder) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		r.mu.Lock()
		r.requests = append(r.requests, Request{
			Method: req.Method, Path: req.URL.Path, Form: form, IdempotencyKey: req.Header.Get("Idempotency-Key"),
		})
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	})
}

// pointHostedPagesHere rewrites the URLs of Stripe's hosted pages in an
// answer to the Recorder's stand-ins.
func (r *Recorder) pointHostedPagesHere(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	for _, page := range hostedPages {
		local := r.URL + HostedPath + strings.TrimPrefix(page, "https://")
		body = bytes.ReplaceAll(body, []byte(page), []byte(local))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// hostedPage stands in for a Stripe hosted page.
func hostedPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "<!doctype html><title>"+HostedTitle+"</title><h1>"+HostedTitle+"</h1>")
}
