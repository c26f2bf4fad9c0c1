package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/runtime"
)

// waitingErrors are the reasons of a waiting container that will not run
// without a change: the service is in error with them.
var waitingErrors = []string{"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"}

// Status implements runtime.Backend: the Deployment's generation and
// conditions, and each pod's containers.
func (b *Backend) Status(ctx context.Context, ref runtime.Ref) (runtime.Status, error) {
	bs, building := b.buildStatus(ref)
	dep, err := b.current(ctx, ref)
	switch {
	case err != nil:
		return runtime.Status{}, fmt.Errorf("status of %s: %w", ref, err)
	case dep == nil && !building:
		return runtime.Status{}, runtime.NotRunning(ref)
	case dep == nil:
		return withBuild(runtime.Status{}, bs), nil
	}
	pods, err := b.pods(ctx, ref)
	if err != nil {
		return runtime.Status{}, err
	}
	st := statusOf(dep, pods)
	if building {
		st = withBuild(st, bs)
	}
	return st, nil
}

// withBuild is st with a newer generation being built, or that failed to
// build: what runs keeps running, and says why the newer one did not take.
func withBuild(st runtime.Status, bs building) runtime.Status {
	st.Generation = bs.generation
	switch {
	case bs.reason == "":
		st.State = runtime.StateBuilding
	case st.RunningGeneration > 0:
		st.Reason = platform.NotTaken(bs.generation, st.RunningGeneration, bs.reason)
	default:
		st.State, st.Reason = runtime.StateError, bs.reason
	}
	return st
}

// pods lists ref's pods, oldest first.
func (b *Backend) pods(ctx context.Context, ref runtime.Ref) ([]corev1.Pod, error) {
	list, err := b.c.CoreV1().Pods(Namespace(ref.Namespace)).List(ctx, metav1.ListOptions{LabelSelector: labels.Set(selector(ref)).String()})
	if err != nil {
		return nil, fmt.Errorf("pods of %s: %w", ref, err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Pod) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	return list.Items, nil
}

// statusOf derives the service's status. A pod whose container keeps
// crashing, was killed for its memory or cannot get its image puts the
// service in error with the reason; so does a ReplicaSet the API server
// refuses pods to, for the quota.
func statusOf(dep *appsv1.Deployment, pods []corev1.Pod) runtime.Status {
	gen := generationOf(dep.Annotations)
	st := runtime.Status{Generation: gen}
	var reasons []string
	for i, p := range pods {
		inst, why := instanceOf(i+1, gen, p)
		st.Instances = append(st.Instances, inst)
		if why != "" {
			reasons = append(reasons, fmt.Sprintf("instance %d (%s): %s", i+1, p.Name, why))
		}
	}
	if why := failureCondition(dep); why != "" {
		reasons = append(reasons, why)
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	rolledOut := dep.Status.ObservedGeneration >= dep.Generation && dep.Status.UpdatedReplicas == want
	switch {
	case len(reasons) > 0:
		st.State, st.Reason = runtime.StateError, strings.Join(reasons, "; ")
	case rolledOut && dep.Status.AvailableReplicas == want && dep.Status.Replicas == want:
		st.State, st.RunningGeneration = runtime.StateRunning, gen
	default:
		st.State = runtime.StateStarting
	}
	return st
}

// instanceOf is pod p as the runtime's instance n, and why it is in
// error, if it is.
func instanceOf(n int, gen uint64, p corev1.Pod) (runtime.InstanceStatus, string) {
	inst := runtime.InstanceStatus{Number: n, Generation: gen, State: runtime.StateStarting, Since: p.CreationTimestamp.Time}
	if p.Status.Phase == corev1.PodRunning && ready(p) {
		inst.State = runtime.StateRunning
	}
	for _, cs := range p.Status.ContainerStatuses {
		inst.Restarts = int(cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil {
			inst.LastExit = exitOf(t)
		}
		if why := containerError(cs); why != "" {
			inst.State = runtime.StateError
			return inst, why
		}
	}
	return inst, ""
}

// containerError says why a container will not run, or "".
func containerError(cs corev1.ContainerStatus) string {
	last := cs.LastTerminationState.Terminated
	if t := cs.State.Terminated; t != nil && t.Reason == "OOMKilled" {
		last = t
	}
	w := cs.State.Waiting
	switch {
	case last != nil && last.Reason == "OOMKilled" && (w != nil || cs.State.Terminated != nil):
		return fmt.Sprintf("OOM: killed for going over its memory limit, %d restarts", cs.RestartCount)
	case w != nil && slices.Contains(waitingErrors, w.Reason):
		msg, note := w.Reason, ""
		if last != nil {
			exit := exitOf(last)
			msg, note = msg+", last "+exit, runtime.ExitNote(exit)
		}
		if w.Message != "" {
			msg += ": " + w.Message
		}
		return fmt.Sprintf("%s (%d restarts)%s", msg, cs.RestartCount, note)
	}
	return ""
}

// exitOf describes how a container ended.
func exitOf(t *corev1.ContainerStateTerminated) string {
	if t.Reason == "OOMKilled" {
		return "OOM: killed for going over its memory limit"
	}
	if t.Signal != 0 {
		return fmt.Sprintf("signal %d", t.Signal)
	}
	if t.ExitCode == 0 {
		return runtime.CleanExit
	}
	return fmt.Sprintf("exit status %d", t.ExitCode)
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// failureCondition returns the Deployment's replica failure, such as pods
// the quota refuses, or a rollout that stopped progressing.
func failureCondition(dep *appsv1.Deployment) string {
	for _, c := range dep.Status.Conditions {
		switch {
		case c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue:
			return c.Reason + ": " + c.Message
		case c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse:
			return c.Reason + ": " + c.Message
		}
	}
	return ""
}

// List implements runtime.Backend: every Deployment the backend made.
func (b *Backend) List(ctx context.Context) ([]runtime.Ref, error) {
	deps, err := b.c.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: LabelManaged + "=" + managedValue})
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	refs := make([]runtime.Ref, 0, len(deps.Items))
	for _, d := range deps.Items {
		refs = append(refs, runtime.Ref{Namespace: d.Labels[LabelNamespace], Name: d.Labels[LabelService]})
	}
	b.builds.mu.Lock()
	for ref := range b.builds.m {
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	b.builds.mu.Unlock()
	slices.SortFunc(refs, func(a, b runtime.Ref) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return refs, nil
}

// Delete implements runtime.Backend: the service's Deployment, with its
// ReplicaSets and pods in the foreground, its Service and its Secret; and
// the tenant's namespace with the last of its services.
func (b *Backend) Delete(ctx context.Context, ref runtime.Ref) error {
	b.dropBuild(ref)
	if b.opts.ArtifactDir != "" {
		if err := os.RemoveAll(filepath.Join(b.opts.ArtifactDir, ref.Namespace, ref.Name)); err != nil {
			b.log.WarnContext(ctx, "remove a deleted service's binaries", "namespace", ref.Namespace, "service", ref.Name, "error", err)
		}
	}
	ns := Namespace(ref.Namespace)
	fg := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}
	errs := []error{
		ignoreNotFound(b.c.AppsV1().Deployments(ns).Delete(ctx, ref.Name, fg)),
		ignoreNotFound(b.c.CoreV1().Services(ns).Delete(ctx, ref.Name, metav1.DeleteOptions{})),
		ignoreNotFound(b.c.CoreV1().Secrets(ns).Delete(ctx, ref.Name, metav1.DeleteOptions{})),
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("delete %s: %w", ref, err)
		}
	}
	return b.dropTenantIfEmpty(ctx, ref.Namespace, ref.Name)
}

// dropTenantIfEmpty deletes the tenant's namespace, and all in it, once
// no Deployment but the one being deleted is left.
func (b *Backend) dropTenantIfEmpty(ctx context.Context, tenant, deleting string) error {
	deps, err := b.c.AppsV1().Deployments(Namespace(tenant)).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ignoreNotFound(err)
	}
	for _, d := range deps.Items {
		if d.Name != deleting {
			return nil
		}
	}
	return ignoreNotFound(b.c.CoreV1().Namespaces().Delete(ctx, Namespace(tenant), metav1.DeleteOptions{}))
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
