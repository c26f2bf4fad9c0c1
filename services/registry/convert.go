package registry

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// fromProto converts an API service to the domain type.
func fromProto(s *registryv1.Service) *Service {
	if s == nil {
		return nil
	}
	out := &Service{Name: s.GetName(), Version: s.GetVersion(), Metadata: cloneMap(s.GetMetadata())}
	for _, ep := range s.GetEndpoints() {
		out.Endpoints = append(out.Endpoints, Endpoint{
			Name:     ep.GetName(),
			Request:  ep.GetRequest(),
			Response: ep.GetResponse(),
			Metadata: cloneMap(ep.GetMetadata()),
		})
	}
	for _, n := range s.GetNodes() {
		out.Nodes = append(out.Nodes, Node{ID: n.GetId(), Address: n.GetAddress(), Metadata: cloneMap(n.GetMetadata())})
	}
	return out
}

// toProto converts a domain service to the API type.
func toProto(s *Service) *registryv1.Service {
	out := &registryv1.Service{Name: s.Name, Version: s.Version, Metadata: s.Metadata}
	for _, ep := range s.Endpoints {
		out.Endpoints = append(out.Endpoints, &registryv1.Endpoint{
			Name:     ep.Name,
			Request:  ep.Request,
			Response: ep.Response,
			Metadata: ep.Metadata,
		})
	}
	for _, n := range s.Nodes {
		out.Nodes = append(out.Nodes, &registryv1.Node{Id: n.ID, Address: n.Address, Metadata: n.Metadata})
	}
	return out
}

func toProtos(ss []*Service) []*registryv1.Service {
	out := make([]*registryv1.Service, len(ss))
	for i, s := range ss {
		out[i] = toProto(s)
	}
	return out
}

// eventTypes maps event types to the API enum.
var eventTypes = map[EventType]registryv1.EventType{
	EventCreate:   registryv1.EventType_EVENT_TYPE_CREATE,
	EventUpdate:   registryv1.EventType_EVENT_TYPE_UPDATE,
	EventDelete:   registryv1.EventType_EVENT_TYPE_DELETE,
	EventSnapshot: registryv1.EventType_EVENT_TYPE_SNAPSHOT,
}

// eventToProto converts a watch event to the API type.
func eventToProto(ev Event) *registryv1.WatchResponse {
	out := &registryv1.WatchResponse{Type: eventTypes[ev.Type], Time: timestamppb.New(ev.Time)}
	if ev.Type == EventSnapshot {
		out.Snapshot = toProtos(ev.Snapshot)
		return out
	}
	out.Service = toProto(ev.Service)
	return out
}
