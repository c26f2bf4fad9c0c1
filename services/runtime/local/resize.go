package local

import (
	"context"
	"slices"
	"sync"

	"m3o.dev/services/runtime"
)

// resize applies d to the serving release in place: it starts the
// instances d adds, stops the ones it removes (the highest numbers), and
// holds those that run to d's memory limit, with no build and no
// restart. The resized release takes over the serving one's instances.
func (u *unit) resize(ctx context.Context, d runtime.Deployment) {
	u.mu.Lock()
	cur := u.current
	u.mu.Unlock()
	if cur == nil {
		u.rollout(ctx, d)
		return
	}
	keep := slices.Clone(cur.instances)
	slices.SortFunc(keep, func(a, b *instance) int { return a.number - b.number })
	drop := keep[min(d.Instances, len(keep)):]
	keep = keep[:min(d.Instances, len(keep))]
	rel := newRelease(d, cur.binary, cur.srcDir)
	rel.instances = keep
	if err := u.startInstances(rel, freeNumbers(cur, d.Instances-len(keep))); err != nil {
		stopInstances(rel.instances[len(keep):])
		u.failed(ctx, d, err)
		return
	}
	for _, inst := range keep {
		inst.sup.SetMemoryLimit(int64(d.Resources.MemoryMiB))
	}
	u.mu.Lock()
	u.current, u.phase, u.reason = rel, "", ""
	u.mu.Unlock()
	cur.markStopped() // ends its monitor; rel's watches the same instances
	go u.monitor(rel)
	u.stopDropped(drop)
	u.b.log.Info("service resized", "namespace", u.ref.Namespace, "service", u.ref.Name,
		"generation", d.Generation, "instances", d.Instances, "memory_mib", d.Resources.MemoryMiB)
}

// stopDropped stops instances a resize removed and takes their nodes out
// of the registry.
func (u *unit) stopDropped(drop []*instance) {
	if len(drop) == 0 {
		return
	}
	stopInstances(drop)
	numbers := make([]int, 0, len(drop))
	for _, inst := range drop {
		numbers = append(numbers, inst.number)
	}
	u.deregister(u.ctx, numbers)
}

// stopInstances stops the instances in parallel.
func stopInstances(insts []*instance) {
	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Go(inst.sup.Stop)
	}
	wg.Wait()
}
