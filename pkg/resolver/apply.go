package resolver

import (
	"slices"
	"sync/atomic"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// apply changes the cache by one watch event.
func (r *Resolver) apply(ev *registryv1.WatchResponse) {
	switch ev.GetType() {
	case registryv1.EventType_EVENT_TYPE_SNAPSHOT:
		r.replace(ev.GetSnapshot())
		r.readyOnce.Do(func() { close(r.ready) })
	case registryv1.EventType_EVENT_TYPE_CREATE, registryv1.EventType_EVENT_TYPE_UPDATE:
		r.putVersion(ev.GetService())
	case registryv1.EventType_EVENT_TYPE_DELETE:
		r.deleteVersion(ev.GetService())
	}
}

// replace swaps the whole cache for a snapshot.
func (r *Resolver) replace(snapshot []*registryv1.Service) {
	byName := make(map[string][]*registryv1.Service)
	for _, s := range snapshot {
		if len(s.GetNodes()) > 0 {
			byName[s.GetName()] = append(byName[s.GetName()], s)
		}
	}
	services := make(map[string]*entry, len(byName))
	for name, versions := range byName {
		slices.SortFunc(versions, compareServices)
		services[name] = newEntry(versions, nil)
	}
	r.mu.Lock()
	r.services = services
	r.mu.Unlock()
}

// putVersion adds or replaces one version of a service.
func (r *Resolver) putVersion(s *registryv1.Service) {
	if len(s.GetNodes()) == 0 {
		r.deleteVersion(s)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.services[s.GetName()]
	var versions []*registryv1.Service
	if old != nil {
		versions = slices.DeleteFunc(slices.Clone(old.versions), func(v *registryv1.Service) bool { return v.GetVersion() == s.GetVersion() })
	}
	versions = append(versions, s)
	slices.SortFunc(versions, compareServices)
	r.services[s.GetName()] = newEntry(versions, old)
}

// deleteVersion removes one version of a service.
func (r *Resolver) deleteVersion(s *registryv1.Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.services[s.GetName()]
	if old == nil {
		return
	}
	versions := slices.DeleteFunc(slices.Clone(old.versions), func(v *registryv1.Service) bool { return v.GetVersion() == s.GetVersion() })
	if len(versions) == 0 {
		delete(r.services, s.GetName())
		return
	}
	r.services[s.GetName()] = newEntry(versions, old)
}

// newEntry builds an entry, carrying over old's round-robin position so that
// a change of nodes does not send the next calls back to the first node.
func newEntry(versions []*registryv1.Service, old *entry) *entry {
	e := &entry{versions: versions, next: new(atomic.Uint64)}
	if old != nil {
		e.next = old.next
	}
	for _, v := range versions {
		e.nodes = append(e.nodes, v.GetNodes()...)
	}
	return e
}
