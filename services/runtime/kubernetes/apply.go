package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"m3o.dev/pkg/service"
	"m3o.dev/services/runtime"
)

// Paths inside an instance's container.
const (
	tlsDir        = "/var/run/m3o/tls"
	workDir       = "/var/run/m3o/app"
	annotationEnv = "m3o.dev/env-checksum"
)

// Apply implements runtime.Backend. When d's binary is yet to be built,
// it builds it in the background and writes d's objects after; otherwise
// it writes the tenant's objects, then the service's Secret, Deployment
// and Service at once. It returns how running pods are replaced: not at
// all when only the replicas change.
func (b *Backend) Apply(ctx context.Context, d runtime.Deployment) (runtime.Rollout, error) {
	if d.Source == nil || d.Generation == 0 || d.Instances < 1 {
		return runtime.Rollout{}, fmt.Errorf("apply %s: a deployment needs a source, a generation and an instance", d.Ref)
	}
	cur, err := b.current(ctx, d.Ref)
	if err != nil {
		return runtime.Rollout{}, err
	}
	st, building := b.buildStatus(d.Ref)
	if cur != nil && generationOf(cur.Annotations) >= d.Generation || building && st.generation >= d.Generation {
		// Not newer than what runs or builds: its environment must not
		// replace the newer one's either.
		return runtime.Rollout{Strategy: runtime.StrategyNone}, nil
	}
	if b.needsBuild(d) {
		b.startBuild(d, cur)
		return runtime.Rollout{Strategy: b.planned(d, cur)}, nil
	}
	b.dropBuild(d.Ref)
	return b.writeObjects(ctx, d, cur)
}

// planned is how d will replace cur's pods.
func (b *Backend) planned(d runtime.Deployment, cur *appsv1.Deployment) runtime.Strategy {
	if cur == nil {
		return runtime.StrategyNone
	}
	return rolloutOf(cur, b.deployment(d), d.Surge)
}

// writeObjects writes the tenant's objects and d's Secret, Deployment
// and Service, updating cur.
func (b *Backend) writeObjects(ctx context.Context, d runtime.Deployment, cur *appsv1.Deployment) (runtime.Rollout, error) {
	if err := b.ensureTenant(ctx, d.Ref.Namespace, d.Quota); err != nil {
		return runtime.Rollout{}, fmt.Errorf("apply %s: %w", d.Ref, err)
	}
	if err := b.writeSecret(ctx, d); err != nil {
		return runtime.Rollout{}, err
	}
	strategy, err := b.writeDeployment(ctx, d, cur)
	if err != nil {
		return runtime.Rollout{}, err
	}
	if err := b.writeService(ctx, d.Ref); err != nil {
		return runtime.Rollout{}, err
	}
	return runtime.Rollout{Strategy: strategy}, nil
}

// writeSecret stores the service's environment and its instance
// certificate.
func (b *Backend) writeSecret(ctx context.Context, d runtime.Deployment) error {
	cert, err := b.opts.Certs.Certify(d.Ref)
	if err != nil {
		return fmt.Errorf("certify %s: %w", d.Ref, err)
	}
	data := map[string][]byte{
		service.CAFile: cert.CA, service.CertFile: cert.Chain, service.KeyFile: cert.Key,
	}
	for k, v := range envMap(d.Env) {
		data["env."+k] = []byte(v)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: d.Ref.Name, Namespace: Namespace(d.Ref.Namespace), Labels: serviceLabels(d.Ref)},
		Data:       data,
	}
	_, err = b.c.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = b.c.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("secret of %s: %w", d.Ref, err)
	}
	return nil
}

// envMap reads KEY=VALUE pairs.
func envMap(env []string) map[string]string {
	out := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// current returns ref's Deployment, or nil when it has none.
func (b *Backend) current(ctx context.Context, ref runtime.Ref) (*appsv1.Deployment, error) {
	cur, err := b.c.AppsV1().Deployments(Namespace(ref.Namespace)).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the deployment of %s: %w", ref, err)
	}
	return cur, nil
}

// writeDeployment creates the service's Deployment, or updates cur, and
// returns how pods are replaced.
func (b *Backend) writeDeployment(ctx context.Context, d runtime.Deployment, cur *appsv1.Deployment) (runtime.Strategy, error) {
	want := b.deployment(d)
	deps := b.c.AppsV1().Deployments(want.Namespace)
	if cur == nil {
		if _, err := deps.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return "", fmt.Errorf("create the deployment of %s: %w", d.Ref, err)
		}
		return runtime.StrategyNone, nil
	}
	strategy := rolloutOf(cur, want, d.Surge)
	// The controller writes the Deployment's status meanwhile: a conflict
	// only means reading it again.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		want.ResourceVersion = cur.ResourceVersion
		_, err := deps.Update(ctx, want, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if fresh, gerr := deps.Get(ctx, want.Name, metav1.GetOptions{}); gerr == nil {
				cur = fresh
			}
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("update the deployment of %s: %w", d.Ref, err)
	}
	return strategy, nil
}

// rolloutOf says how the update from cur to want replaces pods: a new pod
// template replaces them all, surging when the quota has room.
func rolloutOf(cur, want *appsv1.Deployment, surge bool) runtime.Strategy {
	same := cur.Spec.Template.Annotations[AnnotationSource] == want.Spec.Template.Annotations[AnnotationSource] &&
		cur.Spec.Template.Annotations[annotationEnv] == want.Spec.Template.Annotations[annotationEnv] &&
		sameResources(cur.Spec.Template.Spec.Containers, want.Spec.Template.Spec.Containers)
	switch {
	case same:
		return runtime.StrategyNone
	case surge:
		return runtime.StrategySurge
	}
	return runtime.StrategyOneAtATime
}

func sameResources(a, b []corev1.Container) bool {
	if len(a) != 1 || len(b) != 1 {
		return false
	}
	ra, rb := a[0].Resources, b[0].Resources
	return ra.Limits.Cpu().Equal(*rb.Limits.Cpu()) && ra.Limits.Memory().Equal(*rb.Limits.Memory())
}

// deployment is the Deployment that runs d.
func (b *Backend) deployment(d runtime.Deployment) *appsv1.Deployment {
	labels := serviceLabels(d.Ref)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Ref.Name, Namespace: Namespace(d.Ref.Namespace), Labels: labels,
			Annotations: map[string]string{AnnotationGeneration: strconv.FormatUint(d.Generation, 10)},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(d.Instances)),
			Selector: &metav1.LabelSelector{MatchLabels: selector(d.Ref)},
			Strategy: strategy(d.Surge),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					AnnotationSource: d.Source.ID(), annotationEnv: checksum(d.Env),
				}},
				Spec: b.podSpec(d),
			},
		},
	}
}

// strategy replaces pods one beyond the count at a time when the quota
// has room for it, and one short of it otherwise.
func strategy(surge bool) appsv1.DeploymentStrategy {
	maxSurge, maxUnavailable := intstr.FromInt32(1), intstr.FromInt32(0)
	if !surge {
		maxSurge, maxUnavailable = intstr.FromInt32(0), intstr.FromInt32(1)
	}
	return appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge, MaxUnavailable: &maxUnavailable},
	}
}

// checksum changes whenever the environment does, so that a new
// environment rolls the pods, which read it only at start.
func checksum(env []string) string {
	h := sha256.New()
	for _, kv := range env {
		h.Write([]byte(kv))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// podSpec runs the entrypoint of the base image with the service's
// environment and certificate, and nothing of Kubernetes' own.
func (b *Backend) podSpec(d runtime.Deployment) corev1.PodSpec {
	res := resources(d.Resources)
	return corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532), FSGroup: ptr.To[int64](65532),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name: "service", Image: b.opts.Image, Env: b.containerEnv(d), WorkingDir: workDir,
			Ports: []corev1.ContainerPort{
				{Name: "grpc", ContainerPort: servicePort}, {Name: "health", ContainerPort: healthPort},
			},
			Resources: corev1.ResourceRequirements{Requests: res, Limits: res},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: healthPort}},
				PeriodSeconds: 5,
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "tls", MountPath: tlsDir, ReadOnly: true}, {Name: "app", MountPath: workDir}, {Name: "tmp", MountPath: "/tmp"},
			},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: d.Ref.Name, DefaultMode: ptr.To[int32](0o440),
				Items: []corev1.KeyToPath{{Key: service.CAFile, Path: service.CAFile}, {Key: service.CertFile, Path: service.CertFile}, {Key: service.KeyFile, Path: service.KeyFile}},
			}}},
			{Name: "app", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
}

// containerEnv is the instance contract: the deployment's variables from
// the Secret, and where to listen, the certificate and the binary.
// MICRO_INSTANCE is left out, since the pods of a Deployment have no
// numbers.
func (b *Backend) containerEnv(d runtime.Deployment) []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: service.EnvAddress, Value: "$(POD_IP):" + strconv.Itoa(servicePort)},
		{Name: "MICRO_HEALTH_ADDRESS", Value: "0.0.0.0:" + strconv.Itoa(healthPort)},
		{Name: service.EnvTLSDir, Value: tlsDir},
		{Name: service.EnvNamespace, Value: d.Ref.Namespace},
		{Name: service.EnvServiceName, Value: d.Ref.Name},
		{Name: service.EnvServiceVersion, Value: d.Version},
		{Name: EnvArtifact, Value: b.artifactURL(d)},
	}
	for _, kv := range d.Env {
		k, _, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: d.Ref.Name}, Key: "env." + k,
		}}})
	}
	return env
}

// EnvArtifact tells the entrypoint where the binary is.
const EnvArtifact = "M3O_ARTIFACT_URL"

// artifactURL is where the entrypoint fetches d's binary.
func (b *Backend) artifactURL(d runtime.Deployment) string {
	return fmt.Sprintf("%s/%s/%s/%s", strings.TrimSuffix(b.opts.ArtifactURL, "/"), d.Ref.Namespace, d.Ref.Name, sourceSegment(d.Source.ID()))
}

// writeService gives the service's pods a stable address.
func (b *Backend) writeService(ctx context.Context, ref runtime.Ref) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: Namespace(ref.Namespace), Labels: serviceLabels(ref)},
		Spec: corev1.ServiceSpec{
			Selector: selector(ref),
			Ports:    []corev1.ServicePort{{Name: "grpc", Port: servicePort, TargetPort: intstr.FromString("grpc")}},
		},
	}
	_, err := b.c.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("service of %s: %w", ref, err)
	}
	return nil
}
