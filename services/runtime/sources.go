package runtime

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"m3o.dev/services/internal/storeclient"
)

// ChunkBytes is the size of one stored piece of a source: the store's
// largest value.
const ChunkBytes = 1 << 20

// sourceMeta describes a stored source; its chunks follow it in the
// chunks table.
type sourceMeta struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Chunks   int       `json:"chunks"`
	SHA256   string    `json:"sha256"`
	Uploaded time.Time `json:"uploaded"`
}

// sources keeps uploaded sources in the store, chunked.
type sources struct {
	kv  *storeclient.Client
	now func() time.Time
}

func sourceKey(ns, id string) string       { return ns + "/" + id }
func chunkKey(ns, id string, i int) string { return fmt.Sprintf("%s/%s/%06d", ns, id, i) }

// newSourceID returns a fresh source id.
func newSourceID() string { return "src-" + strings.ToLower(rand.Text()) }

// save stores the size bytes of r as a new source of namespace ns for the
// service name, and returns its id. The chunks go first and the
// description last, so a source exists only once it is whole; a failure
// removes what was written.
func (ss sources) save(ctx context.Context, ns, name string, r io.Reader, size int64) (string, error) {
	id := newSourceID()
	sum := sha256.New()
	n, err := ss.saveChunks(ctx, ns, id, io.TeeReader(r, sum))
	if err == nil {
		meta := sourceMeta{ID: id, Name: name, Size: size, Chunks: n, SHA256: hex.EncodeToString(sum.Sum(nil)), Uploaded: ss.now().UTC()}
		_, err = ss.kv.PutJSON(ctx, tableSources, sourceKey(ns, id), meta, storeclient.Create(0))
	}
	if err != nil {
		ss.removeChunks(context.WithoutCancel(ctx), ns, id, n)
		return "", fmt.Errorf("store source: %w", err)
	}
	return id, nil
}

// saveChunks writes r in chunks and returns how many it wrote.
func (ss sources) saveChunks(ctx context.Context, ns, id string, r io.Reader) (int, error) {
	buf := make([]byte, ChunkBytes)
	for i := 0; ; i++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			rec := storeclient.Record{Key: chunkKey(ns, id, i), Value: buf[:n]}
			if _, perr := ss.kv.Put(ctx, tableChunks, rec, storeclient.WriteOptions{}); perr != nil {
				return i, perr
			}
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return i + min(n, 1), nil
		case err != nil:
			return i + min(n, 1), err
		}
	}
}

// meta returns a source's description.
func (ss sources) meta(ctx context.Context, ns, id string) (sourceMeta, error) {
	var m sourceMeta
	_, err := ss.kv.GetJSON(ctx, tableSources, sourceKey(ns, id), &m)
	if errors.Is(err, storeclient.ErrNotFound) {
		return m, fmt.Errorf("no source %q in namespace %q: %w", id, ns, ErrNotFound)
	}
	return m, err
}

// open returns a reader of a stored source, which fails at the end when
// what it read does not match the checksum stored with it.
func (ss sources) open(ctx context.Context, ns, id string) (io.Reader, error) {
	m, err := ss.meta(ctx, ns, id)
	if err != nil {
		return nil, err
	}
	return &chunkReader{ctx: ctx, ss: ss, ns: ns, meta: m, sum: sha256.New()}, nil
}

// chunkReader reads a source's chunks one after the other.
type chunkReader struct {
	ctx  context.Context
	ss   sources
	ns   string
	meta sourceMeta
	next int
	buf  []byte
	sum  hash.Hash
}

// Read implements io.Reader.
func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.next == c.meta.Chunks {
			return 0, c.verify()
		}
		rec, err := c.ss.kv.Get(c.ctx, tableChunks, chunkKey(c.ns, c.meta.ID, c.next))
		if err != nil {
			return 0, fmt.Errorf("source %s chunk %d: %w", c.meta.ID, c.next, err)
		}
		c.buf, c.next = rec.Value, c.next+1
		c.sum.Write(rec.Value)
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// verify checks the checksum once every chunk was read.
func (c *chunkReader) verify() error {
	if hex.EncodeToString(c.sum.Sum(nil)) != c.meta.SHA256 {
		return fmt.Errorf("source %s does not match its checksum", c.meta.ID)
	}
	return io.EOF
}

// list returns the sources of namespace ns, of every namespace when ns is
// empty, newest first.
func (ss sources) list(ctx context.Context, ns string) ([]sourceMeta, []string, error) {
	prefix := ""
	if ns != "" {
		prefix = ns + "/"
	}
	recs, err := ss.kv.ScanAll(ctx, tableSources, prefix)
	if err != nil && !errors.Is(err, storeclient.ErrNotFound) {
		return nil, nil, err
	}
	metas, namespaces := make([]sourceMeta, 0, len(recs)), make([]string, 0, len(recs))
	for _, r := range recs {
		var m sourceMeta
		if storeclient.DecodeJSON(r.Value, &m) == nil {
			metas, namespaces = append(metas, m), append(namespaces, strings.SplitN(r.Key, "/", 2)[0])
		}
	}
	return metas, namespaces, nil
}

// of returns the sources of the service name in ns, newest first.
func (ss sources) of(ctx context.Context, ns, name string) ([]sourceMeta, error) {
	metas, _, err := ss.list(ctx, ns)
	if err != nil {
		return nil, err
	}
	metas = slices.DeleteFunc(metas, func(m sourceMeta) bool { return m.Name != name })
	slices.SortFunc(metas, func(a, b sourceMeta) int { return b.Uploaded.Compare(a.Uploaded) })
	return metas, nil
}

// prune removes the sources of the service name in ns beyond the
// SourcesKept newest, never one that keep names.
func (ss sources) prune(ctx context.Context, ns, name string, keep ...string) error {
	metas, err := ss.of(ctx, ns, name)
	if err != nil {
		return err
	}
	for i, m := range metas {
		if i >= SourcesKept && !slices.Contains(keep, m.ID) {
			if err := ss.remove(ctx, ns, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeAll removes every source of the service name in ns.
func (ss sources) removeAll(ctx context.Context, ns, name string) error {
	metas, _, err := ss.list(ctx, ns)
	if err != nil {
		return err
	}
	for _, m := range metas {
		if m.Name == name {
			if err := ss.remove(ctx, ns, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove deletes a source: its description first, so that it is gone as a
// whole even if deleting a chunk fails.
func (ss sources) remove(ctx context.Context, ns string, m sourceMeta) error {
	if err := ss.kv.Delete(ctx, tableSources, sourceKey(ns, m.ID), nil); err != nil && !errors.Is(err, storeclient.ErrNotFound) {
		return err
	}
	ss.removeChunks(ctx, ns, m.ID, m.Chunks)
	return nil
}

// removeChunks deletes n chunks of a source, ignoring those already gone.
func (ss sources) removeChunks(ctx context.Context, ns, id string, n int) {
	for i := range n {
		ss.kv.Delete(ctx, tableChunks, chunkKey(ns, id, i), nil)
	}
}
