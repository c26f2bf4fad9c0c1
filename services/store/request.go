package store

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	storev1 "m3o.dev/proto/m3o/store/v1"
)

// This file turns requests into backend calls and records into responses.
// Each request function checks everything about its request and returns
// either the caller's identity or access error, or an *invalid.Error listing
// every bad field.

// readQuery checks a Read and returns its selection and query.
func readQuery(ctx context.Context, req *storev1.ReadRequest) (selection, Query, error) {
	var ck checker
	t, err := open(ctx, &ck, req.GetDatabase(), req.GetTable())
	if err != nil {
		return selection{}, Query{}, err
	}
	prefix, suffix := req.GetPrefix(), req.GetSuffix()
	ck.checkKey("key", req.GetKey(), prefix || suffix)
	if prefix && suffix {
		ck.Addf("suffix", "cannot be set together with prefix; List takes both")
	}
	sel := selection{rpc: "read", table: t, desc: ck.checkOrder(req.GetOrder())}
	switch {
	case prefix:
		sel.prefix = req.GetKey()
	case suffix:
		sel.suffix = req.GetKey()
	}
	if req.GetOffset() > 0 && req.GetPageToken() != "" {
		ck.Addf("offset", "cannot be combined with page_token")
	}
	q := Query{
		Prefix: sel.prefix, Suffix: sel.suffix, Desc: sel.desc,
		Offset:   int(req.GetOffset()),
		Limit:    ck.checkLimit("limit", req.GetLimit(), DefaultReadLimit, MaxReadLimit),
		After:    ck.checkCursor(sel, req.GetPageToken()),
		MaxBytes: responseBudget,
	}
	return sel, q, ck.Err()
}

// listQuery checks a List and returns its selection and query.
func listQuery(ctx context.Context, req *storev1.ListRequest) (selection, Query, error) {
	var ck checker
	t, err := open(ctx, &ck, req.GetDatabase(), req.GetTable())
	if err != nil {
		return selection{}, Query{}, err
	}
	ck.checkKey("prefix", req.GetPrefix(), true)
	ck.checkKey("suffix", req.GetSuffix(), true)
	sel := selection{rpc: "list", table: t, prefix: req.GetPrefix(), suffix: req.GetSuffix(), desc: ck.checkOrder(req.GetOrder())}
	q := Query{
		Prefix: sel.prefix, Suffix: sel.suffix, Desc: sel.desc, KeysOnly: true,
		Limit:    ck.checkLimit("limit", req.GetLimit(), DefaultListLimit, MaxListLimit),
		After:    ck.checkCursor(sel, req.GetPageToken()),
		MaxBytes: responseBudget,
	}
	return sel, q, ck.Err()
}

// writeRecord checks a Write and returns its table and the record to put,
// with the expiry the request asks for counted from now.
func writeRecord(ctx context.Context, req *storev1.WriteRequest, now time.Time) (Table, Record, error) {
	var ck checker
	t, err := open(ctx, &ck, req.GetDatabase(), req.GetTable())
	if err != nil {
		return Table{}, Record{}, err
	}
	ck.checkRecord(req.GetRecord())
	expires := ck.checkExpiry(req.GetTtl(), req.GetExpiresAt(), now)
	if err := ck.Err(); err != nil {
		return Table{}, Record{}, err
	}
	in := req.GetRecord()
	return t, Record{Key: in.GetKey(), Value: in.GetValue(), Metadata: in.GetMetadata(), ExpiresAt: expires}, nil
}

// checkCursor decodes the page token in field page_token.
func (c *checker) checkCursor(sel selection, token string) string {
	key, err := decodeCursor(sel, token)
	if err != nil {
		c.Addf("page_token", "%v", err)
	}
	return key
}

// recordToProto converts a record for a response.
func recordToProto(r Record) *storev1.Record {
	out := &storev1.Record{Key: r.Key, Value: r.Value, Metadata: r.Metadata, Version: r.Version}
	if !r.ExpiresAt.IsZero() {
		out.ExpiresAt = timestamppb.New(r.ExpiresAt)
	}
	return out
}

// recordsToProto converts the records of a page.
func recordsToProto(recs []Record) []*storev1.Record {
	out := make([]*storev1.Record, len(recs))
	for i, r := range recs {
		out[i] = recordToProto(r)
	}
	return out
}
