package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/mtls"
)

// internalMessage is all a client learns about a panic; the detail goes to
// the log.
const internalMessage = "internal error"

// recoverUnary turns a panic below it into codes.Internal. Because it is
// outermost, the logging and metrics interceptors never see the call
// finish, so it logs and counts the call itself.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, s.panicked(ctx, info.FullMethod, r, start)
		}
	}()
	return h(ctx, req)
}

// recoverStream is the streaming counterpart of recoverUnary.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = s.panicked(ss.Context(), info.FullMethod, r, start)
		}
	}()
	return h(srv, ss)
}

// panicked logs a recovered panic with its stack and counts the call.
func (s *Server) panicked(ctx context.Context, method string, r any, start time.Time) error {
	d := time.Since(start)
	s.logger.LogAttrs(ctx, slog.LevelError, "panic in handler",
		slog.String("method", method),
		slog.String("code", codes.Internal.String()),
		durationAttr(d),
		peerAttr(ctx),
		slog.String("panic", fmt.Sprint(r)),
		slog.String("stack", string(debug.Stack())),
	)
	s.metrics.observe(method, codes.Internal, d)
	return status.Error(codes.Internal, internalMessage)
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	s.logCall(ctx, info.FullMethod, err, time.Since(start))
	return resp, err
}

func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	s.logCall(ss.Context(), info.FullMethod, err, time.Since(start))
	return err
}

// logCall writes the one line of a call. It holds only what identifies the
// call and its outcome: never a request, a metadata value or an error
// message, any of which may carry a secret.
func (s *Server) logCall(ctx context.Context, method string, err error, d time.Duration) {
	code := status.Code(err)
	level := levelOf(code)
	// A server that logs only warnings or worse skips nearly every call, so
	// the check comes before the attributes: naming the peer parses its
	// certificate.
	if !s.logger.Enabled(ctx, level) {
		return
	}
	s.logger.LogAttrs(ctx, level, "call",
		slog.String("method", method),
		slog.String("code", code.String()),
		durationAttr(d),
		peerAttr(ctx),
	)
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

func durationAttr(d time.Duration) slog.Attr {
	return slog.Float64("duration_ms", float64(d.Microseconds())/1000)
}

// peerAttr names the caller by its verified mTLS identity, or by its address
// when it has none.
func peerAttr(ctx context.Context) slog.Attr {
	if id, err := mtls.PeerIdentity(ctx); err == nil {
		return slog.String("peer", id.String())
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return slog.String("peer", p.Addr.String())
	}
	return slog.String("peer", "unknown")
}

func (s *Server) measureUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	s.metrics.observe(info.FullMethod, status.Code(err), time.Since(start))
	return resp, err
}

func (s *Server) measureStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	s.metrics.observe(info.FullMethod, status.Code(err), time.Since(start))
	return err
}

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
