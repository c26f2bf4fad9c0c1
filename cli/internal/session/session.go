// Package session connects the CLI to the public gRPC proxy of one env: TLS
// that trusts the env's CA, a bearer token on every call, and a silent
// refresh of that token shortly before it expires.
//
// The proxy forwards every m3o.* service, so the generated clients are used
// directly on a Conn:
//
//	conn, err := session.Dial(env, store)
//	...
//	defer conn.Close()
//	resp, err := storev1.NewStoreServiceClient(conn.Client()).Read(ctx, req)
package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/cli/internal/envfile"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// Timing of calls and refreshes.
const (
	// refreshMargin is how long before its expiry an access token is
	// replaced, so that a token never expires between check and use.
	refreshMargin = 60 * time.Second
	// callTimeout bounds a unary call whose context has no deadline, so that
	// an unreachable or stuck proxy ends the command instead of hanging it.
	callTimeout = 30 * time.Second
)

// ErrNotLoggedIn is returned by a call that needs a token when the env has
// no session.
var ErrNotLoggedIn = errors.New("not logged in")

// Conn is a connection to one env's proxy.
type Conn struct {
	env   envfile.Env
	store *envfile.Store
	creds *recordingCreds
	cc    *grpc.ClientConn
	warn  warnings
}

// Dial prepares a connection to env. It reads the env's CA but does not touch
// the network: the first call connects.
func Dial(env envfile.Env, store *envfile.Store) (*Conn, error) {
	creds, err := transportCredentials(env)
	if err != nil {
		return nil, err
	}
	c := &Conn{env: env, store: store, creds: creds}
	c.cc, err = grpc.NewClient(env.Address,
		grpc.WithTransportCredentials(creds),
		grpc.WithChainUnaryInterceptor(c.explainUnary, c.warnUnary, c.authorizeUnary),
		grpc.WithChainStreamInterceptor(c.explainStream, c.warnStream, c.authorizeStream),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", env.Address, err)
	}
	return c, nil
}

// Client returns the connection for generated service clients.
func (c *Conn) Client() grpc.ClientConnInterface {
	return c.cc
}

// Close closes the connection.
func (c *Conn) Close() error {
	return c.cc.Close()
}

// Login exchanges an account's name and secret for tokens and saves them as
// the env's session, replacing any earlier one.
func (c *Conn) Login(ctx context.Context, namespace, name, secret string) (envfile.Session, error) {
	resp, err := authv1.NewAuthServiceClient(c.cc).Token(ctx, &authv1.TokenRequest{
		Namespace: namespace,
		Id:        name,
		Secret:    secret,
	})
	if err != nil {
		return envfile.Session{}, err
	}
	s := sessionFrom(envfile.Session{Account: name, Namespace: namespace}, resp)
	err = c.store.Update(func(f *envfile.File) error {
		f.SetSession(c.env.Name, s)
		return nil
	})
	return s, err
}

// SignedUp saves the tokens of a completed sign-up as the env's session,
// replacing any earlier one, as Login does.
func (c *Conn) SignedUp(resp *authv1.CompleteSignupResponse) (envfile.Session, error) {
	return c.saveTokens(resp.GetToken(), resp.GetAccount())
}

// PasswordReset saves the tokens of a password reset as the env's session,
// replacing any earlier one, as Login does.
func (c *Conn) PasswordReset(resp *authv1.ResetPasswordResponse) (envfile.Session, error) {
	return c.saveTokens(resp.GetToken(), resp.GetAccount())
}

// saveTokens saves tok, issued to acc, as the env's session.
func (c *Conn) saveTokens(tok *authv1.Token, acc *authv1.Account) (envfile.Session, error) {
	s := sessionFrom(envfile.Session{}, &authv1.TokenResponse{Token: tok, Account: acc})
	err := c.store.Update(func(f *envfile.File) error {
		f.SetSession(c.env.Name, s)
		return nil
	})
	return s, err
}

// Logout forgets the env's session. It first asks the platform to revoke the
// refresh token, but only as a courtesy: being logged out locally must not
// depend on the platform being reachable. It reports whether the revocation
// went through.
func (c *Conn) Logout(ctx context.Context) (revoked bool, err error) {
	f, err := c.store.Load()
	if err != nil {
		return false, err
	}
	if s, ok := f.Session(c.env.Name); ok && s.RefreshToken != "" {
		_, rerr := authv1.NewAuthServiceClient(c.cc).Revoke(ctx, &authv1.RevokeRequest{RefreshToken: s.RefreshToken})
		revoked = rerr == nil
	}
	return revoked, c.store.Update(func(f *envfile.File) error {
		f.ForgetSession(c.env.Name)
		return nil
	})
}

// sessionFrom returns prev updated with the tokens and account of resp.
func sessionFrom(prev envfile.Session, resp *authv1.TokenResponse) envfile.Session {
	s := prev
	if t := resp.GetToken(); t != nil {
		s.AccessToken = t.GetAccessToken()
		s.RefreshToken = t.GetRefreshToken()
		s.Expiry = time.Time{}
		if t.GetExpiry() != nil {
			s.Expiry = t.GetExpiry().AsTime()
		}
	}
	if a := resp.GetAccount(); a != nil {
		s.Account = a.GetName()
		s.AccountID = a.GetId()
		s.Namespace = a.GetNamespace()
	}
	return s
}
