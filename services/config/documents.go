package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	storev1 "m3o.dev/proto/m3o/store/v1"
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

// errRaced means another change committed first; the change is retried.
var errRaced = errors.New("document changed concurrently")

// documents keeps namespaces' documents and their history in the store
// service, as laid out in the package comment.
type documents struct {
	store Store
}

// current reads the latest version of ns's document; a namespace that never
// set anything has version 0 and an empty document.
func (d documents) current(ctx context.Context, ns string) (revision, error) {
	resp, err := d.store.Read(ctx, &storev1.ReadRequest{Database: Database, Table: documentsTable, Key: ns}, maxRecvBytes)
	if status.Code(err) == codes.NotFound {
		return revision{Data: map[string]any{}}, nil
	}
	if err != nil {
		return revision{}, storeError(ctx, "read document", err)
	}
	if len(resp.GetRecords()) != 1 {
		return revision{}, fmt.Errorf("read document: %d records for one key", len(resp.GetRecords()))
	}
	return decodeRecord(resp.GetRecords()[0])
}

// at reads version v of ns's document from its history.
func (d documents) at(ctx context.Context, ns string, v uint64) (revision, error) {
	resp, err := d.store.Read(ctx, &storev1.ReadRequest{Database: Database, Table: historyTable, Key: historyKey(ns, v)}, maxRecvBytes)
	if status.Code(err) == codes.NotFound {
		return revision{}, fmt.Errorf("version %d: %w", v, ErrNotFound)
	}
	if err != nil {
		return revision{}, storeError(ctx, "read history", err)
	}
	if len(resp.GetRecords()) != 1 {
		return revision{}, fmt.Errorf("read history: %d records for one key", len(resp.GetRecords()))
	}
	return decodeRecord(resp.GetRecords()[0])
}

// history calls yield with the versions of ns's document older than before,
// newest first, until yield returns false or no version is left.
func (d documents) history(ctx context.Context, ns string, before uint64, yield func(revision) bool) error {
	req := &storev1.ReadRequest{
		Database: Database, Table: historyTable, Key: ns + "/",
		Prefix: true, Order: storev1.Order_ORDER_DESC, Limit: historyPage,
	}
	for {
		resp, err := d.store.Read(ctx, req, maxRecvBytes)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return storeError(ctx, "read history", err)
		}
		for _, rec := range resp.GetRecords() {
			rev, err := decodeRecord(rec)
			if err != nil {
				return err
			}
			if rev.Version < before && !yield(rev) {
				return nil
			}
		}
		if resp.GetNextPageToken() == "" {
			return nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// commit writes next as the latest version of ns's document, provided the
// document record is still at store version prev; otherwise it returns
// errRaced. data is next.Data, encoded.
//
// The document record is the commit point. The history record follows it
// and the version that falls out of the kept window is deleted; failing
// either leaves a gap in history, never a lost change, so it is reported
// with errHistory for the caller to log rather than fail on.
func (d documents) commit(ctx context.Context, ns string, prev uint64, next revision, data []byte) error {
	meta, err := encodeMetadata(next)
	if err != nil {
		return err
	}
	_, err = d.store.Write(ctx, &storev1.WriteRequest{
		Database: Database, Table: documentsTable,
		Record:    &storev1.Record{Key: ns, Value: data, Metadata: meta},
		IfVersion: &prev,
	})
	if status.Code(err) == codes.Aborted {
		return errRaced
	}
	if err != nil {
		return storeError(ctx, "write document", err)
	}
	_, err = d.store.Write(ctx, &storev1.WriteRequest{
		Database: Database, Table: historyTable,
		Record: &storev1.Record{Key: historyKey(ns, next.Version), Value: data, Metadata: meta},
	})
	if err != nil {
		return fmt.Errorf("%w: write version %d: %w", errHistory, next.Version, storeError(ctx, "write history", err))
	}
	return d.prune(ctx, ns, next.Version)
}

// errHistory marks a committed change whose history could not be kept.
var errHistory = errors.New("history incomplete")

// prune deletes the version that version pushed out of the kept window.
func (d documents) prune(ctx context.Context, ns string, version uint64) error {
	if version <= HistoryLength {
		return nil
	}
	old := version - HistoryLength
	_, err := d.store.Delete(ctx, &storev1.DeleteRequest{Database: Database, Table: historyTable, Key: historyKey(ns, old)})
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("%w: prune version %d: %w", errHistory, old, storeError(ctx, "delete history", err))
	}
	return nil
}

// historyKey names the history record of version v; zero padding makes key
// order version order.
func historyKey(ns string, v uint64) string {
	return fmt.Sprintf("%s/%020d", ns, v)
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
func decodeRecord(rec *storev1.Record) (revision, error) {
	meta := rec.GetMetadata()
	version, err := strconv.ParseUint(meta[metaVersion], 10, 64)
	if err != nil {
		return revision{}, fmt.Errorf("record %q: version: %w", rec.GetKey(), err)
	}
	when, err := time.Parse(time.RFC3339Nano, meta[metaTime])
	if err != nil {
		return revision{}, fmt.Errorf("record %q: time: %w", rec.GetKey(), err)
	}
	var paths []string
	if err := json.Unmarshal([]byte(meta[metaPaths]), &paths); err != nil {
		return revision{}, fmt.Errorf("record %q: paths: %w", rec.GetKey(), err)
	}
	data, err := decodeDocument(rec.GetValue())
	if err != nil {
		return revision{}, fmt.Errorf("record %q: %w", rec.GetKey(), err)
	}
	return revision{
		Version: version, Author: meta[metaAuthor], Time: when,
		Action: meta[metaAction], Paths: paths, Data: data, record: rec.GetVersion(),
	}, nil
}

// storeError decides what a failed store call means to our caller: the
// caller's own cancellation, an unreachable store, or something unexpected.
// The store's status never passes through unchanged.
func storeError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return fmt.Errorf("%s: %s: %w", op, strings.ToLower(status.Convert(err).Message()), ErrUnavailable)
	}
	// The detail is for the log: status.go answers Internal for this.
	return fmt.Errorf("%s: store answered %s: %s", op, status.Code(err), status.Convert(err).Message())
}
