package deploycheck

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"m3o.dev/pkg/platform"
)

// portTable is the port each deployed core service's gRPC API listens on,
// from the platform's one port table. The runtime runs users' services on
// Kubernetes through a backend of its own, which deploy/ does not run yet.
var portTable = deployedPorts()

func deployedPorts() map[string]int32 {
	ports := map[string]int32{}
	for _, s := range platform.CoreServices {
		if s.Name != platform.Runtime {
			ports[s.Name] = int32(s.Port)
		}
	}
	return ports
}

const (
	httpPort = 8080
	// healthPort is where every core service serves the gRPC health
	// service in plain text (--health-address), for the kubelet's probes.
	healthPort = 8090
)

// TestCoreServices checks each core service's Deployment in every overlay:
// it listens on the port table's port, serves health to native gRPC
// probes on healthPort, reads its certificates from a Secret, has resource
// requests and limits, and runs as non-root on a read-only root file
// system.
func TestCoreServices(t *testing.T) {
	for _, overlay := range overlays {
		ws := workloads(t, renderOverlay(t, overlay))
		seen := map[string]bool{}
		for _, w := range ws {
			if w.kind != "Deployment" {
				continue
			}
			seen[w.name] = true
			t.Run(overlay+"/"+w.name, func(t *testing.T) {
				port, ok := portTable[w.name]
				if !ok {
					t.Fatalf("Deployment %s is not a core service of the port table", w.name)
				}
				checkCoreService(t, w, port)
			})
		}
		for svc := range portTable {
			if !seen[svc] {
				t.Errorf("%s: no Deployment of %s", overlay, svc)
			}
		}
	}
}

func checkCoreService(t *testing.T, w workload, port int32) {
	spec := w.template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	env := envOf(c)
	prefix := "MICRO_" + strings.ToUpper(w.name) + "_"
	wantEnv := map[string]string{prefix + "ADDRESS": fmt.Sprintf(":%d", port), prefix + "HEALTH_ADDRESS": fmt.Sprintf(":%d", healthPort)}
	wantPorts := []int32{port, healthPort}
	if w.name == "proxy" {
		wantEnv[prefix+"HTTP_ADDRESS"] = fmt.Sprintf(":%d", httpPort)
		wantPorts = append(wantPorts, httpPort)
	}
	for k, v := range wantEnv {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, p := range wantPorts {
		if !hasContainerPort(c, p) {
			t.Errorf("no container port %d", p)
		}
	}
	checkProbes(t, c)
	checkTLSFiles(t, spec, c, env, prefix)
	checkResources(t, c)
	checkHardening(t, spec, c)
}

// checkProbes requires native gRPC probes on the health port: the
// service's own port takes only mTLS, which the kubelet does not speak.
func checkProbes(t *testing.T, c corev1.Container) {
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.GRPC == nil || p.GRPC.Port != healthPort {
			t.Errorf("%s probe = %+v, want a gRPC probe on port %d", name, p, healthPort)
		}
	}
}

// checkTLSFiles requires the CA, certificate and key files to be on a
// volume of a Secret.
func checkTLSFiles(t *testing.T, spec corev1.PodSpec, c corev1.Container, env map[string]string, prefix string) {
	for _, flag := range []string{"CA_FILE", "CERT_FILE", "KEY_FILE"} {
		path := env[prefix+flag]
		if path == "" {
			t.Errorf("%s%s is unset", prefix, flag)
			continue
		}
		if v := volumeOf(spec, c, path); v == nil || v.Secret == nil {
			t.Errorf("%s%s=%s is not on a Secret's volume", prefix, flag, path)
		}
	}
}

func checkResources(t *testing.T, c corev1.Container) {
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
}

func checkHardening(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v, want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the root file system is writable, want readOnlyRootFilesystem")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("privilege escalation allowed")
	}
}

func envOf(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func hasContainerPort(c corev1.Container, port int32) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == port {
			return true
		}
	}
	return false
}

// volumeOf returns the pod volume that holds path in the container.
func volumeOf(spec corev1.PodSpec, c corev1.Container, path string) *corev1.Volume {
	for _, m := range c.VolumeMounts {
		if !strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			continue
		}
		for i := range spec.Volumes {
			if spec.Volumes[i].Name == m.Name {
				return &spec.Volumes[i]
			}
		}
	}
	return nil
}
