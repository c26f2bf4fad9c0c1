package session

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/envfile"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// public lists the methods called without a token: they are how a token is
// obtained in the first place, and sending a stale one would only get them
// refused.
var public = map[string]bool{
	authv1.AuthService_Token_FullMethodName:                   true,
	authv1.AuthService_PublicKeys_FullMethodName:              true,
	authv1.AuthService_SendPasswordReset_FullMethodName:       true,
	authv1.AuthService_ResetPassword_FullMethodName:           true,
	authv1.SignupService_SendVerificationEmail_FullMethodName: true,
	authv1.SignupService_Verify_FullMethodName:                true,
	authv1.SignupService_StartPayment_FullMethodName:          true,
	authv1.SignupService_PaymentStatus_FullMethodName:         true,
	authv1.SignupService_CompleteSignup_FullMethodName:        true,
}

// authorizeUnary adds the bearer token to every call but the public ones.
func (c *Conn) authorizeUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	if public[method] {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	token, err := c.AccessToken(ctx)
	if err != nil {
		return err
	}
	err = invoker(withBearer(ctx, token), method, req, reply, cc, opts...)
	if status.Code(err) != codes.Unauthenticated {
		return err
	}
	// The platform refused a token this session still thought good: keys
	// rotated, or the server was reset. A refused call ran nothing, so one
	// retry with a fresh token is safe; if the refresh fails too, the
	// session is really over and the first refusal stands.
	fresh, refreshErr := c.refreshRejected(ctx, token)
	if refreshErr != nil {
		return err
	}
	return invoker(withBearer(ctx, fresh), method, req, reply, cc, opts...)
}

func withBearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// authorizeStream adds the bearer token to every stream but the public ones.
// Streams get no timeout: watching and following logs last as long as the
// user wants.
func (c *Conn) authorizeStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, err := c.authorize(ctx, method)
	if err != nil {
		return nil, err
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// authorize returns ctx carrying the env's access token, refreshed first if
// it is about to expire.
func (c *Conn) authorize(ctx context.Context, method string) (context.Context, error) {
	if public[method] {
		return ctx, nil
	}
	token, err := c.AccessToken(ctx)
	if err != nil {
		return nil, err
	}
	return withBearer(ctx, token), nil
}

// Session returns the env's session with a current access token,
// refreshing it first if it is about to expire.
func (c *Conn) Session(ctx context.Context) (envfile.Session, error) {
	f, err := c.store.Load()
	if err != nil {
		return envfile.Session{}, err
	}
	s, ok := f.Session(c.env.Name)
	if !ok {
		return envfile.Session{}, ErrNotLoggedIn
	}
	if !s.NeedsRefresh(time.Now(), refreshMargin) {
		return s, nil
	}
	return c.refreshIf(ctx, func(s envfile.Session) bool {
		return s.NeedsRefresh(time.Now(), refreshMargin)
	})
}

// refreshRejected replaces an access token the platform refused, unless
// another micro command has replaced it already.
func (c *Conn) refreshRejected(ctx context.Context, rejected string) (string, error) {
	s, err := c.refreshIf(ctx, func(s envfile.Session) bool {
		return s.AccessToken == rejected
	})
	return s.AccessToken, err
}

// refreshIf exchanges the refresh token when stale says the saved session
// needs it, and returns the session it leaves. It works under the config
// file's lock and decides there: another micro command may have refreshed
// meanwhile, and spending the same refresh token twice would make the
// platform revoke the whole login.
func (c *Conn) refreshIf(ctx context.Context, stale func(envfile.Session) bool) (envfile.Session, error) {
	var out envfile.Session
	err := c.store.Update(func(f *envfile.File) error {
		s, ok := f.Session(c.env.Name)
		if !ok {
			return ErrNotLoggedIn
		}
		if stale(s) {
			resp, err := authv1.NewAuthServiceClient(c.cc).Token(ctx, &authv1.TokenRequest{RefreshToken: s.RefreshToken})
			if err != nil {
				return err
			}
			s = sessionFrom(s, resp)
			f.SetSession(c.env.Name, s)
		}
		out = s
		return nil
	})
	return out, err
}

// AccessToken returns a current access token of the env's session,
// refreshing it first if it is about to expire: the bearer of every call,
// and the argument of calls such as AuthService.Inspect.
func (c *Conn) AccessToken(ctx context.Context) (string, error) {
	s, err := c.Session(ctx)
	return s.AccessToken, err
}
