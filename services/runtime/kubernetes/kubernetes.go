// Package kubernetes is the runtime's backend that runs developers'
// services as workloads on a Kubernetes cluster, through client-go. It is
// kept out of pkg/ and out of every package that does not run it, since
// client-go is heavy.
//
// # Objects
//
// Each tenant namespace NS gets a Kubernetes namespace m3o-NS, made on its
// first deployment, holding:
//
//	NetworkPolicy  m3o-ingress  ingress only from the tenant's own pods and
//	                            from the platform's proxy
//	ResourceQuota  m3o-quota    the tenant's quota: requests and limits of
//	                            CPU and memory, and the number of Deployments
//	LimitRange     m3o-limits   the runtime's defaults and bounds per container
//
// and for each service NAME a Deployment, a Service and a Secret, all
// named NAME. The Secret holds the service's environment (its account's
// credentials among it) and its instance certificate; the Deployment's
// replicas are the service's instances, each container's requests and
// limits its resources. The API server's ResourceQuota admission holds
// the tenant to its quota even if the runtime's own check were bypassed.
//
// # Isolation
//
// A tenant's objects live only in its own m3o-NS. The NetworkPolicy is
// enforced only where the cluster's network plugin enforces
// NetworkPolicies; the pods run as non-root with a read-only root
// filesystem, no privilege escalation and no capabilities, and never see
// a Kubernetes API token.
//
// # Binaries
//
// The runtime builds a service's source on its own machine, as the local
// backend does (Options.Builder), and keeps the binary under
// Options.ArtifactDir; the Deployment is written once the build is done.
// Pods run Options.Image, a small base image whose entrypoint
// (services/cmd/entrypoint) fetches the binary from Options.ArtifactURL
// over mTLS with the instance's certificate, and runs it; no tenant image
// and no image registry is involved.
//
// # Rollouts
//
// A change to the pod template (code, environment, resources) rolls out
// with maxSurge 1 and maxUnavailable 0 when the quota leaves room for one
// more instance (runtime.Deployment.Surge), and otherwise with maxSurge 0
// and maxUnavailable 1. A change of replicas alone restarts nothing.
package kubernetes

import (
	"errors"
	"log/slog"
	"strconv"

	clientset "k8s.io/client-go/kubernetes"

	"m3o.dev/services/runtime"
)

// Labels and annotations the backend puts on what it makes.
const (
	// LabelManaged marks every object of the backend.
	LabelManaged = "m3o.dev/managed-by"
	// LabelNamespace names the tenant namespace an object belongs to.
	LabelNamespace = "m3o.dev/namespace"
	// LabelService names the service of a per-service object and its pods.
	LabelService = "m3o.dev/service"
	// AnnotationGeneration is the runtime generation a Deployment runs.
	AnnotationGeneration = "m3o.dev/generation"
	// AnnotationSource is the source id of the generation's binary.
	AnnotationSource = "m3o.dev/source"
	managedValue     = "runtime"
)

// Names of the per-tenant objects.
const (
	policyName     = "m3o-ingress"
	quotaName      = "m3o-quota"
	limitRangeName = "m3o-limits"
)

// Ports of an instance's container.
const (
	servicePort = 8443
	healthPort  = 8090
)

// Certifier signs the certificates of a service's instances;
// runtime.Signer is one.
type Certifier interface {
	Certify(ref runtime.Ref) (runtime.Certificate, error)
}

// Options configure a Backend.
type Options struct {
	// Client reaches the cluster's API server.
	Client clientset.Interface
	// Certs signs the instances' certificates.
	Certs Certifier
	// Image is the base image whose entrypoint fetches and runs a
	// service's binary.
	Image string
	// ArtifactURL is the runtime's https address the entrypoint fetches
	// binaries from.
	ArtifactURL string
	// PlatformNamespace is the Kubernetes namespace of the core services,
	// whose proxy may reach every tenant's pods.
	PlatformNamespace string
	// ProxyLabels select the proxy's pods in PlatformNamespace.
	ProxyLabels map[string]string
	// Logger receives the backend's logs.
	Logger *slog.Logger
	// Builder, when set, builds each source the first time a deployment
	// names it, and the binary goes under ArtifactDir for the pods to
	// fetch; when nil, the binaries are expected there already.
	Builder Builder
	// ArtifactDir holds the binaries the runtime serves its pods
	// (artifact.Handler): <ArtifactDir>/<namespace>/<name>/<source id>.
	ArtifactDir string
}

// Backend runs services as Deployments.
type Backend struct {
	opts   Options
	c      clientset.Interface
	log    *slog.Logger
	builds builds
}

var _ runtime.Backend = (*Backend)(nil)

// New returns a backend over opts.
func New(opts Options) (*Backend, error) {
	switch {
	case opts.Client == nil || opts.Certs == nil || opts.Logger == nil:
		return nil, errors.New("kubernetes backend: a client, a certifier and a logger are required")
	case opts.Image == "" || opts.ArtifactURL == "" || opts.PlatformNamespace == "" || len(opts.ProxyLabels) == 0:
		return nil, errors.New("kubernetes backend: the image, the artifact URL and the proxy's namespace and labels are required")
	case opts.Builder != nil && opts.ArtifactDir == "":
		return nil, errors.New("kubernetes backend: a builder needs an artifact directory")
	}
	return &Backend{opts: opts, c: opts.Client, log: opts.Logger, builds: builds{m: map[runtime.Ref]*building{}}}, nil
}

// Namespace is the Kubernetes namespace of tenant ns.
func Namespace(ns string) string { return "m3o-" + ns }

// tenantLabels are the labels of every object of tenant ns.
func tenantLabels(ns string) map[string]string {
	return map[string]string{LabelManaged: managedValue, LabelNamespace: ns}
}

// serviceLabels are the labels of ref's objects and pods.
func serviceLabels(ref runtime.Ref) map[string]string {
	l := tenantLabels(ref.Namespace)
	l[LabelService] = ref.Name
	return l
}

// selector selects ref's pods.
func selector(ref runtime.Ref) map[string]string {
	return map[string]string{LabelManaged: managedValue, LabelService: ref.Name}
}

func generationOf(annotations map[string]string) uint64 {
	g, _ := strconv.ParseUint(annotations[AnnotationGeneration], 10, 64)
	return g
}
