package runtime

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// CPUNotEnforced is the note of a backend that does not hold instances to
// their CPU.
const CPUNotEnforced = "CPU is not enforced by this backend: instances may use more than they ask for."

// Resize implements runtimev1.RuntimeServiceServer.
func (s *Service) Resize(ctx context.Context, req *runtimev1.ResizeRequest) (*runtimev1.ResizeResponse, error) {
	if err := admin(ctx); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	ref, sz, err := validateResize(req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rec, ro, err := s.resize(ctx, ref, sz)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &runtimev1.ResizeResponse{
		Service: s.toProto(ctx, rec), Restarts: ro.Strategy != StrategyNone,
		Rollout: rolloutToProto(ro.Strategy), Notes: ro.Notes,
	}, nil
}

// SetQuota implements runtimev1.RuntimeServiceServer.
func (s *Service) SetQuota(ctx context.Context, req *runtimev1.SetQuotaRequest) (*runtimev1.SetQuotaResponse, error) {
	byAuth, err := quotaSetter(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	ns, q, err := validateSetQuota(req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if !byAuth {
		if err := s.namespaceExists(ctx, ns); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	quota, u, err := s.setQuota(ctx, ns, q, byAuth)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &runtimev1.SetQuotaResponse{Quota: quotaToProto(quota), Usage: usageToProto(u)}, nil
}

// GetQuota implements runtimev1.RuntimeServiceServer.
func (s *Service) GetQuota(ctx context.Context, req *runtimev1.GetQuotaRequest) (*runtimev1.GetQuotaResponse, error) {
	if err := admin(ctx); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	ns, err := validateQuotaNamespace(req.GetNamespace())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := s.namespaceExists(ctx, ns); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	p, def, err := s.quotaOf(ctx, ns)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &runtimev1.GetQuotaResponse{Quota: quotaToProto(p.quota), Usage: usageToProto(p.before), PlatformDefault: def}, nil
}

// ListNamespaces implements runtimev1.RuntimeServiceServer.
func (s *Service) ListNamespaces(ctx context.Context, req *runtimev1.ListNamespacesRequest) (*runtimev1.ListNamespacesResponse, error) {
	if err := admin(ctx); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validateListNamespaces(req); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out, err := s.listNamespaces(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return out, nil
}

// namespaceExists asks auth whether ns exists, so that an admin's typo is
// NotFound rather than a quota kept for a namespace nobody has.
func (s *Service) namespaceExists(ctx context.Context, ns string) error {
	_, err := s.opts.Namespaces.Get(ctx, &authv1.NamespacesServiceGetRequest{Name: ns})
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.NotFound:
		return fmt.Errorf("namespace %q does not exist; 'micro admin namespaces' lists them: %w", ns, ErrNotFound)
	}
	return authError("read the namespace", err)
}

// quotaSetter allows admins of micro to set any quota, and the auth
// service, on its own behalf, to give a new namespace the platform's
// default and nothing else. It reports whether the caller is auth.
func quotaSetter(ctx context.Context, req *runtimev1.SetQuotaRequest) (bool, error) {
	c, ok := identity.FromContext(ctx)
	if ok && c.IsCoreService() && c.Service == platform.Auth {
		q := req.GetQuota()
		if q.GetCpuMillis() != 0 || q.GetMemoryMib() != 0 || q.GetServices() != 0 {
			return true, fmt.Errorf("the auth service may only give a namespace the platform's default quota: %w", ErrPermissionDenied)
		}
		return true, nil
	}
	return false, admin(ctx)
}

// resize records the service's new size as its next generation, if the
// quota has room for it, and hands it to the backend.
func (s *Service) resize(ctx context.Context, ref Ref, sz size) (record, Rollout, error) {
	defer s.locks.lock("ns:" + ref.Namespace)()
	defer s.locks.lock(serviceKey(ref))()
	rec, err := s.records.get(ctx, ref)
	if err != nil {
		return record{}, Rollout{}, err
	}
	o := sz.applyTo(rec.Options)
	if err := s.checkGrowth(ctx, ref, &o); err != nil {
		return record{}, Rollout{}, err
	}
	rec, err = s.records.update(ctx, ref, func(r *record) error {
		r.Options = sz.applyTo(r.Options)
		r.Generation++
		r.Updated = s.now().UTC()
		return nil
	})
	if err != nil {
		return record{}, Rollout{}, err
	}
	s.log.InfoContext(ctx, "service resized", "namespace", ref.Namespace, "service", ref.Name,
		"instances", rec.Options.Instances, "cpu_millis", rec.Options.Resources.CPUMillis, "memory_mib", rec.Options.Resources.MemoryMiB)
	return s.deploy(ctx, rec)
}

// setQuota records the namespace's quota and has the backend apply it.
// For auth it records the default only where the namespace has no quota.
func (s *Service) setQuota(ctx context.Context, ns string, q Quota, byAuth bool) (Quota, Usage, error) {
	defer s.locks.lock("ns:" + ns)()
	var err error
	if byAuth {
		_, err = s.quotas.setDefault(ctx, ns, s.now().UTC())
	} else {
		err = s.quotas.set(ctx, ns, q, s.now().UTC())
	}
	if err != nil {
		return Quota{}, Usage{}, err
	}
	p, _, err := s.quotaOf(ctx, ns)
	if err != nil {
		return Quota{}, Usage{}, err
	}
	if err := s.backend.SetQuota(ctx, ns, p.quota); err != nil {
		return Quota{}, Usage{}, fmt.Errorf("apply the quota of %q: %w", ns, err)
	}
	s.log.InfoContext(ctx, "quota set", "namespace", ns, "cpu_millis", p.quota.CPUMillis, "memory_mib", p.quota.MemoryMiB, "services", p.quota.Services)
	return p.quota, p.before, nil
}

// quotaOf returns the namespace's quota and usage, and whether the quota
// is the platform's default only.
func (s *Service) quotaOf(ctx context.Context, ns string) (plan, bool, error) {
	_, def, err := s.quotas.get(ctx, ns)
	if err != nil {
		return plan{}, false, err
	}
	p, err := s.planFor(ctx, ns, "", nil)
	return p, def, err
}

// listNamespaces pages through auth's namespaces, adding each one's quota
// and usage. micro, where no service runs, is left out.
func (s *Service) listNamespaces(ctx context.Context, req *runtimev1.ListNamespacesRequest) (*runtimev1.ListNamespacesResponse, error) {
	resp, err := s.opts.Namespaces.List(ctx, &authv1.NamespacesServiceListRequest{PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, namespacesError(err)
	}
	out := &runtimev1.ListNamespacesResponse{NextPageToken: resp.GetNextPageToken()}
	for _, ns := range resp.GetNamespaces() {
		if ns.GetName() == platform.Namespace {
			continue
		}
		p, def, err := s.quotaOf(ctx, ns.GetName())
		if err != nil {
			return nil, err
		}
		out.Namespaces = append(out.Namespaces, &runtimev1.NamespaceUsage{
			Namespace: ns.GetName(), Created: ns.GetCreated(), Quota: quotaToProto(p.quota),
			Usage: usageToProto(p.before), PlatformDefault: def,
		})
	}
	return out, nil
}
