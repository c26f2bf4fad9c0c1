package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/rpcerr"
)

// responseBudget bounds the record bytes of one Read or List response, so
// that a page of large values neither swells the server's memory nor
// exceeds a client's default 4 MiB message limit. A page that reaches it
// ends early with a page token.
const responseBudget = 3 << 20

// Options configure a Service.
type Options struct {
	// QuotaBytes caps the bytes (keys, values and metadata of stored
	// records) of each tenant database; zero means no cap. The platform's
	// own system databases are not capped.
	QuotaBytes int64
	// Now is the clock that TTLs count from; nil means time.Now. It must be
	// the clock the backend decides expiry with.
	Now func() time.Time
}

// Service implements storev1.StoreServiceServer over a Backend.
type Service struct {
	storev1.UnimplementedStoreServiceServer

	backend Backend
	log     *slog.Logger
	opts    Options
}

// New returns a Service over backend that logs unexpected errors to logger
// (nil discards them).
func New(backend Backend, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{backend: backend, log: logger, opts: opts}
}

// Read implements storev1.StoreServiceServer. An exact read ignores the
// paging fields; a prefix or suffix read pages.
func (s *Service) Read(ctx context.Context, req *storev1.ReadRequest) (*storev1.ReadResponse, error) {
	sel, q, err := readQuery(ctx, req)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	if !req.GetPrefix() && !req.GetSuffix() {
		rec, err := s.backend.Get(ctx, sel.table, req.GetKey())
		if err != nil {
			return nil, s.status(ctx, missing(err, sel.table, req.GetKey()))
		}
		return &storev1.ReadResponse{Records: []*storev1.Record{recordToProto(rec)}}, nil
	}
	page, err := s.backend.Scan(ctx, sel.table, q)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &storev1.ReadResponse{Records: recordsToProto(page.Records), NextPageToken: nextToken(sel, page)}, nil
}

// Write implements storev1.StoreServiceServer.
func (s *Service) Write(ctx context.Context, req *storev1.WriteRequest) (*storev1.WriteResponse, error) {
	t, rec, err := writeRecord(ctx, req, s.opts.Now())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	opts := PutOptions{IfVersion: req.IfVersion, QuotaBytes: s.quota(t.Database)}
	version, err := s.backend.Put(ctx, t, rec, opts)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &storev1.WriteResponse{Version: version}, nil
}

// Delete implements storev1.StoreServiceServer.
func (s *Service) Delete(ctx context.Context, req *storev1.DeleteRequest) (*storev1.DeleteResponse, error) {
	var ck checker
	t, err := open(ctx, &ck, req.GetDatabase(), req.GetTable())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	ck.checkKey("key", req.GetKey(), false)
	if err := ck.Err(); err != nil {
		return nil, s.status(ctx, err)
	}
	if err := s.backend.Delete(ctx, t, req.GetKey(), req.IfVersion); err != nil {
		return nil, s.status(ctx, missing(err, t, req.GetKey()))
	}
	return &storev1.DeleteResponse{}, nil
}

// missing tells a backend's ErrNotFound as the sentence the caller reads:
// the backend's words name its steps, not what is missing.
func missing(err error, t Table, key string) error {
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("no record under key %q in table %q of database %q: %w", key, t.Name, t.Database, ErrNotFound)
}

// List implements storev1.StoreServiceServer.
func (s *Service) List(ctx context.Context, req *storev1.ListRequest) (*storev1.ListResponse, error) {
	sel, q, err := listQuery(ctx, req)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	page, err := s.backend.Scan(ctx, sel.table, q)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	keys := make([]string, len(page.Records))
	for i, r := range page.Records {
		keys[i] = r.Key
	}
	return &storev1.ListResponse{Keys: keys, NextPageToken: nextToken(sel, page)}, nil
}

// Databases implements storev1.StoreServiceServer. It answers with the
// databases holding records that the caller may open, and no others.
func (s *Service) Databases(ctx context.Context, _ *storev1.DatabasesRequest) (*storev1.DatabasesResponse, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	names, err := s.backend.Databases(ctx, candidates(c))
	if err != nil {
		return nil, s.status(ctx, err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !mayOpen(c, n) })
	return &storev1.DatabasesResponse{Databases: names}, nil
}

// Tables implements storev1.StoreServiceServer.
func (s *Service) Tables(ctx context.Context, req *storev1.TablesRequest) (*storev1.TablesResponse, error) {
	var ck checker
	t, err := open(ctx, &ck, req.GetDatabase(), "")
	if err == nil {
		err = ck.Err()
	}
	if err != nil {
		return nil, s.status(ctx, err)
	}
	names, err := s.backend.Tables(ctx, t.Database)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &storev1.TablesResponse{Tables: names}, nil
}

// quota is the byte cap of database.
func (s *Service) quota(database string) int64 {
	if isSystem(database) {
		return 0
	}
	return s.opts.QuotaBytes
}

// nextToken returns the page token that continues after page, or "" when
// page is the last.
func nextToken(sel selection, page Page) string {
	if !page.More || len(page.Records) == 0 {
		return ""
	}
	return encodeCursor(sel, page.Records[len(page.Records)-1].Key)
}
