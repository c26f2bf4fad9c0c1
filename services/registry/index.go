package registry

import (
	"cmp"
	"maps"
	"reflect"
	"slices"
)

// Index holds the nodes of one domain and turns node-level changes into the
// version-level events that Watch promises. Both backends build on it: the
// memory backend keeps its state in one, and the etcd backend replays etcd's
// key events into one per watch. It is not safe for concurrent use.
type Index struct {
	versions map[versionKey]*versionEntry
}

type versionKey struct{ name, version string }

// versionEntry is one service version: the details of its latest
// registration and its nodes by id.
type versionEntry struct {
	details Service
	nodes   map[string]Node
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{versions: make(map[versionKey]*versionEntry)}
}

// Put records node as running details' version, taking details' name,
// version, metadata and endpoints as the version's own. It reports a create
// or update event, or false when nothing changed, as for a heartbeat.
func (x *Index) Put(details *Service, node Node) (Event, bool) {
	k := versionKey{details.Name, details.Version}
	e, ok := x.versions[k]
	if !ok {
		e = &versionEntry{details: detailsOf(details), nodes: make(map[string]Node)}
		x.versions[k] = e
		e.nodes[node.ID] = cloneNode(node)
		return Event{Type: EventCreate, Service: e.service()}, true
	}
	old, had := e.nodes[node.ID]
	newDetails := detailsOf(details)
	if had && reflect.DeepEqual(old, node) && reflect.DeepEqual(e.details, newDetails) {
		return Event{}, false
	}
	e.details = newDetails
	e.nodes[node.ID] = cloneNode(node)
	return Event{Type: EventUpdate, Service: e.service()}, true
}

// Delete removes one node. It reports an update, a delete when the version
// lost its last node, or false when the node was not there.
func (x *Index) Delete(name, version, nodeID string) (Event, bool) {
	k := versionKey{name, version}
	e, ok := x.versions[k]
	if !ok {
		return Event{}, false
	}
	if _, ok := e.nodes[nodeID]; !ok {
		return Event{}, false
	}
	delete(e.nodes, nodeID)
	if len(e.nodes) == 0 {
		delete(x.versions, k)
		return Event{Type: EventDelete, Service: e.service()}, true
	}
	return Event{Type: EventUpdate, Service: e.service()}, true
}

// Nodes returns the ids of the nodes of one version, for deregistering a
// whole version.
func (x *Index) Nodes(name, version string) []string {
	e, ok := x.versions[versionKey{name, version}]
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(e.nodes))
}

// Services returns copies of every version of name, or of every version in
// the index when name is empty, sorted by name then version.
func (x *Index) Services(name string) []*Service {
	var out []*Service
	for k, e := range x.versions {
		if name == "" || k.name == name {
			out = append(out, e.service())
		}
	}
	SortServices(out)
	return out
}

// Len returns the number of versions held.
func (x *Index) Len() int { return len(x.versions) }

// SortServices sorts by name then version, the order every listing uses.
func SortServices(s []*Service) {
	slices.SortFunc(s, func(a, b *Service) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
}

// service returns a deep copy of the version with its nodes sorted by id.
func (e *versionEntry) service() *Service {
	s := detailsOf(&e.details)
	s.Nodes = make([]Node, 0, len(e.nodes))
	for _, id := range slices.Sorted(maps.Keys(e.nodes)) {
		s.Nodes = append(s.Nodes, cloneNode(e.nodes[id]))
	}
	return &s
}

// detailsOf deep-copies everything of s but its nodes.
func detailsOf(s *Service) Service {
	d := Service{Name: s.Name, Version: s.Version, Metadata: cloneMap(s.Metadata)}
	if len(s.Endpoints) > 0 {
		d.Endpoints = make([]Endpoint, len(s.Endpoints))
		for i, ep := range s.Endpoints {
			ep.Metadata = cloneMap(ep.Metadata)
			d.Endpoints[i] = ep
		}
	}
	return d
}

func cloneNode(n Node) Node {
	n.Metadata = cloneMap(n.Metadata)
	return n
}

// cloneMap copies m, turning an empty map into nil so that a record compares
// equal to itself after a round trip through JSON, where both are omitted.
func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// Clone returns a deep copy of s.
func (s *Service) Clone() *Service {
	c := detailsOf(s)
	if s.Nodes != nil {
		c.Nodes = make([]Node, len(s.Nodes))
		for i, n := range s.Nodes {
			c.Nodes[i] = cloneNode(n)
		}
	}
	return &c
}

// Clone returns a deep copy of e, so that each watcher owns what it is sent.
func (e Event) Clone() Event {
	if e.Service != nil {
		e.Service = e.Service.Clone()
	}
	if e.Snapshot != nil {
		snap := make([]*Service, len(e.Snapshot))
		for i, s := range e.Snapshot {
			snap[i] = s.Clone()
		}
		e.Snapshot = snap
	}
	return e
}
