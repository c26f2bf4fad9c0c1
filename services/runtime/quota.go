package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"m3o.dev/services/internal/storeclient"
)

// tableQuotas holds the namespaces' own quotas, key <ns>; a namespace
// without one has the platform's default.
const tableQuotas = "quotas"

// quotaRecord is a namespace's own quota; a zero field takes the
// platform's default.
type quotaRecord struct {
	Quota   Quota     `json:"quota"`
	Updated time.Time `json:"updated"`
}

// Usage is what a namespace's services take of its quota, in steady
// state.
type Usage struct {
	// CPUMillis and MemoryMiB sum each service's instances times its
	// resources.
	CPUMillis, MemoryMiB uint64
	// Services and Instances count the services and the instances they
	// ask for.
	Services, Instances int
}

// add counts one service running with o.
func (u *Usage) add(o options) {
	u.Services++
	u.Instances += o.Instances
	u.CPUMillis += uint64(o.Instances) * uint64(o.Resources.CPUMillis)
	u.MemoryMiB += uint64(o.Instances) * uint64(o.Resources.MemoryMiB)
}

// QuotaError is a change refused for the quota: it names the namespace
// and each limit it would go over. It matches ErrQuota.
type QuotaError struct {
	// Namespace is the namespace whose quota it is.
	Namespace string
	// Over says, one sentence each, what would be over and by how much.
	Over []string
}

// Error implements error.
func (e *QuotaError) Error() string {
	return fmt.Sprintf("namespace %q is out of quota: %s; an admin of micro may raise it with `micro admin quota set`", e.Namespace, strings.Join(e.Over, "; "))
}

// Is makes a *QuotaError match ErrQuota.
func (e *QuotaError) Is(target error) bool { return target == ErrQuota }

// quotas reads and writes the namespaces' quotas.
type quotas struct {
	kv  *storeclient.Client
	def Quota
}

// get returns the namespace's quota with the defaults filled in, and
// whether it is the platform's default only: no record, or one whose
// every field follows the default, as auth records for a new namespace.
func (q quotas) get(ctx context.Context, ns string) (Quota, bool, error) {
	var rec quotaRecord
	_, err := q.kv.GetJSON(ctx, tableQuotas, ns, &rec)
	if errors.Is(err, storeclient.ErrNotFound) {
		return q.def, true, nil
	}
	if err != nil {
		return Quota{}, false, err
	}
	return q.fill(rec.Quota), rec.Quota == Quota{}, nil
}

// fill replaces the zero fields of quota by the platform's default.
func (q quotas) fill(quota Quota) Quota {
	if quota.CPUMillis == 0 {
		quota.CPUMillis = q.def.CPUMillis
	}
	if quota.MemoryMiB == 0 {
		quota.MemoryMiB = q.def.MemoryMiB
	}
	if quota.Services == 0 {
		quota.Services = q.def.Services
	}
	return quota
}

// set records the namespace's own quota, zero fields meaning the default.
func (q quotas) set(ctx context.Context, ns string, quota Quota, now time.Time) error {
	_, err := q.kv.PutJSON(ctx, tableQuotas, ns, quotaRecord{Quota: quota, Updated: now}, storeclient.WriteOptions{})
	return err
}

// setDefault records the platform's default as the namespace's quota
// unless it has one, and returns the quota in force.
func (q quotas) setDefault(ctx context.Context, ns string, now time.Time) (Quota, error) {
	_, err := q.kv.PutJSON(ctx, tableQuotas, ns, quotaRecord{Updated: now}, storeclient.Create(0))
	if err != nil && !errors.Is(err, storeclient.ErrAlreadyExists) {
		return Quota{}, err
	}
	quota, _, err := q.get(ctx, ns)
	return quota, err
}

// all returns every namespace's own quota, defaults filled in.
func (q quotas) all(ctx context.Context) (map[string]Quota, error) {
	kvs, err := q.kv.ScanAll(ctx, tableQuotas, "")
	if errors.Is(err, storeclient.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]Quota, len(kvs))
	for _, kv := range kvs {
		var rec quotaRecord
		if err := storeclient.DecodeJSON(kv.Value, &rec); err != nil {
			return nil, fmt.Errorf("quotas %q: %w", kv.Key, err)
		}
		out[kv.Key] = q.fill(rec.Quota)
	}
	return out, nil
}

// usage sums what recs take, leaving out the service skip names.
func usage(recs []record, skip string) Usage {
	var u Usage
	for _, r := range recs {
		if r.Name != skip {
			u.add(r.Options)
		}
	}
	return u
}

// plan is a namespace's quota and what it uses before and after a
// change.
type plan struct {
	quota         Quota
	before, after Usage
}

// planFor returns ns's quota and its usage now and once the service name
// runs with o; nil o changes nothing.
func (s *Service) planFor(ctx context.Context, ns, name string, o *options) (plan, error) {
	quota, _, err := s.quotas.get(ctx, ns)
	if err != nil {
		return plan{}, err
	}
	recs, err := s.records.list(ctx, ns)
	if err != nil {
		return plan{}, err
	}
	p := plan{quota: quota, before: usage(recs, ""), after: usage(recs, "")}
	if o != nil {
		p.after = usage(recs, name)
		p.after.add(*o)
	}
	return p, nil
}

// check refuses the plan when its usage after the change is over the
// quota in anything that grew: a namespace over a quota lowered since may
// still shrink, and change what does not grow.
func (p plan) check(ns string) error {
	var over []string
	if p.after.Services > int(p.quota.Services) && p.after.Services > p.before.Services {
		over = append(over, fmt.Sprintf("it would have %d services, over its quota of %s", p.after.Services, plural(int(p.quota.Services), "service")))
	}
	if p.after.CPUMillis > uint64(p.quota.CPUMillis) && p.after.CPUMillis > p.before.CPUMillis {
		over = append(over, fmt.Sprintf("its instances would take %d millicores of CPU, over its quota of %d", p.after.CPUMillis, p.quota.CPUMillis))
	}
	if p.after.MemoryMiB > uint64(p.quota.MemoryMiB) && p.after.MemoryMiB > p.before.MemoryMiB {
		over = append(over, fmt.Sprintf("its instances would take %d MiB of memory, over its quota of %d MiB", p.after.MemoryMiB, p.quota.MemoryMiB))
	}
	if len(over) == 0 {
		return nil
	}
	return &QuotaError{Namespace: ns, Over: over}
}

// surge reports whether the quota has room for one more instance of o
// beside the usage after the change, for a rollout to start a new
// instance before it stops an old one.
func (p plan) surge(o options) bool {
	return p.after.CPUMillis+uint64(o.Resources.CPUMillis) <= uint64(p.quota.CPUMillis) &&
		p.after.MemoryMiB+uint64(o.Resources.MemoryMiB) <= uint64(p.quota.MemoryMiB)
}

// plural is "1 service" or "n services".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
