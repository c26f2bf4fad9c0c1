package auth

import (
	"strings"
	"testing"
	"time"
)

// cheapHash keeps tests fast; production uses DefaultHash.
var cheapHash = HashParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestHasher(t *testing.T) {
	h, err := newHasher(cheapHash)
	if err != nil {
		t.Fatalf("newHasher() = %v", err)
	}
	enc, err := h.hash("correct horse")
	if err != nil {
		t.Fatalf("hash() = %v", err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(enc, "correct horse") {
		t.Fatalf("hash() = %q, want a PHC argon2id string without the secret", enc)
	}
	again, _ := h.hash("correct horse")
	if again == enc {
		t.Errorf("hash() twice = the same string, want fresh salts")
	}
	stronger, _ := newHasher(HashParams{Time: 2, MemoryKiB: 128, Threads: 1})
	tests := []struct {
		name    string
		h       *hasher
		encoded string
		secret  string
		want    bool
	}{
		{"right secret", h, enc, "correct horse", true},
		{"wrong secret", h, enc, "correct horsf", false},
		{"empty secret", h, enc, "", false},
		{"prefix of the secret", h, enc, "correct", false},
		{"old parameters still verify", stronger, enc, "correct horse", true},
		{"no hash uses the dummy", h, "", "correct horse", false},
		{"malformed hash", h, "$argon2id$v=19$m=64,t=1,p=1$%%%$abc", "correct horse", false},
		{"other algorithm", h, strings.Replace(enc, "argon2id", "argon2i", 1), "correct horse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.verify(tt.encoded, tt.secret); got != tt.want {
				t.Errorf("verify(%q, %q) = %v, want %v", tt.encoded, tt.secret, got, tt.want)
			}
		})
	}
}

func TestCheckNewSecret(t *testing.T) {
	tests := []struct {
		secret string
		ok     bool
	}{
		{"correct-horse-battery", true},
		{"x7#Lq2!vR9", true},
		{"short", false},
		{"password", false},
		{"PassWord123", false},
		{"Qwertyuiop", false},
		{"iloveyou", false},
		{"12345678", false},
		{"        ", false},
		{"\t\n \u00a0    ", false},
		{strings.Repeat("x", maxSecret+1), false},
	}
	for _, tt := range tests {
		if err := CheckNewSecret(tt.secret); (err == nil) != tt.ok {
			t.Errorf("CheckNewSecret(%q) = %v, want ok %v", tt.secret, err, tt.ok)
		}
	}
	if len(weakPasswords()) < 300 {
		t.Errorf("the list of common passwords holds %d, want a few hundred", len(weakPasswords()))
	}
	cfg := DefaultConfig()
	cfg.KeyEncryptionKey, cfg.AdminPassword = &KeyEncryptionKey{}, "letmein123"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "commonest") {
		t.Errorf("Validate(admin password letmein123) = %v, want it refused as common", err)
	}
}

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newFailureLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if !l.allowed("a") {
			t.Fatalf("allowed(a) after %d failures = false, want true", i)
		}
		l.fail("a")
	}
	if l.allowed("a") {
		t.Errorf("allowed(a) after 3 failures = true, want false")
	}
	if !l.allowed("b") {
		t.Errorf("allowed(b) = false, want true: failures of a must not limit b")
	}
	now = now.Add(time.Minute)
	if !l.allowed("a") {
		t.Errorf("allowed(a) a window later = false, want true")
	}
	l.fail("a")
	l.reset("a")
	l.fail("a")
	l.fail("a")
	if !l.allowed("a") {
		t.Errorf("allowed(a) after reset and 2 failures = false, want true")
	}
}

func TestRevokeTime(t *testing.T) {
	tests := []struct {
		in, want time.Time
	}{
		{time.Unix(10, 500_000_000), time.Unix(11, 0)},
		{time.Unix(10, 0), time.Unix(11, 0)},
		{time.Unix(10, 999_999_999), time.Unix(11, 0)},
	}
	for _, tt := range tests {
		if got := revokeTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("revokeTime(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
