package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/token"
)

// handle serves one call the gRPC server did not recognise, which is every
// call but the proxy's own health checks and reflection.
func (p *Proxy) handle(_ any, ss grpc.ServerStream) error {
	full, _ := grpc.MethodFromServerStream(ss)
	r, err := p.route(ss.Context(), full)
	if err != nil {
		return err
	}
	if r.unary {
		return p.answer(r.ctx, full, forwardUnary(r.ctx, r.conn, full, ss, r.user))
	}
	release, err := p.streams.acquire(r.caller)
	if err != nil {
		return p.refuse(ss.Context(), full, err)
	}
	defer release()
	return p.answer(r.ctx, full, forwardStream(r.ctx, r.conn, full, ss, r.user))
}

// authenticate returns the caller named by the bearer token, or an
// anonymous caller when there is none; the rules decide what an anonymous
// caller may reach.
func (p *Proxy) authenticate(ctx context.Context) (identity.Caller, error) {
	raw, ok := identity.BearerToken(ctx)
	if !ok {
		if hasAuthorization(ctx) {
			return identity.Caller{}, fmt.Errorf("authorization is not a bearer token: %w", ErrUnauthenticated)
		}
		return identity.Caller{}, nil
	}
	claims, err := p.verifier.Verify(raw)
	if errors.Is(err, token.ErrNotReady) {
		return identity.Caller{}, fmt.Errorf("%w: %w", errKeysNotReady, err)
	}
	if err != nil {
		return identity.Caller{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	return identity.Caller{Namespace: claims.Namespace, Subject: claims.Subject, Roles: claims.Roles}, nil
}

// authorize applies the rules. A caller without a token that the rules
// refuse is told to log in rather than that it may not: it never said who
// it is.
func (p *Proxy) authorize(ctx context.Context, caller identity.Caller, service, method string) error {
	err := p.authorizer.Authorize(ctx, caller, service, method)
	if err != nil && caller.Namespace == "" && errors.Is(err, ErrDenied) {
		return fmt.Errorf("%s/%s needs a token: %w", service, method, ErrUnauthenticated)
	}
	return err
}

func hasAuthorization(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get("authorization")) > 0
}

// forwardUnary makes one call with the caller's single request frame. A
// unary call is cheaper to forward as Invoke than as a stream. user is the
// user's service called, "" for a core API.
func forwardUnary(ctx context.Context, conn *grpc.ClientConn, full string, ss grpc.ServerStream, user string) error {
	var req, resp frame
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	var header, trailer metadata.MD
	err := conn.Invoke(ctx, full, &req, &resp,
		grpc.ForceCodec(rawCodec{}), grpc.Header(&header), grpc.Trailer(&trailer))
	if len(header) > 0 {
		_ = ss.SetHeader(header)
	}
	ss.SetTrailer(trailer)
	if err != nil {
		// The backend's status is the answer to the caller's own request,
		// so it goes back as it is.
		answeredBy(ss, user, err)
		return err
	}
	return ss.SendMsg(&resp)
}

var streamDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forwardStream pumps frames both ways until the backend ends the call.
func forwardStream(ctx context.Context, conn *grpc.ClientConn, full string, ss grpc.ServerStream, user string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := conn.NewStream(ctx, streamDesc, full, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	go func() {
		// A caller that breaks off mid-stream ends the backend call too.
		if err := pumpToBackend(ss, cs); err != nil {
			cancel()
		}
	}()

	if err := pumpToCaller(cs, ss, user); err != nil {
		return err
	}
	ss.SetTrailer(cs.Trailer())
	return nil
}

// pumpToBackend copies the caller's frames to the backend and half-closes
// when the caller is done sending.
func pumpToBackend(ss grpc.ServerStream, cs grpc.ClientStream) error {
	for {
		var f frame
		if err := ss.RecvMsg(&f); err != nil {
			if err == io.EOF {
				return cs.CloseSend()
			}
			return err
		}
		if err := cs.SendMsg(&f); err != nil {
			return err
		}
	}
}

// pumpToCaller copies the backend's header and frames to the caller and
// returns the backend's final status (nil on success).
func pumpToCaller(cs grpc.ClientStream, ss grpc.ServerStream, user string) error {
	header, err := cs.Header()
	if err != nil {
		answeredBy(ss, user, err)
		return err
	}
	if len(header) > 0 {
		if err := ss.SendHeader(header); err != nil {
			return err
		}
	}
	for {
		var f frame
		if err := cs.RecvMsg(&f); err != nil {
			if err == io.EOF {
				return nil
			}
			answeredBy(ss, user, err)
			return err
		}
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
	}
}

// answeredBy marks err, the status a backend ended a call with, as the
// answer of the user's service user, with platform.AnsweredByTrailer, so
// that the caller can tell the service's own refusal from the platform's.
// A core API's answer is the platform's, and a code the transport also
// produces may not be the service's: neither is marked.
func answeredBy(ss grpc.ServerStream, user string, err error) {
	if _, transport := publicMessages[status.Code(err)]; user == "" || transport {
		return
	}
	ss.SetTrailer(metadata.Pairs(platform.AnsweredByTrailer, user))
}
