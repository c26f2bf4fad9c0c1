package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/faulttest"
)

// TestSIGTERMUnderLoad stops `micro server` with SIGTERM while a tenant's
// writers overwrite their keys through the proxy, and starts it again on
// the same port and data: nothing acknowledged is lost, the writes go on,
// and a write that failed meanwhile says Unavailable or DeadlineExceeded.
func TestSIGTERMUnderLoad(t *testing.T) {
	s := newMicroServer(t)
	s.start()
	// The restart listens where the writers' connection dials.
	s.cfg.Address = s.grpcAddr
	conn := s.conn(t)
	admin := login(t, conn, "micro", "admin", adminPassword)
	ctx := tenant(t, conn, admin, "steady-writer", "dev")
	store := storev1.NewStoreServiceClient(conn)

	w := faulttest.Start(4, 25, func(callCtx context.Context, key string, value []byte) error {
		_, err := store.Write(withBearerOf(callCtx, ctx), &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	})
	w.WaitForAcks(t, 200)
	s.stop()
	s.start()
	back := time.Now()
	w.WaitForAcks(t, w.Acks()+200)
	w.Stop()

	lost := w.Lost(t, func(callCtx context.Context, key string) ([]byte, error) {
		resp, err := store.Read(withBearerOf(callCtx, ctx), &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	})
	t.Logf("micro server SIGTERM and start: %d writes acknowledged, %d lost; writes succeeded again %v after it was ready; codes seen: %v",
		w.Acks(), lost, w.FirstAckAfter(back).Sub(back).Round(time.Millisecond), w.Codes())
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost across the restart", lost)
	}
	w.CheckCodes(t, "the restart")
}

// withBearerOf returns ctx carrying the outgoing metadata, the token, of
// from.
func withBearerOf(ctx, from context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(from)
	return metadata.NewOutgoingContext(ctx, md)
}
