package runtime

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/invalid"
)

// maxNamespacesPage is the largest page of ListNamespaces.
const maxNamespacesPage = 1000

// size is what a Resize changes; zero fields keep the service's value.
type size struct {
	instances int
	resources Resources
}

// applyTo returns o resized.
func (sz size) applyTo(o options) options {
	if sz.instances > 0 {
		o.Instances = sz.instances
	}
	if sz.resources.CPUMillis > 0 {
		o.Resources.CPUMillis = sz.resources.CPUMillis
	}
	if sz.resources.MemoryMiB > 0 {
		o.Resources.MemoryMiB = sz.resources.MemoryMiB
	}
	return o
}

// validateResize checks a Resize: it names a tenant's namespace
// explicitly, since an admin never resizes by default, and changes
// something within the bounds.
func validateResize(req *runtimev1.ResizeRequest) (Ref, size, error) {
	var c invalid.Checker
	checkTenant(&c, req.GetNamespace())
	checkName(&c, "name", req.GetName())
	r := req.GetResources()
	sz := size{instances: int(req.GetInstances()), resources: Resources{CPUMillis: r.GetCpuMillis(), MemoryMiB: r.GetMemoryMib()}}
	if sz.instances > MaxResizeInstances {
		c.Addf("instances", "must be at most %d", MaxResizeInstances)
	}
	if sz.resources.CPUMillis > MaxCPUMillis {
		c.Addf("resources.cpu_millis", "must be at most %d", MaxCPUMillis)
	}
	if sz.resources.MemoryMiB > MaxMemoryMiB {
		c.Addf("resources.memory_mib", "must be at most %d", MaxMemoryMiB)
	}
	if sz == (size{}) {
		c.Addf("instances", "or resources must be set: a resize that changes nothing is a mistake")
	}
	return Ref{Namespace: req.GetNamespace(), Name: req.GetName()}, sz, c.Err()
}

// validateSetQuota checks a SetQuota and returns its namespace and quota.
func validateSetQuota(req *runtimev1.SetQuotaRequest) (string, Quota, error) {
	var c invalid.Checker
	checkTenant(&c, req.GetNamespace())
	q := req.GetQuota()
	if q == nil {
		c.Addf("quota", "is required; set a field to 0 for the platform's default")
	}
	if q.GetCpuMillis() > MaxQuotaCPUMillis {
		c.Addf("quota.cpu_millis", "must be at most %d", MaxQuotaCPUMillis)
	}
	if q.GetMemoryMib() > MaxQuotaMemoryMiB {
		c.Addf("quota.memory_mib", "must be at most %d", MaxQuotaMemoryMiB)
	}
	if q.GetServices() > MaxQuotaServices {
		c.Addf("quota.services", "must be at most %d", MaxQuotaServices)
	}
	quota := Quota{CPUMillis: q.GetCpuMillis(), MemoryMiB: q.GetMemoryMib(), Services: q.GetServices()}
	return req.GetNamespace(), quota, c.Err()
}

// validateQuotaNamespace checks the namespace of a GetQuota.
func validateQuotaNamespace(ns string) (string, error) {
	var c invalid.Checker
	checkTenant(&c, ns)
	return ns, c.Err()
}

// validateListNamespaces checks a ListNamespaces.
func validateListNamespaces(req *runtimev1.ListNamespacesRequest) error {
	if req.GetPageSize() > maxNamespacesPage {
		return invalid.Field("page_size", "must be at most %d", maxNamespacesPage)
	}
	return nil
}

// checkTenant requires the name of a tenant's namespace.
func checkTenant(c *invalid.Checker, ns string) {
	switch {
	case ns == "":
		c.Addf("namespace", "is required: name the tenant's namespace")
	case ns == platform.Namespace:
		c.Addf("namespace", "must be a tenant's: no service runs in %q, so it has no quota", platform.Namespace)
	case platform.ValidNamespace(ns) != nil:
		c.Addf("namespace", "must be %s", platform.NamespaceRule)
	}
}

// namespacesError decides what an error of auth's namespaces list means
// here: a page token auth refuses is the caller's.
func namespacesError(err error) error {
	if status.Code(err) == codes.InvalidArgument {
		return invalid.Field("page_token", "is not a page token of the namespaces list")
	}
	return authError("list the namespaces", err)
}

// rolloutToProto maps a backend's strategy to the proto's rollout.
func rolloutToProto(s Strategy) runtimev1.Rollout {
	switch s {
	case StrategyNone:
		return runtimev1.Rollout_ROLLOUT_NONE
	case StrategySurge:
		return runtimev1.Rollout_ROLLOUT_SURGE
	case StrategyOneAtATime:
		return runtimev1.Rollout_ROLLOUT_ONE_AT_A_TIME
	}
	return runtimev1.Rollout_ROLLOUT_UNSPECIFIED
}

func quotaToProto(q Quota) *runtimev1.Quota {
	return &runtimev1.Quota{CpuMillis: q.CPUMillis, MemoryMib: q.MemoryMiB, Services: q.Services}
}

func usageToProto(u Usage) *runtimev1.Usage {
	return &runtimev1.Usage{CpuMillis: u.CPUMillis, MemoryMib: u.MemoryMiB, Services: uint32(u.Services), Instances: uint32(u.Instances)}
}
