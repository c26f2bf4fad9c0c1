package token_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"m3o.dev/pkg/token"
)

// forge signs arbitrary header fields and claims with any method and key,
// bypassing the checks of token.Signer, as an attacker would.
func forge(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString() = %v", err)
	}
	return raw
}

// validClaims are claims that the verifier accepts at epoch.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{"sub": "acc-1", "ns": "brave-otter-lamp", "iat": epoch.Unix(), "exp": epoch.Add(time.Hour).Unix()}
}

func with(kv ...any) jwt.MapClaims {
	c := validClaims()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func newKeyPair(t *testing.T) (*token.Signer, ed25519.PrivateKey) {
	t.Helper()
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	return token.NewSigner(kid, priv), priv
}

func segments(raw string) []string { return strings.Split(raw, ".") }

func TestVerifyTokens(t *testing.T) {
	s, sKey := newKeyPair(t)
	stranger, strangerKey := newKeyPair(t)
	v := token.NewVerifier(keySet(s), token.WithClock(func() time.Time { return epoch }))
	kid := map[string]any{"kid": s.KeyID()}
	ed := jwt.SigningMethodEdDSA
	good := forge(t, ed, sKey, kid, validClaims())
	admin := forge(t, ed, sKey, kid, with("ns", "micro", "roles", []string{"admin"}))
	bigHeader := map[string]any{"kid": s.KeyID(), "pad": strings.Repeat("a", token.MaxHeaderSize)}
	bigClaims := with("roles", []string{strings.Repeat("r", token.MaxTokenSize)})

	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"valid", good, true},
		{"nbf within skew", forge(t, ed, sKey, kid, with("nbf", epoch.Add(20*time.Second).Unix())), true},
		{"iat within skew", forge(t, ed, sKey, kid, with("iat", epoch.Add(20*time.Second).Unix())), true},
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims()), false},
		{"empty signature", segments(good)[0] + "." + segments(good)[1] + ".", false},
		{"HS256 keyed with the public key", forge(t, jwt.SigningMethodHS256, []byte(s.PublicKey()), kid, validClaims()), false},
		{"unknown kid", forge(t, ed, strangerKey, map[string]any{"kid": stranger.KeyID()}, validClaims()), false},
		{"no kid", forge(t, ed, sKey, nil, validClaims()), false},
		{"kid not a string", forge(t, ed, sKey, map[string]any{"kid": 7}, validClaims()), false},
		{"other key under known kid", forge(t, ed, strangerKey, kid, validClaims()), false},
		{"expired", forge(t, ed, sKey, kid, with("exp", epoch.Add(-time.Second).Unix())), false},
		{"expires now", forge(t, ed, sKey, kid, with("exp", epoch.Unix())), false},
		{"nbf in the future", forge(t, ed, sKey, kid, with("nbf", epoch.Add(time.Minute).Unix())), false},
		{"iat in the future", forge(t, ed, sKey, kid, with("iat", epoch.Add(time.Minute).Unix())), false},
		{"missing exp", forge(t, ed, sKey, kid, with("exp", nil)), false},
		{"exp not a number", forge(t, ed, sKey, kid, with("exp", "tomorrow")), false},
		{"payload swapped", segments(good)[0] + "." + segments(admin)[1] + "." + segments(good)[2], false},
		{"signature truncated", good[:len(good)-4], false},
		{"two segments", segments(good)[0] + "." + segments(good)[1], false},
		{"four segments", good + "." + segments(good)[2], false},
		{"bad base64", segments(good)[0] + ".*" + segments(good)[1][1:] + "." + segments(good)[2], false},
		{"padded base64", segments(good)[0] + "=." + segments(good)[1] + "." + segments(good)[2], false},
		{"header over 8 KiB", forge(t, ed, sKey, bigHeader, validClaims()), false},
		{"token over size limit", forge(t, ed, sKey, kid, bigClaims), false},
		{"empty", "", false},
		{"garbage", "not a token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.raw)
			if tt.ok && err != nil {
				t.Errorf("Verify(%.40q…) = %v, want nil", tt.raw, err)
			}
			if !tt.ok && !errors.Is(err, token.ErrInvalid) {
				t.Errorf("Verify(%.40q…) = %v, want ErrInvalid", tt.raw, err)
			}
		})
	}
}
