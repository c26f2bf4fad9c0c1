package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testKeyring returns a keyring of one key whose bytes are all b.
func testKeyring(t *testing.T, kid string, b byte) *Keyring {
	t.Helper()
	ring, err := NewKeyring(kid, map[string][]byte{kid: bytes.Repeat([]byte{b}, KeySize)})
	if err != nil {
		t.Fatalf("NewKeyring(%q) = %v", kid, err)
	}
	return ring
}

func TestSealRoundTrip(t *testing.T) {
	s := sealer{ring: testKeyring(t, "k1", 1), namespace: "brave-otter"}
	for _, in := range []string{`"hunter2"`, `42`, `null`, `[1,{"a":"b"}]`, `{"user":"u","pass":{"v":"p"}}`} {
		t.Run(in, func(t *testing.T) {
			sealed, err := s.sealLeaves(parseValue(in))
			if err != nil {
				t.Fatalf("sealLeaves(%s) = %v", in, err)
			}
			if stored := text(t, sealed); strings.Contains(stored, "hunter2") || strings.Contains(stored, `"u"`) {
				t.Errorf("sealLeaves(%s) = %s, which shows the plaintext", in, stored)
			}
			opened, err := s.reveal(sealed)
			if got := text(t, opened); err != nil || got != text(t, parseValue(in)) {
				t.Errorf("reveal(sealLeaves(%s)) = %s, %v, want %s", in, got, err, in)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	s := sealer{ring: testKeyring(t, "k1", 1), namespace: "brave-otter"}
	a, _ := s.seal("same")
	b, _ := s.seal("same")
	if text(t, a) == text(t, b) {
		t.Errorf("seal(same) twice = %s both times, want different nonces", text(t, a))
	}
}

func TestOpenRefusesOtherNamespace(t *testing.T) {
	ring := testKeyring(t, "k1", 1)
	sealed, err := sealer{ring: ring, namespace: "tenant-a"}.seal("x")
	if err != nil {
		t.Fatalf("seal = %v", err)
	}
	if v, err := (sealer{ring: ring, namespace: "tenant-b"}).open(sealed); err == nil {
		t.Errorf("open in another namespace = %v, nil, want an error", v)
	}
}

// TestKeyRotation seals under one key, adds a new primary key and checks that
// old values still open, new values use the new key, and a ring without the
// old key cannot open what it sealed.
func TestKeyRotation(t *testing.T) {
	const ns = "brave-otter"
	old := testKeyring(t, "k1", 1)
	before, err := sealer{ring: old, namespace: ns}.seal("before")
	if err != nil {
		t.Fatalf("seal = %v", err)
	}
	rotated, err := old.With("k2", bytes.Repeat([]byte{2}, KeySize))
	if err != nil {
		t.Fatalf("With(k2) = %v", err)
	}
	if rotated.Primary() != "k2" {
		t.Fatalf("With(k2).Primary() = %q, want k2", rotated.Primary())
	}
	s := sealer{ring: rotated, namespace: ns}
	if v, err := s.open(before); err != nil || v != "before" {
		t.Errorf("open(old value) after rotation = %v, %v, want before", v, err)
	}
	after, _ := s.seal("after")
	if kid := after[secretKey].(map[string]any)["kid"]; kid != "k2" {
		t.Errorf("seal after rotation used key %v, want k2", kid)
	}
	onlyNew := sealer{ring: testKeyring(t, "k2", 2), namespace: ns}
	if v, err := onlyNew.open(after); err != nil || v != "after" {
		t.Errorf("open(new value) with only k2 = %v, %v, want after", v, err)
	}
	if _, err := onlyNew.open(before); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("open(old value) with only k2 = %v, want ErrUnknownKey", err)
	}
}

func TestParseKeyring(t *testing.T) {
	key1 := bytes.Repeat([]byte{1}, KeySize)
	tests := []struct {
		name    string
		in      string
		primary string
		ids     []string
	}{
		{"file format", `{"primary":"k2","keys":{"k1":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","k2":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="}}`, "k2", []string{"k1", "k2"}},
		{"bare key", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n", KeyID(key1), []string{KeyID(key1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring, err := ParseKeyring([]byte(tt.in))
			if err != nil || ring.Primary() != tt.primary || strings.Join(ring.KeyIDs(), ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ParseKeyring(%s) = %v, %v, want primary %s of %v", tt.name, ring, err, tt.primary, tt.ids)
			}
		})
	}
}

func TestParseKeyringInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"short key", `{"primary":"k1","keys":{"k1":"AQID"}}`},
		{"missing primary", `{"primary":"k9","keys":{"k1":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}}`},
		{"bad key id", `{"primary":"k 1","keys":{"k 1":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}}`},
		{"unknown field", `{"primary":"k1","keys":{},"extra":1}`},
		{"not base64", "not a key!"},
		{"bare key too short", "AQID"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ring, err := ParseKeyring([]byte(tt.in)); !errors.Is(err, ErrBadKeyring) {
				t.Errorf("ParseKeyring(%s) = %v, %v, want ErrBadKeyring", tt.name, ring, err)
			}
		})
	}
}

func TestKeyringFileRoundTrip(t *testing.T) {
	ring, err := GenerateKeyring()
	if err != nil {
		t.Fatalf("GenerateKeyring() = %v", err)
	}
	file := filepath.Join(t.TempDir(), "config.key")
	if err := ring.WriteFile(file); err != nil {
		t.Fatalf("WriteFile = %v", err)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("keyring file mode = %v, %v, want 0600", info.Mode().Perm(), err)
	}
	loaded, err := LoadKeyring(file)
	if err != nil {
		t.Fatalf("LoadKeyring = %v", err)
	}
	sealed, _ := sealer{ring: ring, namespace: "micro"}.seal("v")
	if v, err := (sealer{ring: loaded, namespace: "micro"}).open(sealed); err != nil || v != "v" {
		t.Errorf("open with the reloaded keyring = %v, %v, want v", v, err)
	}
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	ring := testKeyring(t, "k1", 'z')
	secret := strings.Repeat("z", KeySize)
	for _, s := range []string{ring.String(), ring.GoString(), ring.LogValue().String()} {
		if strings.Contains(s, secret) || !strings.Contains(s, "k1") {
			t.Errorf("keyring printed as %q, want its key id and not its key", s)
		}
	}
}
