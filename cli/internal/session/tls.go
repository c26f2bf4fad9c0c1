package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/envfile"
	"m3o.dev/pkg/mtls"
)

// CAError means the env's CA file cannot be used.
type CAError struct {
	// Path is the CA file.
	Path string
	// Err is why it cannot be used.
	Err error
}

// Error implements error.
func (e *CAError) Error() string { return fmt.Sprintf("CA file %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *CAError) Unwrap() error { return e.Err }

// CertificateError means the proxy's certificate did not verify against the
// env's CA, or did not name the host dialled.
type CertificateError struct {
	// Err is the verification failure.
	Err error
}

// Error implements error.
func (e *CertificateError) Error() string { return "verify proxy certificate: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *CertificateError) Unwrap() error { return e.Err }

// errNoPEM means a CA file holds no PEM certificate.
var errNoPEM = errors.New("no PEM certificate in file")

// transportCredentials returns TLS credentials that trust the env's CA file,
// or the system roots when it has none, and check that the proxy's
// certificate names the host of the env's address.
func transportCredentials(env envfile.Env) (*recordingCreds, error) {
	host, _, err := net.SplitHostPort(env.Address)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", env.Address, err)
	}
	roots, err := loadRoots(env.CAFile)
	if err != nil {
		return nil, err
	}
	return &recordingCreds{
		TransportCredentials: credentials.NewTLS(mtls.ClientRootsConfig(roots, host)),
		failure:              &handshakeFailure{},
	}, nil
}

// loadRoots reads a PEM file of CA certificates; an empty path means the
// system roots, which a nil pool selects.
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &CAError{Path: path, Err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &CAError{Path: path, Err: errNoPEM}
	}
	return pool, nil
}

// recordingCreds remembers the last handshake failure. gRPC reports a
// failed handshake only as Unavailable with text, and telling "nothing is
// listening" from "something is listening but is not the platform" is
// exactly what a user needs to fix it.
type recordingCreds struct {
	credentials.TransportCredentials
	failure *handshakeFailure
}

// handshakeFailure is the last certificate verification failure, shared by
// clones of one recordingCreds.
type handshakeFailure struct {
	mu  sync.Mutex
	err error
}

// ClientHandshake implements credentials.TransportCredentials.
func (r *recordingCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := r.TransportCredentials.ClientHandshake(ctx, authority, raw)
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		r.failure.mu.Lock()
		r.failure.err = verr.Err
		r.failure.mu.Unlock()
	}
	return conn, info, err
}

// Clone implements credentials.TransportCredentials.
func (r *recordingCreds) Clone() credentials.TransportCredentials {
	return &recordingCreds{TransportCredentials: r.TransportCredentials.Clone(), failure: r.failure}
}

// lastFailure returns the last certificate verification failure, if any.
func (r *recordingCreds) lastFailure() error {
	r.failure.mu.Lock()
	defer r.failure.mu.Unlock()
	return r.failure.err
}

// explainUnary turns an Unavailable caused by a certificate that did not
// verify into a CertificateError.
func (c *Conn) explainUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return c.explain(invoker(ctx, method, req, reply, cc, opts...))
}

// explainStream turns an Unavailable caused by a certificate that did not
// verify into a CertificateError.
func (c *Conn) explainStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	return s, c.explain(err)
}

// explain returns a CertificateError for an Unavailable error that followed
// a failed certificate verification, and err otherwise.
func (c *Conn) explain(err error) error {
	if status.Code(err) != codes.Unavailable {
		return err
	}
	if verr := c.creds.lastFailure(); verr != nil {
		return &CertificateError{Err: verr}
	}
	return err
}
