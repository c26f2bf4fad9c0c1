package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"m3o.dev/services/internal/storeclient"
)

// Tables of the runtime's system database.
const (
	tableServices = "services"
	tableSources  = "sources"
	tableChunks   = "chunks"
)

// record is a service as the runtime keeps it: what should run.
type record struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Version   string            `json:"version,omitempty"`
	Source    string            `json:"source"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Options   options           `json:"options"`
	// Generation counts the changes to the service, from 1.
	Generation uint64    `json:"generation"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	// Resolved is the stored source the generation builds from: Source
	// itself for an upload, the packed checkout of a git Source once it
	// was fetched, empty until then.
	Resolved string `json:"resolved,omitempty"`
	// AccountID and AccountSecret are the service account's credentials,
	// kept so that a restart, or an update whose rollout fails, leaves
	// running instances with a secret that still works. Only micro/runtime
	// may read this database.
	AccountID     string `json:"account_id,omitempty"`
	AccountSecret string `json:"account_secret,omitempty"`
	// Ran is the newest generation the backend was seen to run, nil until
	// one did. A backend that keeps nothing across a restart, as the local
	// one, is given it again before the newer generation, so that a
	// generation that did not take never leaves the service down.
	Ran *ranGeneration `json:"ran,omitempty"`
	// version is the store's version of the record, for compare-and-set.
	version uint64
}

// ranGeneration is what a generation that ran was deployed from.
type ranGeneration struct {
	Generation uint64  `json:"generation"`
	Version    string  `json:"version,omitempty"`
	Resolved   string  `json:"resolved"`
	Options    options `json:"options"`
}

// ref names the record's service.
func (r record) ref() Ref { return Ref{Namespace: r.Namespace, Name: r.Name} }

// ranBefore reports whether an older generation than the record's ran,
// which the record's own generation has not replaced yet.
func (r record) ranBefore() bool { return r.Ran != nil && r.Ran.Generation < r.Generation }

// asRan is the record as it was at the generation that last ran.
func (r record) asRan() record {
	r.Generation, r.Version, r.Resolved, r.Options = r.Ran.Generation, r.Ran.Version, r.Ran.Resolved, r.Ran.Options
	return r
}

// resolvedAt is the stored source generation gen builds from, when the
// record knows it: its own generation's or the one that last ran.
func (r record) resolvedAt(gen uint64) string {
	switch {
	case gen == r.Generation:
		return r.Resolved
	case r.Ran != nil && gen == r.Ran.Generation:
		return r.Ran.Resolved
	}
	return ""
}

// keptSources are the stored sources the record still builds from: its
// generation's and the one that last ran.
func (r record) keptSources() []string {
	keep := []string{r.Resolved}
	if r.Ran != nil {
		keep = append(keep, r.Ran.Resolved)
	}
	return keep
}

// serviceKey is a service's key in the services table.
func serviceKey(ref Ref) string { return ref.Namespace + "/" + ref.Name }

// records reads and writes the services table.
type records struct{ kv *storeclient.Client }

// get returns the service's record.
func (rs records) get(ctx context.Context, ref Ref) (record, error) {
	var r record
	v, err := rs.kv.GetJSON(ctx, tableServices, serviceKey(ref), &r)
	if errors.Is(err, storeclient.ErrNotFound) {
		return record{}, fmt.Errorf("no %s: %w", describe(ref), ErrNotFound)
	}
	if err != nil {
		return record{}, err
	}
	r.version = v
	return r, nil
}

// create writes a new record, failing with ErrAlreadyExists when the
// service exists.
func (rs records) create(ctx context.Context, r record) (record, error) {
	v, err := rs.kv.PutJSON(ctx, tableServices, serviceKey(r.ref()), r, storeclient.Create(0))
	if errors.Is(err, storeclient.ErrAlreadyExists) {
		return record{}, fmt.Errorf("%s already exists: %w", describe(r.ref()), ErrAlreadyExists)
	}
	r.version = v
	return r, err
}

// update reads the record afresh, applies change and writes it back with
// compare-and-set, retrying when another writer came first.
func (rs records) update(ctx context.Context, ref Ref, change func(*record) error) (record, error) {
	var out record
	err := storeclient.Update(ctx, func() error {
		r, err := rs.get(ctx, ref)
		if err != nil {
			return err
		}
		if err := change(&r); err != nil {
			return err
		}
		v, err := rs.kv.PutJSON(ctx, tableServices, serviceKey(ref), r, storeclient.At(r.version, 0))
		r.version, out = v, r
		return err
	})
	return out, err
}

// remove deletes the record.
func (rs records) remove(ctx context.Context, ref Ref) error {
	err := rs.kv.Delete(ctx, tableServices, serviceKey(ref), nil)
	if errors.Is(err, storeclient.ErrNotFound) {
		return fmt.Errorf("no %s: %w", describe(ref), ErrNotFound)
	}
	return err
}

// list returns the records of namespace, or of every namespace when ns is
// empty, sorted by key.
func (rs records) list(ctx context.Context, ns string) ([]record, error) {
	prefix := ""
	if ns != "" {
		prefix = ns + "/"
	}
	recs, err := rs.kv.ScanAll(ctx, tableServices, prefix)
	if errors.Is(err, storeclient.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]record, 0, len(recs))
	for _, kv := range recs {
		var r record
		if err := storeclient.DecodeJSON(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("services %q: %w", kv.Key, err)
		}
		r.version = kv.Version
		out = append(out, r)
	}
	return out, nil
}
