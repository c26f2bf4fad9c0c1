package token_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"m3o.dev/pkg/token"
)

func benchToken(b *testing.B) (*token.Signer, string) {
	s := newSigner(b)
	c := claimsAt(epoch)
	c.ID = token.NewID()
	return s, sign(b, s, c)
}

func BenchmarkSign(b *testing.B) {
	s, raw := benchToken(b)
	c := claimsAt(epoch)
	for b.Loop() {
		if _, err := s.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw)), "token_bytes")
}

func BenchmarkVerifyUncached(b *testing.B) {
	s, raw := benchToken(b)
	v := token.NewVerifier(keySet(s), token.WithClock(func() time.Time { return epoch }), token.WithCacheSize(0))
	benchVerify(b, v, raw)
}

func BenchmarkVerifyCached(b *testing.B) {
	s, raw := benchToken(b)
	v := token.NewVerifier(keySet(s), token.WithClock(func() time.Time { return epoch }))
	benchVerify(b, v, raw)
}

func benchVerify(b *testing.B, v *token.Verifier, raw string) {
	for b.Loop() {
		if _, err := v.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Baseline is the floor for an uncached Verify: the bare
// signature check, with no decoding at all.
func BenchmarkEd25519Baseline(b *testing.B) {
	s, raw := benchToken(b)
	i := strings.LastIndexByte(raw, '.')
	msg := []byte(raw[:i])
	sig := signature(b, raw)
	pub := s.PublicKey()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("signature does not verify")
		}
	}
}

func signature(b *testing.B, raw string) []byte {
	b.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(raw[strings.LastIndexByte(raw, '.')+1:])
	if err != nil {
		b.Fatalf("decode signature: %v", err)
	}
	return sig
}
