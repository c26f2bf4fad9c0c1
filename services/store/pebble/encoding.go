package pebble

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"m3o.dev/services/store"
)

// Key layout. Every Pebble key starts with one byte naming its kind:
//
//	'r' db table key              → record (see encodeRecord)
//	'x' expires db table key      → empty: the expiry index the sweep walks
//	'u' db                        → int64 bytes stored, kept by merging deltas
//
// db and table are components: escaped, then terminated by 0x00 0x01. Escaping
// turns each 0x00 into 0x00 0xFF, so a terminator can never occur inside a
// component, and because 0x01 sorts below 0xFF and every other byte, "a" ends
// before "a\x00" or "ab" begins: tenants and tables stay apart and each sorts
// as a byte string. The key comes last, escaped but unterminated, so that a
// key prefix is a byte prefix of the Pebble key. expires is the big-endian
// Unix time in nanoseconds, so the index sorts by expiry.
const (
	kindRecord = 'r'
	kindExpiry = 'x'
	kindUsage  = 'u'
)

// errCorrupt marks a stored key or value this package cannot decode.
var errCorrupt = errors.New("corrupt pebble entry")

// appendEscaped appends s with every 0x00 escaped as 0x00 0xFF.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, s[i])
		if s[i] == 0 {
			dst = append(dst, 0xFF)
		}
	}
	return dst
}

// appendComponent appends s escaped and terminated.
func appendComponent(dst []byte, s string) []byte {
	return append(appendEscaped(dst, s), 0x00, 0x01)
}

// unescape reverses appendEscaped over all of b.
func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, 0) < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		out = append(out, b[i])
		if b[i] == 0 {
			if i+1 == len(b) || b[i+1] != 0xFF {
				return "", fmt.Errorf("bad escape in %q: %w", b, errCorrupt)
			}
			i++
		}
	}
	return string(out), nil
}

// splitComponent decodes the component at the start of b and returns it with
// the bytes after its terminator.
func splitComponent(b []byte) (string, []byte, error) {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != 0 {
			continue
		}
		if b[i+1] == 0x01 {
			s, err := unescape(b[:i])
			return s, b[i+2:], err
		}
		i++ // skip the escaped 0x00 0xFF
	}
	return "", nil, fmt.Errorf("unterminated component in %q: %w", b, errCorrupt)
}

// tablePrefix is the prefix of every record key of t.
func tablePrefix(t store.Table) []byte {
	b := appendComponent([]byte{kindRecord}, t.Database)
	return appendComponent(b, t.Name)
}

// databasePrefix is the prefix of every record key of database.
func databasePrefix(database string) []byte {
	return appendComponent([]byte{kindRecord}, database)
}

// recordKey is the Pebble key of key in t.
func recordKey(t store.Table, key string) []byte {
	return appendEscaped(tablePrefix(t), key)
}

// expiryKey is the expiry index entry of the record stored under rk that
// expires at.
func expiryKey(rk []byte, at time.Time) []byte {
	b := binary.BigEndian.AppendUint64([]byte{kindExpiry}, uint64(at.UnixNano()))
	return append(b, rk[1:]...)
}

// expiryBound is the first expiry index key after every record expired at now.
func expiryBound(now time.Time) []byte {
	return binary.BigEndian.AppendUint64([]byte{kindExpiry}, uint64(now.UnixNano())+1)
}

// parseExpiryKey returns the record key and expiry an index entry names.
func parseExpiryKey(k []byte) ([]byte, time.Time, error) {
	if len(k) < 9 || k[0] != kindExpiry {
		return nil, time.Time{}, fmt.Errorf("expiry key %q: %w", k, errCorrupt)
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(k[1:9])))
	return append([]byte{kindRecord}, k[9:]...), at, nil
}

// usageKey is the key of database's byte counter.
func usageKey(database string) []byte {
	return appendComponent([]byte{kindUsage}, database)
}

// encodeRecord lays out a record value as
//
//	uvarint version | varint expires (Unix ns, 0 = never) | uvarint pairs |
//	pairs × (uvarint len, key, uvarint len, value) | value bytes
//
// The key is not repeated: it is in the Pebble key.
func encodeRecord(rec store.Record) []byte {
	b := make([]byte, 0, 24+len(rec.Value)+int(rec.Size()))
	b = binary.AppendUvarint(b, rec.Version)
	b = binary.AppendVarint(b, unixNano(rec.ExpiresAt))
	b = binary.AppendUvarint(b, uint64(len(rec.Metadata)))
	for k, v := range rec.Metadata {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return append(b, rec.Value...)
}

// decodeHeader returns the version and expiry of an encoded record and the
// bytes after them, without touching metadata or value.
func decodeHeader(b []byte) (uint64, time.Time, []byte, error) {
	version, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, time.Time{}, nil, fmt.Errorf("record version: %w", errCorrupt)
	}
	b = b[n:]
	ns, n := binary.Varint(b)
	if n <= 0 {
		return 0, time.Time{}, nil, fmt.Errorf("record expiry: %w", errCorrupt)
	}
	var at time.Time
	if ns != 0 {
		at = time.Unix(0, ns)
	}
	return version, at, b[n:], nil
}

// decodeRecord decodes an encoded record, copying everything out of b.
func decodeRecord(key string, b []byte) (store.Record, error) {
	version, at, b, err := decodeHeader(b)
	if err != nil {
		return store.Record{}, err
	}
	rec := store.Record{Key: key, Version: version, ExpiresAt: at}
	pairs, n := binary.Uvarint(b)
	if n <= 0 || pairs > uint64(len(b)) {
		return store.Record{}, fmt.Errorf("record metadata: %w", errCorrupt)
	}
	b = b[n:]
	if pairs > 0 {
		rec.Metadata = make(map[string]string, pairs)
	}
	for range pairs {
		var k, v string
		if k, b, err = readString(b); err != nil {
			return store.Record{}, err
		}
		if v, b, err = readString(b); err != nil {
			return store.Record{}, err
		}
		rec.Metadata[k] = v
	}
	rec.Value = bytes.Clone(b)
	return rec, nil
}

// readString reads one length-prefixed string.
func readString(b []byte) (string, []byte, error) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, fmt.Errorf("record string: %w", errCorrupt)
	}
	return string(b[n : n+int(l)]), b[n+int(l):], nil
}

// unixNano is t in Unix nanoseconds, with the zero time as 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// liveAt reports whether a record expiring at (zero meaning never) is
// visible at now.
func liveAt(at, now time.Time) bool {
	return at.IsZero() || at.After(now)
}
