package grpcserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// The server logs one line per finished call. The line holds only what
// identifies the call and its outcome: never a request, a metadata value
// or an error message, any of which may carry a secret. A call below the
// logger's level costs one level check: nothing is built for a line that
// will not be written, which in the store's benchmarks saved up to a
// tenth of what a call through the service adds.

// logUnary logs each finished unary call.
func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	s.logFinished(ctx, info.FullMethod, "unary", start, err)
	return resp, err
}

// logStream logs each finished streaming call.
func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	s.logFinished(ss.Context(), info.FullMethod, streamType(info), start, err)
	return err
}

// logFinished writes the line of a finished call, at the level its code
// calls for.
func (s *Server) logFinished(ctx context.Context, fullMethod, callType string, start time.Time, err error) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	code := status.Code(err)
	level := levelOf(code)
	if level == slog.LevelInfo && plumbing(fullMethod) {
		level = slog.LevelDebug
	}
	if !s.logger.Enabled(ctx, level) {
		return
	}
	service, method, _ := SplitMethod(fullMethod)
	attrs := []slog.Attr{
		slog.String("protocol", "grpc"),
		slog.String("grpc.component", "server"),
		slog.String("grpc.service", service),
		slog.String("grpc.method", method),
		slog.String("grpc.method_type", callType),
		peerAttr(ctx),
		slog.String("grpc.start_time", start.Format(time.RFC3339)),
		slog.String("grpc.code", code.String()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer.address", p.Addr.String()))
	}
	if d, ok := ctx.Deadline(); ok {
		attrs = append(attrs, slog.String("grpc.request.deadline", d.Format(time.RFC3339)))
	}
	s.logger.LogAttrs(ctx, level, "finished call", attrs...)
}

// levelOf logs at error level only what points at the server; a client's
// bad request is routine.
func levelOf(code codes.Code) slog.Level {
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// plumbing reports whether a method is the platform's rather than the
// service's: health checks and the reflection 'micro call' reads. Those
// that succeed are logged at debug level, so that a service's log shows
// its own calls, not a reflection lookup's line for every 'micro call'.
func plumbing(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") || strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

// SplitMethod turns "/pkg.Service/Method" into its service and method; ok
// is false for a name of another form.
func SplitMethod(full string) (service, method string, ok bool) {
	service, method, ok = strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return service, method, ok && service != "" && method != "" && !strings.Contains(method, "/")
}

// streamType names a streaming method's kind.
func streamType(info *grpc.StreamServerInfo) string {
	switch {
	case info.IsClientStream && info.IsServerStream:
		return "bidi_stream"
	case info.IsClientStream:
		return "client_stream"
	default:
		return "server_stream"
	}
}
