package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
)

// A document is held in memory as the tree encoding/json decodes into, with
// numbers kept as json.Number so that no integer is rounded through float64.
// A sealed secret is an object with the single key "$secret"; object(v)
// refuses to see it as an object, so paths never lead into it.

// parseValue decodes the value of a Set. Text that is not one valid JSON
// value is taken as a string, as the API promises.
func parseValue(raw string) any {
	v, err := decodeJSON([]byte(raw))
	if err != nil {
		return raw
	}
	return v
}

// decodeJSON decodes exactly one JSON value, keeping numbers exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode JSON: trailing data after the value")
	}
	return v, nil
}

// decodeDocument decodes a stored document, which is always an object.
func decodeDocument(data []byte) (map[string]any, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode document: a %T, not an object", v)
	}
	return doc, nil
}

// encodeJSON encodes a value compactly, with object keys sorted so that equal
// documents encode equally, and without escaping <, > and & for HTML.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// object returns v as an object, unless it is not one or is a sealed secret.
func object(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok || isSealed(m) {
		return nil, false
	}
	return m, true
}

// isSealed reports whether m stands for a sealed secret.
func isSealed(m map[string]any) bool {
	_, ok := m[secretKey]
	return ok && len(m) == 1
}

// hasReservedKey reports whether any object within v uses the key "$secret",
// which would make it indistinguishable from a sealed secret.
func hasReservedKey(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v[secretKey]; ok {
			return true
		}
		return slices.ContainsFunc(slices.Collect(maps.Values(v)), hasReservedKey)
	case []any:
		return slices.ContainsFunc(v, hasReservedKey)
	}
	return false
}

// lookup returns the value at p, or false when there is none.
func lookup(doc map[string]any, p Path) (any, bool) {
	var v any = doc
	for _, seg := range p {
		obj, ok := object(v)
		if !ok {
			return nil, false
		}
		if v, ok = obj[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

// put writes v at p in doc: an object merges into an object already there,
// anything else replaces what is there. Missing objects along the way are
// created, and a value along the way that is not an object is replaced by
// one. p must not be empty unless v is an object.
func put(doc map[string]any, p Path, v any) {
	if len(p) == 0 {
		merge(doc, v.(map[string]any))
		return
	}
	parent := doc
	for _, seg := range p[:len(p)-1] {
		child, ok := object(parent[seg])
		if !ok {
			child = map[string]any{}
			parent[seg] = child
		}
		parent = child
	}
	last := p[len(p)-1]
	src, srcObj := object(v)
	dst, dstObj := object(parent[last])
	if srcObj && dstObj {
		merge(dst, src)
		return
	}
	parent[last] = v
}

// merge copies src into dst, recursing where both sides hold an object.
func merge(dst, src map[string]any) {
	for k, sv := range src {
		so, sok := object(sv)
		do, dok := object(dst[k])
		if sok && dok {
			merge(do, so)
			continue
		}
		dst[k] = sv
	}
}

// remove deletes the value at p and reports whether there was one. Removing
// the empty path empties the document.
func remove(doc map[string]any, p Path) bool {
	if len(p) == 0 {
		clear(doc)
		return true
	}
	v, ok := lookup(doc, p[:len(p)-1])
	if !ok {
		return false
	}
	parent, ok := object(v)
	if !ok {
		return false
	}
	if _, ok := parent[p[len(p)-1]]; !ok {
		return false
	}
	delete(parent, p[len(p)-1])
	return true
}

// diff returns the outermost paths, under at, where a and b differ: a key on
// one side only, or values that differ and are not both objects. Sealed
// secrets compare by their sealed form.
func diff(a, b any, at Path) []Path {
	ao, aok := object(a)
	bo, bok := object(b)
	if !aok || !bok {
		if reflect.DeepEqual(a, b) {
			return nil
		}
		return []Path{slices.Clone(at)}
	}
	keys := slices.Sorted(maps.Keys(ao))
	for k := range bo {
		if _, ok := ao[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []Path
	for _, k := range keys {
		av, aok := ao[k]
		bv, bok := bo[k]
		if aok != bok {
			out = append(out, append(slices.Clone(at), k))
			continue
		}
		out = append(out, diff(av, bv, append(slices.Clone(at), k))...)
	}
	return out
}

// transformSealed returns a copy of v in which every sealed secret is
// replaced by what f returns for it. The copy shares nothing mutable with v.
func transformSealed(v any, f func(sealed map[string]any) (any, error)) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if isSealed(v) {
			return f(v)
		}
		out := make(map[string]any, len(v))
		for k, child := range v {
			c, err := transformSealed(child, f)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, child := range v {
			c, err := transformSealed(child, f)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}

// mask returns a copy of v with every secret shown as Masked.
func mask(v any) any {
	out, _ := transformSealed(v, func(map[string]any) (any, error) { return Masked, nil })
	return out
}
