package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"m3o.dev/services/runtime/source"
)

func TestExtractAccepts(t *testing.T) {
	data := archive(t,
		dir("cmd/"),
		file("cmd/main.go", "package main\n"),
		entry{name: "run.sh", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o4777},
		entry{name: "setgid/", typ: tar.TypeDir, mode: 0o3777},
		entry{name: "setgid/x", typ: tar.TypeReg, body: "x", mode: 0o2600},
		file("deep/er/file.txt", "implicit parents"),
		symlink("cmd/link", "../deep/./er/file.txt"),
		symlink("self", "."),
	)
	dst := filepath.Join(t.TempDir(), "out")
	if err := source.Extract(bytes.NewReader(data), dst, source.Limits{}); err != nil {
		t.Fatalf("Extract() = %v, want nil", err)
	}
	want := map[string]fs.FileMode{
		".": fs.ModeDir | 0o755, "cmd": fs.ModeDir | 0o755, "cmd/main.go": 0o644,
		"run.sh": 0o755, "setgid": fs.ModeDir | 0o755, "setgid/x": 0o644,
		"deep": fs.ModeDir | 0o755, "deep/er": fs.ModeDir | 0o755, "deep/er/file.txt": 0o644,
		"cmd/link": fs.ModeSymlink | 0o777, "self": fs.ModeSymlink | 0o777,
	}
	got := listTree(t, dst)
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("mode of %s = %v, want %v (setuid, setgid and sticky bits stripped)", name, got[name], mode)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tree = %v, want exactly %v", got, want)
	}
	if link, _ := os.Readlink(filepath.Join(dst, "cmd/link")); link != "../deep/er/file.txt" {
		t.Errorf("Readlink(cmd/link) = %q, want the target in its shortest form", link)
	}
	if body, err := os.ReadFile(filepath.Join(dst, "cmd/link")); string(body) != "implicit parents" {
		t.Errorf("ReadFile(cmd/link) = %q, %v, want the linked file's content", body, err)
	}
}

func TestExtractRefuses(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		reason  string
	}{
		{"dot-dot", []entry{file("../escaped.txt", "x")}, "paths containing .."},
		{"inner dot-dot", []entry{file("a/../../escaped.txt", "x")}, "paths containing .."},
		{"absolute path", []entry{file("/tmp/m3o-extract-escaped.txt", "x")}, "absolute paths"},
		{"symlink out", []entry{symlink("out", "../../etc")}, "leads out of the tree"},
		{"symlink out from below", []entry{symlink("a/b/out", "../../../x")}, "leads out of the tree"},
		{"absolute symlink", []entry{symlink("passwd", "/etc/passwd")}, "leads out of the tree"},
		{"write through symlink", []entry{symlink("here", "."), file("here/x", "x")}, "goes through the symlink"},
		{"hard link", []entry{file("a", "x"), {name: "b", typ: tar.TypeLink, link: "a"}}, "hard links"},
		{"char device", []entry{special("null", tar.TypeChar)}, "device files"},
		{"block device", []entry{special("sda", tar.TypeBlock)}, "device files"},
		{"fifo", []entry{special("pipe", tar.TypeFifo)}, "named pipes"},
		{"duplicate", []entry{file("a", "1"), file("a", "2")}, "appears twice"},
		{"file over dir", []entry{dir("a/"), file("a", "x")}, "appears twice"},
		{"dir over file", []entry{file("a", "x"), dir("a/")}, "clashes"},
		{"too deep", []entry{file(strings.Repeat("d/", 120)+"f", "x")}, "deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scratch := filepath.Join(t.TempDir(), "scratch")
			if err := os.Mkdir(scratch, 0o755); err != nil {
				t.Fatal(err)
			}
			err := source.Extract(bytes.NewReader(archive(t, tt.entries...)), filepath.Join(scratch, "out"), source.Limits{})
			wantRefused(t, err, tt.entries[len(tt.entries)-1].name, tt.reason)
			wantEmpty(t, scratch)
			for _, p := range []string{filepath.Join(scratch, "..", "escaped.txt"), filepath.Join(filepath.Dir(scratch), "..", "escaped.txt"), "/tmp/m3o-extract-escaped.txt"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s exists after a refused archive", p)
				}
			}
		})
	}
}

// wantRefused fails unless err matches ErrInvalidSource and names the
// entry and the reason.
func wantRefused(t *testing.T, err error, entry, reason string) {
	t.Helper()
	if !errors.Is(err, source.ErrInvalidSource) {
		t.Fatalf("Extract() = %v, want an error matching ErrInvalidSource", err)
	}
	if msg := err.Error(); !strings.Contains(msg, reason) || entry != "" && !strings.Contains(msg, `"`+strings.TrimSuffix(entry[:min(len(entry), 20)], "/")) {
		t.Fatalf("Extract() = %q, want it to name %q and say %q", msg, entry, reason)
	}
}

func TestExtractLimits(t *testing.T) {
	many := make([]entry, 10_001)
	for i := range many {
		many[i] = file(fmt.Sprintf("f/%05d", i), "")
	}
	random := make([]byte, 64<<10)
	rand.Read(random)
	tests := []struct {
		name   string
		data   func(t *testing.T) io.Reader
		lim    source.Limits
		reason string
	}{
		{"10,001 files", func(t *testing.T) io.Reader { return bytes.NewReader(archive(t, many...)) }, source.Limits{}, "more than 10000 entries"},
		{"1 GiB bomb", func(t *testing.T) io.Reader { return bomb(t, 1<<30) }, source.Limits{}, "past the 200 MiB limit"},
		{"several files past the limit", func(t *testing.T) io.Reader {
			return bytes.NewReader(archive(t, file("a", strings.Repeat("a", 600<<10)), file("b", strings.Repeat("b", 600<<10))))
		}, source.Limits{UnpackedBytes: 1 << 20}, "past the 1 MiB limit"},
		{"compressed limit", func(t *testing.T) io.Reader { return bytes.NewReader(archive(t, file("r", string(random)))) }, source.Limits{CompressedBytes: 32 << 10}, "over the 32768 bytes compressed limit"},
		{"not gzip", func(t *testing.T) io.Reader { return strings.NewReader("just text") }, source.Limits{}, "not a gzipped tar"},
		{"truncated", func(t *testing.T) io.Reader {
			data := archive(t, file("a", string(random)))
			return bytes.NewReader(data[:len(data)/2])
		}, source.Limits{}, "not a gzipped tar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scratch := t.TempDir()
			err := source.Extract(tt.data(t), filepath.Join(scratch, "out"), tt.lim)
			wantRefused(t, err, "", tt.reason)
			wantEmpty(t, scratch)
		})
	}
}

// bomb streams a gzipped tar holding one file of size zero bytes,
// compressing only as much as the reader asks for, so the test costs
// nothing when Extract refuses early.
func bomb(t *testing.T, size int64) io.Reader {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	go func() {
		gz, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		tw := tar.NewWriter(gz)
		err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
		if err == nil {
			_, err = io.CopyN(tw, zeros{}, size)
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

// Read implements io.Reader.
func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestExtractRefusesExistingDestination(t *testing.T) {
	dst := t.TempDir()
	err := source.Extract(bytes.NewReader(archive(t, file("a", "x"))), dst, source.Limits{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Extract(existing dir) = %v, want an error matching fs.ErrExist", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "a")); err == nil {
		t.Fatalf("Extract wrote into an existing destination")
	}
}

func TestExtractRefusesLimitsPastMaximum(t *testing.T) {
	err := source.Extract(strings.NewReader(""), filepath.Join(t.TempDir(), "out"), source.Limits{CompressedBytes: source.MaxCompressedBytes + 1})
	if err == nil || errors.Is(err, source.ErrInvalidSource) {
		t.Fatalf("Extract(limit past maximum) = %v, want a configuration error", err)
	}
}
