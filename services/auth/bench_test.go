package auth_test

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"m3o.dev/pkg/authkeys"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
)

// latencies records each operation's duration and reports the median.
type latencies []time.Duration

func (l *latencies) time(op func()) {
	start := time.Now()
	op()
	*l = append(*l, time.Since(start))
}

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds())/1e3, "p50-µs")
}

// BenchmarkToken logs in through the service with production argon2id
// cost, beside the bare argon2id computation that dominates it.
func BenchmarkToken(b *testing.B) {
	cfg := testConfig(b)
	cfg.Hash = auth.DefaultHash
	e := newEnv(b, cfg)
	c := e.dial(b, "micro", "proxy")
	req := &authv1.TokenRequest{Id: "admin", Secret: adminPassword}

	b.Run("service", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			l.time(func() {
				if _, err := c.auth.Token(b.Context(), req); err != nil {
					b.Fatalf("Token() = %v", err)
				}
			})
		}
		l.report(b)
	})
	b.Run("argon2id-direct", func(b *testing.B) {
		p, salt := auth.DefaultHash, make([]byte, 16)
		var l latencies
		for b.Loop() {
			l.time(func() { argon2.IDKey([]byte(adminPassword), salt, p.Time, p.MemoryKiB, p.Threads, 32) })
		}
		l.report(b)
	})
}

// BenchmarkInspect inspects an access token through the service, beside
// the local verification every other service does instead.
func BenchmarkInspect(b *testing.B) {
	e := newEnv(b, testConfig(b))
	c := e.dial(b, "micro", "proxy")
	admin := login(b, c, "", "admin", adminPassword)
	req := &authv1.InspectRequest{Token: admin.token.GetAccessToken()}

	b.Run("service", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			l.time(func() {
				if _, err := c.auth.Inspect(admin.ctx, req); err != nil {
					b.Fatalf("Inspect() = %v", err)
				}
			})
		}
		l.report(b)
	})
	b.Run("verify-local", func(b *testing.B) {
		keys := authkeys.New(c.auth, authkeys.Options{})
		if err := keys.Refresh(b.Context()); err != nil {
			b.Fatalf("Refresh() = %v", err)
		}
		v := keys.Verifier()
		var l latencies
		for b.Loop() {
			l.time(func() {
				if _, err := v.Verify(req.GetToken()); err != nil {
					b.Fatalf("Verify() = %v", err)
				}
			})
		}
		l.report(b)
	})
}
