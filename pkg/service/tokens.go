package service

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// loginTimeout bounds a login or renewal, which holds up the calls that
// wait for the token.
const loginTimeout = 10 * time.Second

// tokens is the service account's access token, as per-call credentials.
// It logs in with the account's id and secret on first use, and renews the
// token once four fifths of its life have passed: with the refresh token
// while that works, with the secret again when it does not. Renewal
// happens on the call that finds the token due, so an idle instance does
// not log in at all.
type tokens struct {
	auth      authv1.AuthServiceClient
	namespace string
	id        string
	secret    string
	now       func() time.Time

	mu      sync.Mutex
	access  string
	refresh string
	renewAt time.Time
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (t *tokens) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := t.token(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (t *tokens) RequireTransportSecurity() bool { return true }

// token returns a current access token, renewing it when it is due.
func (t *tokens) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access != "" && t.now().Before(t.renewAt) {
		return t.access, nil
	}
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	resp, err := t.renew(ctx)
	if err != nil {
		return "", loginError(err)
	}
	t.keep(resp.GetToken())
	return t.access, nil
}

// renew exchanges the refresh token, or logs in with the secret when
// there is none or it is refused (rotated by another caller, expired or
// revoked).
func (t *tokens) renew(ctx context.Context) (*authv1.TokenResponse, error) {
	if t.refresh != "" {
		resp, err := t.auth.Token(ctx, &authv1.TokenRequest{Namespace: t.namespace, RefreshToken: t.refresh})
		if err == nil {
			return resp, nil
		}
		t.refresh = ""
	}
	return t.auth.Token(ctx, &authv1.TokenRequest{Namespace: t.namespace, Id: t.id, Secret: t.secret})
}

// keep stores a new token pair and when to renew it.
func (t *tokens) keep(tok *authv1.Token) {
	now := t.now()
	issued, expiry := now, now.Add(15*time.Minute)
	if tok.GetCreated() != nil {
		issued = tok.GetCreated().AsTime()
	}
	if tok.GetExpiry() != nil {
		expiry = tok.GetExpiry().AsTime()
	}
	t.access, t.refresh = tok.GetAccessToken(), tok.GetRefreshToken()
	t.renewAt = issued.Add(expiry.Sub(issued) * 4 / 5)
}

// loginError is the status a call fails with when the service account
// could not log in: Unauthenticated when its credentials were refused,
// Unavailable when the platform could not be asked.
func loginError(err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		return status.Errorf(codes.Unauthenticated, "The service account was refused: %s", st.Message())
	case codes.Canceled, codes.DeadlineExceeded:
		return st.Err()
	}
	return status.Errorf(codes.Unavailable, "The service account could not log in: %s", st.Message())
}
