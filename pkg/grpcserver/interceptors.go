package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/mtls"
)

// internalMessage is all a client learns about a panic; the detail goes to
// the log.
const internalMessage = "internal error"

// recoveryOption turns a panic into codes.Internal and logs it with its
// stack. Recovery sits inside logging and metrics, so the call is logged
// and counted as the Internal it became.
func (s *Server) recoveryOption() recovery.Option {
	return recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		s.logger.LogAttrs(ctx, slog.LevelError, "panic in handler",
			slog.String("method", method),
			peerAttr(ctx),
			slog.String("panic", fmt.Sprint(p)),
			slog.String("stack", string(debug.Stack())),
		)
		return status.Error(codes.Internal, internalMessage)
	})
}

// peerName names the caller by its verified mTLS identity, or by its
// address when it has none.
func peerName(ctx context.Context) string {
	if id, err := mtls.PeerIdentity(ctx); err == nil {
		return id.String()
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}

func peerAttr(ctx context.Context) slog.Attr { return slog.String("peer", peerName(ctx)) }

// deadlineUnary bounds a call whose caller set no deadline, so that a
// forgotten deadline cannot pin a handler and its resources forever.
func (s *Server) deadlineUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if _, ok := ctx.Deadline(); ok {
		return h(ctx, req)
	}
	ctx, cancel := context.WithTimeout(ctx, s.deadline)
	defer cancel()
	return h(ctx, req)
}
