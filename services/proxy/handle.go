package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"m3o.dev/pkg/identity"
)

// handle serves one call the gRPC server did not recognise, which is every
// call but the proxy's own health checks.
func (p *Proxy) handle(_ any, ss grpc.ServerStream) error {
	full, _ := grpc.MethodFromServerStream(ss)
	ctx := ss.Context()
	service, method, ok := splitMethod(full)
	if !ok {
		return p.refuse(ctx, full, fmt.Errorf("malformed method %q: %w", full, ErrUnknownService))
	}
	caller, err := p.authenticate(ctx)
	if err != nil {
		return p.refuse(ctx, full, err)
	}
	if err := p.limiter.allow(rateKey(ctx, caller)); err != nil {
		return p.refuse(ctx, full, err)
	}
	if err := p.authorize(ctx, caller, service, method); err != nil {
		return p.refuse(ctx, full, err)
	}
	conn, err := p.backend(ctx, caller, service)
	if err != nil {
		return p.refuse(ctx, full, err)
	}
	out := metadata.NewOutgoingContext(ctx, forwardedMetadata(ctx))
	if p.methods.unary(service, method) {
		return p.answer(ctx, full, forwardUnary(out, conn, full, ss))
	}
	return p.answer(ctx, full, forwardStream(out, conn, full, ss))
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

// backend picks the connection that serves a service: a core service by
// its proto package, otherwise a user's service in the caller's namespace.
func (p *Proxy) backend(ctx context.Context, caller identity.Caller, service string) (*grpc.ClientConn, error) {
	if conn, ok := p.backends[protoPackage(service)]; ok {
		return conn, nil
	}
	if p.resolver == nil || caller.Namespace == "" || strings.HasPrefix(service, "m3o.") {
		return nil, fmt.Errorf("service %q: %w", service, ErrUnknownService)
	}
	return p.resolver.Resolve(ctx, caller.Namespace, service)
}

// forwardedMetadata is the caller's metadata minus what belongs to the hop
// itself; gRPC sets those again on the way out.
func forwardedMetadata(ctx context.Context) metadata.MD {
	in, _ := metadata.FromIncomingContext(ctx)
	out := make(metadata.MD, len(in)+1)
	for k, v := range in {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "user-agent" || k == "te" {
			continue
		}
		out[k] = v
	}
	if pr, ok := peer.FromContext(ctx); ok {
		out.Append("x-forwarded-for", pr.Addr.String())
	}
	return out
}

// forwardUnary makes one call with the caller's single request frame. A
// unary call is cheaper to forward as Invoke than as a stream.
func forwardUnary(ctx context.Context, conn *grpc.ClientConn, full string, ss grpc.ServerStream) error {
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
		return err
	}
	return ss.SendMsg(&resp)
}

var streamDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forwardStream pumps frames both ways until the backend ends the call.
func forwardStream(ctx context.Context, conn *grpc.ClientConn, full string, ss grpc.ServerStream) error {
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

	if err := pumpToCaller(cs, ss); err != nil {
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
func pumpToCaller(cs grpc.ClientStream, ss grpc.ServerStream) error {
	header, err := cs.Header()
	if err != nil {
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
			return err
		}
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
	}
}
