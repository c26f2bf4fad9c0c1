package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
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

// loggingOptions log one line per finished call. The line holds only what
// identifies the call and its outcome: never a request, a metadata value or
// an error message, any of which may carry a secret.
func loggingOptions() []logging.Option {
	return []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(levelOf),
		logging.WithDurationField(func(d time.Duration) logging.Fields {
			return logging.Fields{"duration_ms", float64(d.Microseconds()) / 1000}
		}),
		logging.WithFieldsFromContext(func(ctx context.Context) logging.Fields {
			return logging.Fields{"peer", peerName(ctx)}
		}),
	}
}

// slogLogger adapts a slog.Logger to the logging middleware. A server that
// logs only warnings or worse skips nearly every call, so the level check
// comes first. The middleware always adds the error's message, which may
// carry what the caller sent; it is dropped here.
func slogLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		level := slog.Level(lvl)
		if !l.Enabled(ctx, level) {
			return
		}
		l.Log(ctx, level, msg, withoutError(fields)...)
	})
}

// withoutError drops the grpc.error pair from key-value fields.
func withoutError(fields []any) []any {
	out := fields[:0:0]
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] != errorField {
			out = append(out, fields[i], fields[i+1])
		}
	}
	return out
}

// errorField is the key the logging middleware puts an error message under.
const errorField = "grpc.error"

// levelOf logs at error level only what points at the server; a client's
// bad request is routine.
func levelOf(code codes.Code) logging.Level {
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return logging.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return logging.LevelWarn
	default:
		return logging.LevelInfo
	}
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
