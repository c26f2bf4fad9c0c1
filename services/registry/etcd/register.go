package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/registry"
)

// put is one node key to write, with its encoded record.
type put struct {
	key   string
	value string
}

// Register implements registry.Backend.
func (b *Backend) Register(ctx context.Context, domain string, svc *registry.Service, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	puts, err := b.encode(domain, svc, ttl)
	if err != nil {
		return err
	}
	stale, err := b.heartbeat(ctx, puts)
	if err != nil {
		return fmt.Errorf("register %s in %s: %w", svc.Name, domain, mapErr(err))
	}
	if len(stale) == 0 {
		return nil
	}
	if err := b.write(ctx, stale, ttl); err != nil {
		return fmt.Errorf("register %s in %s: %w", svc.Name, domain, mapErr(err))
	}
	return nil
}

// encode builds one key and record per node, rejecting any that etcd would
// refuse as too large.
func (b *Backend) encode(domain string, svc *registry.Service, ttl time.Duration) ([]put, error) {
	details := *svc
	details.Nodes = nil
	puts := make([]put, 0, len(svc.Nodes))
	for i, n := range svc.Nodes {
		v, err := json.Marshal(record{Service: details, Node: n, TTLSeconds: ttlSeconds(ttl)})
		if err != nil {
			return nil, fmt.Errorf("encode node %q: %w", n.ID, err)
		}
		p := put{key: b.nodeKey(domain, svc.Name, svc.Version, n.ID), value: string(v)}
		if len(p.key)+len(p.value)+requestOverhead > b.maxBytes {
			return nil, invalid.Field(fmt.Sprintf("service.nodes[%d]", i),
				"node record is %d bytes, more than the registry's storage limit of %d", len(p.value), b.maxBytes-requestOverhead)
		}
		puts = append(puts, p)
	}
	return puts, nil
}

// heartbeat keeps alive the leases of the nodes already stored exactly as
// given, and returns the rest, which must be written.
func (b *Backend) heartbeat(ctx context.Context, puts []put) ([]put, error) {
	current, err := b.current(ctx, puts)
	if err != nil {
		return nil, err
	}
	byLease := make(map[clientv3.LeaseID][]put)
	var stale []put
	for _, p := range puts {
		kv, ok := current[p.key]
		if !ok || kv.lease == 0 || kv.value != p.value {
			stale = append(stale, p)
			continue
		}
		byLease[kv.lease] = append(byLease[kv.lease], p)
	}
	for lease, ps := range byLease {
		_, err := b.client.KeepAliveOnce(ctx, lease)
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			// The lease expired between the read and now; write the nodes
			// again rather than fail every heartbeat from here on.
			stale = append(stale, ps...)
		case err != nil:
			return nil, fmt.Errorf("keep lease %x alive: %w", int64(lease), err)
		}
	}
	return stale, nil
}

// stored is what etcd holds for one node key.
type stored struct {
	value string
	lease clientv3.LeaseID
}

// current reads the stored records of the given keys, in transactions of at
// most maxOps reads.
func (b *Backend) current(ctx context.Context, puts []put) (map[string]stored, error) {
	out := make(map[string]stored, len(puts))
	for start := 0; start < len(puts); start += b.maxOps {
		chunk := puts[start:min(start+b.maxOps, len(puts))]
		ops := make([]clientv3.Op, len(chunk))
		for i, p := range chunk {
			ops[i] = clientv3.OpGet(p.key)
		}
		resp, err := b.client.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, fmt.Errorf("read nodes: %w", err)
		}
		for _, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().GetKvs() {
				out[string(kv.Key)] = stored{value: string(kv.Value), lease: clientv3.LeaseID(kv.Lease)}
			}
		}
	}
	return out, nil
}

// write puts the records under one new lease, in transactions that respect
// etcd's limits on operations and bytes per request.
func (b *Backend) write(ctx context.Context, puts []put, ttl time.Duration) error {
	lease, err := b.client.Grant(ctx, ttlSeconds(ttl))
	if err != nil {
		return fmt.Errorf("grant lease: %w", err)
	}
	var ops []clientv3.Op
	size := 0
	for _, p := range puts {
		n := len(p.key) + len(p.value) + requestOverhead
		if len(ops) > 0 && (len(ops) == b.maxOps || size+n > b.maxBytes) {
			if err := b.commit(ctx, ops); err != nil {
				return err
			}
			ops, size = nil, 0
		}
		ops = append(ops, clientv3.OpPut(p.key, p.value, clientv3.WithLease(lease.ID)))
		size += n
	}
	return b.commit(ctx, ops)
}

func (b *Backend) commit(ctx context.Context, ops []clientv3.Op) error {
	if _, err := b.client.Txn(ctx).Then(ops...).Commit(); err != nil {
		return fmt.Errorf("write nodes: %w", err)
	}
	return nil
}

// ttlSeconds rounds up, so that a node never lives shorter than asked.
func ttlSeconds(ttl time.Duration) int64 {
	return max(1, int64(math.Ceil(ttl.Seconds())))
}

// Deregister implements registry.Backend.
func (b *Backend) Deregister(ctx context.Context, domain string, svc *registry.Service) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if len(svc.Nodes) == 0 {
		_, err := b.client.Delete(ctx, b.versionPrefix(domain, svc.Name, svc.Version), clientv3.WithPrefix())
		if err != nil {
			return fmt.Errorf("deregister %s in %s: %w", svc.Name, domain, mapErr(err))
		}
		return nil
	}
	for start := 0; start < len(svc.Nodes); start += b.maxOps {
		chunk := svc.Nodes[start:min(start+b.maxOps, len(svc.Nodes))]
		ops := make([]clientv3.Op, len(chunk))
		for i, n := range chunk {
			ops[i] = clientv3.OpDelete(b.nodeKey(domain, svc.Name, svc.Version, n.ID))
		}
		if err := b.commit(ctx, ops); err != nil {
			return fmt.Errorf("deregister %s in %s: %w", svc.Name, domain, mapErr(err))
		}
	}
	return nil
}

// GetService implements registry.Backend.
func (b *Backend) GetService(ctx context.Context, domain, name string) ([]*registry.Service, error) {
	idx, _, err := b.load(ctx, b.servicePrefix(domain, name))
	if err != nil {
		return nil, fmt.Errorf("get %s in %s: %w", name, domain, err)
	}
	out := idx.Services(name)
	if len(out) == 0 {
		return nil, fmt.Errorf("get %s in %s: %w", name, domain, registry.ErrNotFound)
	}
	return out, nil
}

// ListServices implements registry.Backend.
func (b *Backend) ListServices(ctx context.Context, domain string) ([]*registry.Service, error) {
	idx, _, err := b.load(ctx, b.domainPrefix(domain))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", domain, err)
	}
	return idx.Services(""), nil
}

// load reads every node under prefix into an index, returning the revision
// it was read at, from which a watch continues.
func (b *Backend) load(ctx context.Context, prefix string) (*registry.Index, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	resp, err := b.client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, mapErr(err)
	}
	// The latest registration's details describe a version, as they do when
	// a watch replays the same writes in revision order.
	slices.SortStableFunc(resp.Kvs, func(a, b *mvccpb.KeyValue) int { return cmp.Compare(a.ModRevision, b.ModRevision) })
	idx := registry.NewIndex()
	for _, kv := range resp.Kvs {
		r, err := decode(kv.Value)
		if err != nil {
			b.log.Error("skip unreadable node record", "key", string(kv.Key), "error", err)
			continue
		}
		idx.Put(&r.Service, r.Node)
	}
	return idx, resp.Header.Revision, nil
}
