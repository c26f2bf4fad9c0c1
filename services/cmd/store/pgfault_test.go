package main

import (
	"context"
	"testing"
	"time"

	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/faulttest"
	"m3o.dev/services/internal/pgtest"
)

// TestPostgresRestart restarts the database under the store service
// (a fast shutdown, then a start) while writers overwrite their keys.
// Nothing acknowledged may be lost, writes must succeed again once the
// database is back, and a failed write says Unavailable or
// DeadlineExceeded, never Internal. The time recovery took is reported,
// not asserted: the machine is shared.
func TestPostgresRestart(t *testing.T) {
	pg := pgtest.Start(t)
	ca := mtlstest.NewCA(t)
	args := append(corekittest.CertFlags(t, ca, "store"), "--address", "127.0.0.1:0", "--backend", "cockroach", "--dsn", pg.DSN())
	p := startStore(t, buildStore(t), args)
	client := dial(t, p.address, mtlstest.Bundle(t, ca, "micro", "config"))

	w := faulttest.Start(4, 25, func(ctx context.Context, key string, value []byte) error {
		_, err := client.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	})
	w.WaitForAcks(t, 200)
	pg.StopFast()
	pg.StartAgain()
	back := time.Now()
	w.WaitForAcks(t, w.Acks()+200)
	w.Stop()

	lost := w.Lost(t, func(ctx context.Context, key string) ([]byte, error) {
		resp, err := client.Read(ctx, &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	})
	t.Logf("PostgreSQL restart: %d writes acknowledged, %d lost; writes succeeded again %v after the database was back; codes seen: %v",
		w.Acks(), lost, w.FirstAckAfter(back).Sub(back).Round(time.Millisecond), w.Codes())
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost across the restart", lost)
	}
	w.CheckCodes(t, "the restart")
}
