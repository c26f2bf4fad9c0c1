package kubernetes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"m3o.dev/services/runtime"
)

// ensureTenant makes tenant ns's Kubernetes namespace with its
// NetworkPolicy, ResourceQuota and LimitRange, or brings them up to date.
func (b *Backend) ensureTenant(ctx context.Context, ns string, q runtime.Quota) error {
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace(ns), Labels: tenantLabels(ns)}}
	if _, err := b.c.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", nsObj.Name, err)
	}
	if err := b.ensurePolicy(ctx, ns); err != nil {
		return err
	}
	if err := b.ensureLimits(ctx, ns); err != nil {
		return err
	}
	return b.applyQuota(ctx, ns, q)
}

// networkPolicy admits traffic to the tenant's pods only from its own pods
// and from the platform's proxy.
func (b *Backend) networkPolicy(ns string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: policyName, Namespace: Namespace(ns), Labels: tenantLabels(ns)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
				{PodSelector: &metav1.LabelSelector{}},
				{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: b.opts.PlatformNamespace}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: b.opts.ProxyLabels},
				},
			}}},
		},
	}
}

func (b *Backend) ensurePolicy(ctx context.Context, ns string) error {
	np := b.networkPolicy(ns)
	_, err := b.c.NetworkingV1().NetworkPolicies(np.Namespace).Create(ctx, np, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = b.c.NetworkingV1().NetworkPolicies(np.Namespace).Update(ctx, np, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("network policy of %s: %w", np.Namespace, err)
	}
	return nil
}

// limitRange gives a container without requests or limits the runtime's
// defaults, and bounds what one container may ask for, as the runtime
// bounds an instance.
func limitRange(ns string) *corev1.LimitRange {
	def := resources(runtime.Resources{CPUMillis: runtime.DefaultCPUMillis, MemoryMiB: runtime.DefaultMemoryMiB})
	most := resources(runtime.Resources{CPUMillis: runtime.MaxCPUMillis, MemoryMiB: runtime.MaxMemoryMiB})
	return &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: limitRangeName, Namespace: Namespace(ns), Labels: tenantLabels(ns)},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Default: def, DefaultRequest: def, Max: most,
		}}},
	}
}

func (b *Backend) ensureLimits(ctx context.Context, ns string) error {
	lr := limitRange(ns)
	_, err := b.c.CoreV1().LimitRanges(lr.Namespace).Create(ctx, lr, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = b.c.CoreV1().LimitRanges(lr.Namespace).Update(ctx, lr, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("limit range of %s: %w", lr.Namespace, err)
	}
	return nil
}

// resourceQuota is the tenant's quota as the API server enforces it: the
// runtime counts instances times resources, which are the pods' requests
// and limits alike, and each service is one Deployment.
func resourceQuota(ns string, q runtime.Quota) *corev1.ResourceQuota {
	cpu := *resource.NewMilliQuantity(int64(q.CPUMillis), resource.DecimalSI)
	mem := *resource.NewQuantity(int64(q.MemoryMiB)<<20, resource.BinarySI)
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: quotaName, Namespace: Namespace(ns), Labels: tenantLabels(ns)},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourceRequestsCPU: cpu, corev1.ResourceLimitsCPU: cpu,
			corev1.ResourceRequestsMemory: mem, corev1.ResourceLimitsMemory: mem,
			"count/deployments.apps": *resource.NewQuantity(int64(q.Services), resource.DecimalSI),
		}},
	}
}

// applyQuota writes the tenant's ResourceQuota.
func (b *Backend) applyQuota(ctx context.Context, ns string, q runtime.Quota) error {
	rq := resourceQuota(ns, q)
	_, err := b.c.CoreV1().ResourceQuotas(rq.Namespace).Create(ctx, rq, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = b.c.CoreV1().ResourceQuotas(rq.Namespace).Update(ctx, rq, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("resource quota of %s: %w", rq.Namespace, err)
	}
	return nil
}

// SetQuota implements runtime.Backend: a tenant that has a namespace gets
// its ResourceQuota updated; one that has none gets it with its first
// deployment.
func (b *Backend) SetQuota(ctx context.Context, ns string, q runtime.Quota) error {
	_, err := b.c.CoreV1().Namespaces().Get(ctx, Namespace(ns), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", Namespace(ns), err)
	}
	return b.applyQuota(ctx, ns, q)
}

// resources are the requests and limits of an instance.
func resources(r runtime.Resources) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(r.CPUMillis), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(r.MemoryMiB)<<20, resource.BinarySI),
	}
}
