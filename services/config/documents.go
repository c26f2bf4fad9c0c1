package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"m3o.dev/services/internal/storeclient"
)

// Tables of the _config database.
const (
	documentsTable = "documents"
	historyTable   = "history"
)

// Record metadata keys; the record's value is the document itself.
const (
	metaVersion = "version"
	metaAuthor  = "author"
	metaTime    = "time"
	metaAction  = "action"
	metaPaths   = "paths"
)

// historyPage is how many history records one store read returns. Each may
// be a whole document, so a page is kept small and the call allowed a
// message big enough for it.
const historyPage = 4

// maxRecvBytes lets a store response carry historyPage records of the
// largest size, with room for their metadata.
var maxRecvBytes = grpc.MaxCallRecvMsgSize(historyPage * (MaxDocumentBytes + 64<<10))

// documents keeps namespaces' documents and their history in the store
// service, as laid out in the package comment.
type documents struct {
	store *storeclient.Client
}

// newDocuments returns the documents kept through store, whose records may
// each be as large as a whole document.
func newDocuments(store Store) documents {
	return documents{store: storeclient.New(store, Database, maxRecvBytes)}
}

// current reads the latest version of ns's document; a namespace that never
// set anything has version 0 and an empty document.
func (d documents) current(ctx context.Context, ns string) (revision, error) {
	rec, err := d.store.Get(ctx, documentsTable, ns)
	if errors.Is(err, storeclient.ErrNotFound) {
		return revision{Data: map[string]any{}}, nil
	}
	if err != nil {
		return revision{}, fmt.Errorf("read document: %w", err)
	}
	return decodeRecord(rec)
}

// head is the latest version of a namespace's document as stored: what a
// round of changes builds on, which needs the document's bytes and not its
// decoded tree.
type head struct {
	version uint64 // 0 when nothing was ever set
	record  uint64 // the store's version of the record, for compare-and-set
	encoded []byte // the document, compact JSON
}

// head reads the latest version of ns's document without decoding it.
func (d documents) head(ctx context.Context, ns string) (head, error) {
	rec, err := d.store.Get(ctx, documentsTable, ns)
	if errors.Is(err, storeclient.ErrNotFound) {
		return head{encoded: []byte("{}")}, nil
	}
	if err != nil {
		return head{}, fmt.Errorf("read document: %w", err)
	}
	version, err := recordVersion(rec)
	if err != nil {
		return head{}, err
	}
	return head{version: version, record: rec.Version, encoded: rec.Value}, nil
}

// at reads version v of ns's document from its history.
func (d documents) at(ctx context.Context, ns string, v uint64) (revision, error) {
	rec, err := d.store.Get(ctx, historyTable, historyKey(ns, v))
	if errors.Is(err, storeclient.ErrNotFound) {
		return revision{}, notFoundf("version %d is not in the history", v)
	}
	if err != nil {
		return revision{}, fmt.Errorf("read history: %w", err)
	}
	return decodeRecord(rec)
}

// history calls yield with the versions of ns's document older than before,
// newest first, until yield returns false or no version is left.
func (d documents) history(ctx context.Context, ns string, before uint64, yield func(revision) bool) error {
	scan := storeclient.ScanOptions{Prefix: ns + "/", Descending: true, Limit: historyPage}
	for rec, err := range d.store.Records(ctx, historyTable, scan) {
		if err != nil {
			return fmt.Errorf("read history: %w", err)
		}
		rev, err := decodeRecord(rec)
		if err != nil {
			return err
		}
		if rev.Version < before && !yield(rev) {
			return nil
		}
	}
	return nil
}

// commit writes made, one round's versions in order, as the latest versions
// of ns's document, provided the document record is still at store version
// prev; otherwise it returns an error wrapping storeclient.ErrConflict.
//
// The document record, holding the last of them, is the commit point. The
// history records follow it, side by side, and so does the pruning of the
// versions that fell out of the kept window; failing any of them leaves a
// gap in history, never a lost change, so it is reported with errHistory
// for the caller to log rather than fail on.
func (d documents) commit(ctx context.Context, ns string, prev uint64, made []written) error {
	last := made[len(made)-1]
	doc, err := versionRecord(ns, last)
	if err != nil {
		return err
	}
	if _, err := d.store.Put(ctx, documentsTable, doc, storeclient.At(prev, 0)); err != nil {
		return fmt.Errorf("write document: %w", err)
	}
	var g errgroup.Group
	g.SetLimit(historyWriters)
	// A round's own versions are all inside the window it keeps, so the
	// prune never races the round's own history writes.
	g.Go(func() error { return d.prune(ctx, ns, last.rev.Version, len(made)) })
	for _, w := range made {
		g.Go(func() error { return d.keep(ctx, ns, w) })
	}
	return g.Wait()
}

// historyWriters bounds the store calls one round makes at once.
const historyWriters = 8

// keep writes w to ns's history.
func (d documents) keep(ctx context.Context, ns string, w written) error {
	hist, err := versionRecord(historyKey(ns, w.rev.Version), w)
	if err != nil {
		return fmt.Errorf("%w: %w", errHistory, err)
	}
	if _, err := d.store.Put(ctx, historyTable, hist, storeclient.WriteOptions{}); err != nil {
		return fmt.Errorf("%w: write version %d: %w", errHistory, w.rev.Version, err)
	}
	return nil
}

// versionRecord is the record under key holding version w.
func versionRecord(key string, w written) (storeclient.Record, error) {
	meta, err := encodeMetadata(w.rev)
	if err != nil {
		return storeclient.Record{}, err
	}
	return storeclient.Record{Key: key, Value: w.data, Metadata: meta}, nil
}

// errHistory marks a committed change whose history could not be kept.
var errHistory = errors.New("history incomplete")

// prune deletes ns's history records that the window ending at version
// latest no longer keeps, oldest first: the versions that a round of made
// changes pushed out, one for each, and a few more. The few more are records
// left behind: a replica's history write that landed after a later round had
// pruned its version, or a delete that failed. Each round clears some, so
// none stays.
func (d documents) prune(ctx context.Context, ns string, latest uint64, made int) error {
	if latest <= HistoryLength {
		return nil
	}
	keys, _, err := d.store.Keys(ctx, historyTable, storeclient.ScanOptions{Prefix: ns + "/", Limit: uint32(made + lateRecords)})
	if err != nil {
		return fmt.Errorf("%w: prune: %w", errHistory, err)
	}
	var g errgroup.Group
	g.SetLimit(historyWriters)
	for _, key := range keys {
		if v, ok := historyVersion(ns, key); !ok || v+HistoryLength > latest {
			break
		}
		g.Go(func() error {
			err := d.store.Delete(ctx, historyTable, key, nil)
			if err != nil && !errors.Is(err, storeclient.ErrNotFound) {
				return fmt.Errorf("%w: prune %s: %w", errHistory, key, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// lateRecords is how many history records below the window a round looks
// for beyond those it pushed out itself.
const lateRecords = 4

// historyKey names the history record of version v; zero padding makes key
// order version order.
func historyKey(ns string, v uint64) string {
	return fmt.Sprintf("%s/%020d", ns, v)
}

// historyVersion is the version that key, a history record's key of ns,
// names.
func historyVersion(ns, key string) (uint64, bool) {
	digits, ok := strings.CutPrefix(key, ns+"/")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	return v, err == nil
}

// encodeMetadata describes a version in record metadata.
func encodeMetadata(r revision) (map[string]string, error) {
	paths, err := json.Marshal(r.Paths)
	if err != nil {
		return nil, fmt.Errorf("encode paths: %w", err)
	}
	return map[string]string{
		metaVersion: strconv.FormatUint(r.Version, 10),
		metaAuthor:  r.Author,
		metaTime:    r.Time.UTC().Format(time.RFC3339Nano),
		metaAction:  r.Action,
		metaPaths:   string(paths),
	}, nil
}

// decodeRecord reads a version back from a document or history record.
func decodeRecord(rec storeclient.Record) (revision, error) {
	meta := rec.Metadata
	version, err := recordVersion(rec)
	if err != nil {
		return revision{}, err
	}
	when, err := time.Parse(time.RFC3339Nano, meta[metaTime])
	if err != nil {
		return revision{}, fmt.Errorf("record %q: time: %w", rec.Key, err)
	}
	var paths []string
	if err := json.Unmarshal([]byte(meta[metaPaths]), &paths); err != nil {
		return revision{}, fmt.Errorf("record %q: paths: %w", rec.Key, err)
	}
	data, err := decodeDocument(rec.Value)
	if err != nil {
		return revision{}, fmt.Errorf("record %q: %w", rec.Key, err)
	}
	return revision{
		Version: version, Author: meta[metaAuthor], Time: when,
		Action: meta[metaAction], Paths: paths, Data: data,
	}, nil
}

// recordVersion is the version of the document that rec holds.
func recordVersion(rec storeclient.Record) (uint64, error) {
	version, err := strconv.ParseUint(rec.Metadata[metaVersion], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("record %q: version: %w", rec.Key, err)
	}
	return version, nil
}
