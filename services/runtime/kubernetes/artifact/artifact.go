// Package artifact moves a service's built binary from the runtime to its
// pods on Kubernetes, so that no image registry is involved: Handler is
// the runtime's side, serving binaries over mTLS, and Fetch the pod's, run
// by the entrypoint of the base image (services/cmd/entrypoint).
//
// A pod proves who it is with its instance certificate,
// spiffe://m3o/ns/<namespace>/svc/<name>, and gets only its own service's
// binaries. The pod trusts only a server that presents the platform
// runtime's identity, micro/runtime, under the platform CA in its
// MICRO_TLS_DIR, so a foreign server cannot hand it code.
//
// URLs are <base>/<namespace>/<name>/<source id>; the runtime keeps the
// binaries under <dir>/<namespace>/<name>/<source id>.
package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
)

// MaxBinaryBytes bounds what Fetch accepts.
const MaxBinaryBytes = 512 << 20

// segment is what each part of an artifact's path may be: a DNS label or
// a source id, never a path of its own.
var segment = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Runtime is the identity a pod accepts binaries from.
var Runtime = mtls.Identity{Namespace: platform.Namespace, Service: platform.Runtime}

// Handler serves the binaries under dir to the pods of their own service.
// The server must require client certificates of the platform CA
// (mtls.Bundle.ServerConfig).
func Handler(dir string) (http.Handler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("artifact handler: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(root, w, r) }), nil
}

// serve answers one request: the caller's identity must name the
// namespace and service of the path.
func serve(root *os.Root, w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) != 3 || !allSegments(parts) {
		http.Error(w, "not an artifact path: want /<namespace>/<name>/<source id>", http.StatusNotFound)
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "a client certificate is required", http.StatusUnauthorized)
		return
	}
	id, err := mtls.IdentityFromCert(r.TLS.PeerCertificates[0])
	if err != nil || id.Namespace != parts[0] || id.Service != parts[1] {
		http.Error(w, "a pod may fetch only its own service's binary", http.StatusForbidden)
		return
	}
	f, err := root.Open(path.Join(parts...))
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no such binary", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "cannot read the binary", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, f)
}

func allSegments(parts []string) bool {
	for _, p := range parts {
		if !segment.MatchString(p) {
			return false
		}
	}
	return true
}

// Fetch downloads the binary at url with the instance certificate in
// tlsDir (ca.pem, cert.pem, key.pem, as MICRO_TLS_DIR holds them), from a
// server that must present Runtime's identity under that CA, and writes
// it executable at dst. Nothing is left at dst on failure.
func Fetch(ctx context.Context, url, tlsDir, dst string) error {
	b, err := mtls.LoadBundle(filepath.Join(tlsDir, "ca.pem"), filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem"))
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: b.ClientConfig(Runtime)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("fetch %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return writeExecutable(dst, io.LimitReader(resp.Body, MaxBinaryBytes+1))
}

// writeExecutable writes r to dst through a temporary file, refusing more
// than MaxBinaryBytes.
func writeExecutable(dst string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".binary-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("write %s: %w", dst, err)
	case n > MaxBinaryBytes:
		return fmt.Errorf("the binary is over %d bytes", MaxBinaryBytes)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
