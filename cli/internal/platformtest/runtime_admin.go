package platformtest

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// DefaultQuota is the quota of a namespace the stand-in was given none
// for.
var DefaultQuota = &runtimev1.Quota{CpuMillis: 2000, MemoryMib: 2048, Services: 10}

// Resize implements runtimev1.RuntimeServiceServer: the service starts
// as 1 instance of 100m and 128Mi, and the change is in place unless the
// resources change.
func (s *runtimeService) Resize(_ context.Context, req *runtimev1.ResizeRequest) (*runtimev1.ResizeResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.resizes = append(s.p.resizes, proto.Clone(req).(*runtimev1.ResizeRequest))
	o := &runtimev1.Options{Instances: 1, Resources: &runtimev1.Resources{CpuMillis: 100, MemoryMib: 128}}
	if req.GetInstances() > 0 {
		o.Instances = req.GetInstances()
	}
	if r := req.GetResources(); r.GetCpuMillis() > 0 {
		o.Resources.CpuMillis = r.GetCpuMillis()
	}
	if r := req.GetResources(); r.GetMemoryMib() > 0 {
		o.Resources.MemoryMib = r.GetMemoryMib()
	}
	resp := &runtimev1.ResizeResponse{
		Service: &runtimev1.Service{Name: req.GetName(), Namespace: req.GetNamespace(), Generation: 2, Options: o},
		Rollout: runtimev1.Rollout_ROLLOUT_NONE, Notes: []string{"CPU is not enforced by this backend: instances may use more than they ask for."},
	}
	if req.GetResources() != nil {
		resp.Restarts, resp.Rollout, resp.Notes = true, runtimev1.Rollout_ROLLOUT_SURGE, nil
	}
	return resp, nil
}

// SetQuota implements runtimev1.RuntimeServiceServer.
func (s *runtimeService) SetQuota(_ context.Context, req *runtimev1.SetQuotaRequest) (*runtimev1.SetQuotaResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.quotas[req.GetNamespace()] = proto.Clone(req.GetQuota()).(*runtimev1.Quota)
	return &runtimev1.SetQuotaResponse{Quota: s.p.quotaOf(req.GetNamespace()), Usage: usage}, nil
}

// GetQuota implements runtimev1.RuntimeServiceServer.
func (s *runtimeService) GetQuota(_ context.Context, req *runtimev1.GetQuotaRequest) (*runtimev1.GetQuotaResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	_, own := s.p.quotas[req.GetNamespace()]
	return &runtimev1.GetQuotaResponse{Quota: s.p.quotaOf(req.GetNamespace()), Usage: usage, PlatformDefault: !own}, nil
}

// ListNamespaces implements runtimev1.RuntimeServiceServer: one namespace
// a page.
func (s *runtimeService) ListNamespaces(_ context.Context, req *runtimev1.ListNamespacesRequest) (*runtimev1.ListNamespacesResponse, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	ns, next := "tenant-a", "page-2"
	if req.GetPageToken() == "page-2" {
		ns, next = "tenant-b", ""
	}
	_, own := s.p.quotas[ns]
	return &runtimev1.ListNamespacesResponse{NextPageToken: next, Namespaces: []*runtimev1.NamespaceUsage{{
		Namespace: ns, Created: timestamppb.Now(), Quota: s.p.quotaOf(ns), Usage: usage, PlatformDefault: !own,
	}}}, nil
}

// usage is what every namespace of the stand-in uses.
var usage = &runtimev1.Usage{CpuMillis: 500, MemoryMib: 512, Services: 2, Instances: 4}

// quotaOf returns ns's quota with the default's values where it has
// none. The caller holds p.mu.
func (p *Platform) quotaOf(ns string) *runtimev1.Quota {
	q := proto.Clone(DefaultQuota).(*runtimev1.Quota)
	own := p.quotas[ns]
	if own.GetCpuMillis() > 0 {
		q.CpuMillis = own.GetCpuMillis()
	}
	if own.GetMemoryMib() > 0 {
		q.MemoryMib = own.GetMemoryMib()
	}
	if own.GetServices() > 0 {
		q.Services = own.GetServices()
	}
	return q
}

// Resizes returns the Resize requests received, in order.
func (p *Platform) Resizes() []*runtimev1.ResizeRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*runtimev1.ResizeRequest(nil), p.resizes...)
}

// Quota returns the quota last set for ns, or nil.
func (p *Platform) Quota(ns string) *runtimev1.Quota {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.quotas[ns]
}
