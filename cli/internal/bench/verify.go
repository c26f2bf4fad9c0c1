package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// Read-back retries: the proxy's rate limit and a platform that is still
// recovering must not turn the final check into a failed run.
const (
	retryAttempts = 50
	retryPause    = 200 * time.Millisecond
)

// retry runs call until it succeeds, fails for a reason waiting does not
// mend, or the attempts run out.
func retry(ctx context.Context, call func(context.Context) error) error {
	var err error
	for range retryAttempts {
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		err = call(cctx)
		cancel()
		delay, limited := retryDelay(err)
		switch code := status.Code(err); {
		case err == nil:
			return nil
		case limited:
		case code == codes.Unavailable || code == codes.DeadlineExceeded:
			delay = retryPause
		default:
			return err
		}
		sleep(ctx, delay)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return err
}

// verify reads every key and config path of the run back and compares
// them with the ledgers.
func (r *runner) verify(ctx context.Context) (Verdict, error) {
	keys, err := r.finalKeys(ctx)
	if err != nil {
		return Verdict{}, fmt.Errorf("read the run's keys back: %w", err)
	}
	paths, err := r.finalPaths(ctx)
	if err != nil {
		return Verdict{}, fmt.Errorf("read the run's config back: %w", err)
	}
	r.final = keys
	s, c := r.store.Verify(keys), r.config.Verify(paths)
	return Verdict{Checked: s.Checked + c.Checked, Lost: s.Lost + c.Lost, Resurrected: s.Resurrected + c.Resurrected}, nil
}

// finalKeys reads every record of the run, page by page.
func (r *runner) finalKeys(ctx context.Context) (map[string]State, error) {
	final := map[string]State{}
	req := &storev1.ReadRequest{Table: Table, Key: r.cfg.RunID + "/", Prefix: true, Limit: 1000}
	for {
		var resp *storev1.ReadResponse
		err := retry(ctx, func(ctx context.Context) (err error) {
			resp, err = r.t.Store.Read(ctx, req)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, rec := range resp.GetRecords() {
			final[rec.GetKey()] = Written(decodeSeq(rec.GetValue()))
		}
		if resp.GetNextPageToken() == "" {
			return final, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// finalPaths reads the run's config object, one value per client.
func (r *runner) finalPaths(ctx context.Context) (map[string]State, error) {
	root := configRoot(r.cfg.RunID)
	var resp *configv1.GetResponse
	err := retry(ctx, func(ctx context.Context) (err error) {
		resp, err = r.t.Config.Get(ctx, &configv1.GetRequest{Path: root})
		return err
	})
	final := map[string]State{}
	if status.Code(err) == codes.NotFound || (err == nil && resp.GetValue() == "") {
		return final, nil
	}
	if err != nil {
		return nil, err
	}
	var values map[string]json.Number
	if err := json.Unmarshal([]byte(resp.GetValue()), &values); err != nil {
		return nil, fmt.Errorf("config %s is not an object of numbers: %w", root, err)
	}
	for client, v := range values {
		final[root+"."+client] = Written(decodeSeq([]byte(v.String())))
	}
	return final, nil
}

// ErrCleanup means the run completed and its report stands, but some of
// what it wrote could not be deleted.
var ErrCleanup = errors.New("cleanup incomplete")

// cleanup deletes what the run wrote. Records it cannot delete expire by
// themselves (see ttl).
func (r *runner) cleanup(ctx context.Context) error {
	for key := range r.final {
		err := retry(ctx, func(ctx context.Context) error {
			_, err := r.t.Store.Delete(ctx, &storev1.DeleteRequest{Table: Table, Key: key})
			return err
		})
		if err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("%w: key %q: %w", ErrCleanup, key, err)
		}
	}
	err := retry(ctx, func(ctx context.Context) error {
		_, err := r.t.Config.Delete(ctx, &configv1.DeleteRequest{Path: configRoot(r.cfg.RunID)})
		return err
	})
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("%w: config %s: %w", ErrCleanup, configRoot(r.cfg.RunID), err)
	}
	return nil
}
