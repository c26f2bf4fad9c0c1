package platformtest

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	configv1 "m3o.dev/proto/m3o/config/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// storeService keeps records of one table in memory.
type storeService struct {
	storev1.UnimplementedStoreServiceServer
	p *Platform
}

// Read implements storev1.StoreServiceServer.
func (s *storeService) Read(_ context.Context, req *storev1.ReadRequest) (*storev1.ReadResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if !req.GetPrefix() && !req.GetSuffix() {
		r, ok := s.p.records[req.GetKey()]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "no record %q", req.GetKey())
		}
		return &storev1.ReadResponse{Records: []*storev1.Record{r}}, nil
	}
	resp := &storev1.ReadResponse{}
	for _, k := range s.keys(req.GetKey(), req.GetPrefix()) {
		resp.Records = append(resp.Records, s.p.records[k])
	}
	return resp, nil
}

// keys returns the sorted keys matching key as a prefix or suffix. The
// caller holds s.p.mu.
func (s *storeService) keys(key string, prefix bool) []string {
	var keys []string
	for k := range s.p.records {
		if (prefix && strings.HasPrefix(k, key)) || (!prefix && strings.HasSuffix(k, key)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Write implements storev1.StoreServiceServer.
func (s *storeService) Write(_ context.Context, req *storev1.WriteRequest) (*storev1.WriteResponse, error) {
	if req.GetRecord().GetKey() == "" {
		return nil, status.Error(codes.InvalidArgument, "key must not be empty")
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	r := proto.Clone(req.GetRecord()).(*storev1.Record)
	if old, ok := s.p.records[r.GetKey()]; ok {
		r.Version = old.GetVersion()
	}
	r.Version++
	if req.GetTtl() != nil {
		r.ExpiresAt = timestamp(time.Now().Add(req.GetTtl().AsDuration()))
	}
	s.p.records[r.GetKey()] = r
	return &storev1.WriteResponse{Version: r.GetVersion()}, nil
}

// Delete implements storev1.StoreServiceServer.
func (s *storeService) Delete(_ context.Context, req *storev1.DeleteRequest) (*storev1.DeleteResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, ok := s.p.records[req.GetKey()]; !ok {
		return nil, status.Errorf(codes.NotFound, "no record %q", req.GetKey())
	}
	delete(s.p.records, req.GetKey())
	return &storev1.DeleteResponse{}, nil
}

// List implements storev1.StoreServiceServer.
func (s *storeService) List(_ context.Context, req *storev1.ListRequest) (*storev1.ListResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return &storev1.ListResponse{Keys: s.keys(req.GetPrefix(), true)}, nil
}

// Databases implements storev1.StoreServiceServer.
func (s *storeService) Databases(context.Context, *storev1.DatabasesRequest) (*storev1.DatabasesResponse, error) {
	return &storev1.DatabasesResponse{Databases: []string{Namespace}}, nil
}

// Tables implements storev1.StoreServiceServer.
func (s *storeService) Tables(context.Context, *storev1.TablesRequest) (*storev1.TablesResponse, error) {
	return &storev1.TablesResponse{Tables: []string{"default"}}, nil
}

// configService keeps one flat document: each path holds a JSON value.
type configService struct {
	configv1.UnimplementedConfigServiceServer
	p *Platform
}

// Get implements configv1.ConfigServiceServer.
func (s *configService) Get(_ context.Context, req *configv1.GetRequest) (*configv1.GetResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if req.GetPath() == "" {
		doc := map[string]json.RawMessage{}
		for k, v := range s.p.config {
			doc[k] = json.RawMessage(v)
		}
		data, _ := json.Marshal(doc)
		return &configv1.GetResponse{Value: string(data), Version: s.p.version}, nil
	}
	v, ok := s.p.config[req.GetPath()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "nothing at %q", req.GetPath())
	}
	return &configv1.GetResponse{Value: v, Version: s.p.version}, nil
}

// Set implements configv1.ConfigServiceServer.
func (s *configService) Set(_ context.Context, req *configv1.SetRequest) (*configv1.SetResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	v := req.GetValue()
	if !json.Valid([]byte(v)) {
		quoted, _ := json.Marshal(v)
		v = string(quoted)
	}
	s.p.config[req.GetPath()] = v
	s.p.version++
	return &configv1.SetResponse{Version: s.p.version}, nil
}

// Delete implements configv1.ConfigServiceServer.
func (s *configService) Delete(_ context.Context, req *configv1.DeleteRequest) (*configv1.DeleteResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, ok := s.p.config[req.GetPath()]; !ok {
		return nil, status.Errorf(codes.NotFound, "nothing at %q", req.GetPath())
	}
	delete(s.p.config, req.GetPath())
	s.p.version++
	return &configv1.DeleteResponse{Version: s.p.version}, nil
}

// ForeignAuthor is an author of config history whose account is not the
// caller's to list.
const ForeignAuthor = "tenant-z/ZZZ"

// History implements configv1.ConfigServiceServer.
func (s *configService) History(context.Context, *configv1.HistoryRequest) (*configv1.HistoryResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	// Authors are "namespace/account id", as the config service records
	// them: the admin's, and one of an account another namespace holds.
	return &configv1.HistoryResponse{Changes: []*configv1.Change{
		{Version: s.p.version, Author: Namespace + "/" + account(Username).GetId(), Time: timestamp(time.Now()), Action: "set", Paths: []string{"db.user"}, Value: "{}"},
		{Version: s.p.version, Author: ForeignAuthor, Time: timestamp(time.Now()), Action: "set", Paths: []string{"db.host"}, Value: "{}"},
	}}, nil
}

// Rollback implements configv1.ConfigServiceServer.
func (s *configService) Rollback(_ context.Context, req *configv1.RollbackRequest) (*configv1.RollbackResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if req.GetVersion() > s.p.version {
		return nil, status.Errorf(codes.NotFound, "no version %d", req.GetVersion())
	}
	s.p.version++
	return &configv1.RollbackResponse{Version: s.p.version}, nil
}

// registryService knows one service.
type registryService struct {
	registryv1.UnimplementedRegistryServiceServer
	p *Platform
}

// hello is the one service the registry knows, with the methods the
// platform's hello serves.
func hello() *registryv1.Service {
	var endpoints []*registryv1.Endpoint
	for _, m := range []string{"Call", "Stream", "Hold"} {
		endpoints = append(endpoints, &registryv1.Endpoint{Name: "Hello." + m, Request: "hello." + m + "Request", Response: "hello." + m + "Response"})
	}
	return &registryv1.Service{
		Name:      "hello",
		Version:   "latest",
		Endpoints: endpoints,
		Nodes:     []*registryv1.Node{{Id: "hello-1", Address: "127.0.0.1:40001"}},
	}
}

// ListServices implements registryv1.RegistryServiceServer.
func (s *registryService) ListServices(context.Context, *registryv1.ListServicesRequest) (*registryv1.ListServicesResponse, error) {
	return &registryv1.ListServicesResponse{Services: []*registryv1.Service{hello()}}, nil
}

// GetService implements registryv1.RegistryServiceServer.
func (s *registryService) GetService(_ context.Context, req *registryv1.GetServiceRequest) (*registryv1.GetServiceResponse, error) {
	if req.GetName() != "hello" {
		return nil, status.Errorf(codes.NotFound, "no service %q", req.GetName())
	}
	return &registryv1.GetServiceResponse{Services: []*registryv1.Service{hello()}}, nil
}
