package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"
)

// A page token is the last key of a page, bound to the selection it came
// from:
//
//	base64url( 0x01 | 8-byte FNV-1a of the selection | last key )
//
// Clients must treat it as opaque. The fingerprint turns a token reused with
// another table, prefix, suffix or order into InvalidArgument rather than a
// silently wrong page. The key needs no protection: it only says where to
// resume within a table the caller may read anyway.
const cursorVersion = 1

// selection is what a page token is bound to.
type selection struct {
	rpc            string // "read" or "list": their pages differ
	table          Table
	prefix, suffix string
	desc           bool
}

// fingerprint hashes the selection. Every field is length-prefixed so that
// no two selections run together into the same bytes.
func (s selection) fingerprint() uint64 {
	h := fnv.New64a()
	for _, part := range []string{s.rpc, s.table.Database, s.table.Name, s.prefix, s.suffix} {
		h.Write(binary.AppendUvarint(nil, uint64(len(part))))
		h.Write([]byte(part))
	}
	if s.desc {
		h.Write([]byte{1})
	}
	return h.Sum64()
}

// encodeCursor returns the page token that resumes s after key.
func encodeCursor(s selection, key string) string {
	b := binary.BigEndian.AppendUint64([]byte{cursorVersion}, s.fingerprint())
	return base64.RawURLEncoding.EncodeToString(append(b, key...))
}

// decodeCursor returns the key a page token resumes after, checking that it
// was issued for s. An empty token means the first page.
func decodeCursor(s selection, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	switch {
	case err != nil || len(b) < 10 || b[0] != cursorVersion:
		return "", errors.New("is not a page token of this service")
	case binary.BigEndian.Uint64(b[1:9]) != s.fingerprint():
		return "", errors.New("was issued for another selection")
	}
	key := string(b[9:])
	if err := ValidateKey(key); err != nil {
		return "", errors.New("is not a page token of this service")
	}
	return key, nil
}
