package storeclient

import (
	"context"
	"iter"

	storev1 "m3o.dev/proto/m3o/store/v1"
)

// ScanOptions select the records of a Scan.
type ScanOptions struct {
	// Prefix keeps the keys that start with it; empty keeps every key.
	Prefix string
	// Limit is the page size; 0 lets the store choose.
	Limit uint32
	// PageToken continues a previous Scan.
	PageToken string
	// Descending returns the keys in reverse order.
	Descending bool
}

// Scan returns one page of the records o selects, in key order, and the
// token of the next page, empty after the last.
func (c *Client) Scan(ctx context.Context, table string, o ScanOptions) ([]Record, string, error) {
	req := &storev1.ReadRequest{
		Database: c.database, Table: table, Key: o.Prefix, Prefix: true,
		Limit: o.Limit, PageToken: o.PageToken,
	}
	if o.Descending {
		req.Order = storev1.Order_ORDER_DESC
	}
	resp, err := c.store.Read(ctx, req, c.callOpts...)
	if err != nil {
		return nil, "", mapError(ctx, "scan "+table, err)
	}
	out := make([]Record, 0, len(resp.GetRecords()))
	for _, r := range resp.GetRecords() {
		out = append(out, fromProto(r))
	}
	return out, resp.GetNextPageToken(), nil
}

// Records yields every record o selects, page by page, and stops at the
// first error, which it yields with a zero Record.
func (c *Client) Records(ctx context.Context, table string, o ScanOptions) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for {
			page, next, err := c.Scan(ctx, table, o)
			if err != nil {
				yield(Record{}, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			o.PageToken = next
		}
	}
}

// Keys returns one page of the keys o selects, in key order, without their
// records' values, and the token of the next page, empty after the last.
func (c *Client) Keys(ctx context.Context, table string, o ScanOptions) ([]string, string, error) {
	req := &storev1.ListRequest{
		Database: c.database, Table: table, Prefix: o.Prefix,
		Limit: o.Limit, PageToken: o.PageToken,
	}
	if o.Descending {
		req.Order = storev1.Order_ORDER_DESC
	}
	resp, err := c.store.List(ctx, req, c.callOpts...)
	if err != nil {
		return nil, "", mapError(ctx, "list "+table, err)
	}
	return resp.GetKeys(), resp.GetNextPageToken(), nil
}

// ScanAll returns every record whose key starts with prefix.
func (c *Client) ScanAll(ctx context.Context, table, prefix string) ([]Record, error) {
	var all []Record
	for r, err := range c.Records(ctx, table, ScanOptions{Prefix: prefix, Limit: 1000}) {
		if err != nil {
			return nil, err
		}
		all = append(all, r)
	}
	return all, nil
}
