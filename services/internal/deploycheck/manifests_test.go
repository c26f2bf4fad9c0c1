package deploycheck

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../../.."

// readEnv are environment variables a binary reads itself rather than
// through a flag, because their values are secrets that a flag would show
// in a process listing. The test checks that the source still reads each.
var readEnv = map[string][]string{
	"auth":    {"MICRO_ADMIN_PASSWORD"},
	"config":  {"MICRO_CONFIG_KEY"},
	"billing": {"MICRO_BILLING_STRIPE_KEY", "MICRO_BILLING_STRIPE_WEBHOOK_SECRET"},
}

// notDeployedYet are binaries that services/cmd builds and no manifest runs
// yet, each with the reason; an entry goes when its manifest comes.
var notDeployedYet = map[string]string{
	"runtime": "it needs an image with the Go toolchain for builds and a ClusterRole over tenants' objects (deploy/README.md, Known limits)",
	// Not a core service: the base image of tenants' pods runs it, in the
	// pods the runtime's Kubernetes backend makes, never a manifest here.
	"entrypoint": "the base image of tenants' pods runs it, in pods the runtime makes",
}

// doc is one Kubernetes object, decoded as far as the checks need.
type doc struct {
	file       string
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	// Resources are a Kustomization's.
	Resources []string `json:"resources"`
	Spec      struct {
		// Selector is a Service's; workloads' selectors are not checked.
		Selector any       `json:"selector"`
		Ports    []svcPort `json:"ports"`
		Template struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec podSpec `json:"spec"`
		} `json:"template"`
		// VolumeClaimTemplates are a StatefulSet's volumes beside the pod's.
		VolumeClaimTemplates []struct {
			Metadata volume `json:"metadata"`
		} `json:"volumeClaimTemplates"`
	} `json:"spec"`
}

type svcPort struct {
	Name       string `json:"name"`
	TargetPort any    `json:"targetPort"`
}

type podSpec struct {
	Containers []container `json:"containers"`
	Volumes    []volume    `json:"volumes"`
}

type volume struct {
	Name string `json:"name"`
}

type mount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
}

type container struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Env     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
	Ports []struct {
		Name string `json:"name"`
	} `json:"ports"`
	VolumeMounts []mount `json:"volumeMounts"`
}

// TestManifests decodes every manifest and checks each object against the
// others and against the binaries it runs.
func TestManifests(t *testing.T) {
	dir := filepath.Join(repoRoot, "deploy", "kubernetes")
	docs := readManifests(t, dir)
	if len(docs) == 0 {
		t.Fatalf("no manifests under %s", dir)
	}
	flags := binaryFlags(t)
	ran := map[string]bool{}
	for _, d := range docs {
		t.Run(d.file+"/"+d.Kind+"/"+d.Metadata.Name, func(t *testing.T) {
			switch d.Kind {
			case "Kustomization":
				checkKustomization(t, dir, d)
			case "Service":
				checkService(t, d, docs)
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				checkMounts(t, d, c)
				if bin, ok := m3oBinary(c); ok {
					ran[bin] = true
					checkContainer(t, bin, c, flags[bin])
				}
			}
		})
	}
	for bin := range flags {
		if _, later := notDeployedYet[bin]; bin != "micro" && !later && !ran[bin] {
			t.Errorf("no manifest runs %s, which services/cmd builds", bin)
		}
	}
}

// readManifests decodes every document of every YAML file under dir,
// requiring each to say what it is and what it is called.
func readManifests(t *testing.T, dir string) []doc {
	t.Helper()
	var docs []doc
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for i, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			d := doc{file: filepath.ToSlash(rel)}
			if err := yaml.Unmarshal([]byte(part), &d); err != nil {
				t.Errorf("%s, document %d: %v", rel, i+1, err)
				continue
			}
			if d.APIVersion == "" && d.Kind == "" {
				continue // only comments
			}
			if d.APIVersion == "" || d.Kind == "" || (d.Metadata.Name == "" && d.Kind != "Kustomization") {
				t.Errorf("%s, document %d: apiVersion %q, kind %q, metadata.name %q; want all three", rel, i+1, d.APIVersion, d.Kind, d.Metadata.Name)
			}
			docs = append(docs, d)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return docs
}

// checkKustomization requires the resources to exist and every other YAML
// file of the directory to be among them, so none is left out by mistake.
func checkKustomization(t *testing.T, root string, k doc) {
	dir := filepath.Join(root, filepath.Dir(k.file))
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("resource %s: %v", r, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(k.Resources, name) {
			t.Errorf("%s is not among the resources %v", name, k.Resources)
		}
	}
}

// checkService requires a workload of the same directory whose pods the
// selector picks, with a container port of each target port's name.
func checkService(t *testing.T, svc doc, docs []doc) {
	selector, _ := svc.Spec.Selector.(map[string]any)
	if len(selector) == 0 {
		t.Fatalf("Service %s selects no pods", svc.Metadata.Name)
	}
	for _, w := range docs {
		if path.Dir(w.file) != path.Dir(svc.file) || !selects(selector, w.Spec.Template.Metadata.Labels) {
			continue
		}
		names := portNames(w.Spec.Template.Spec)
		for _, p := range svc.Spec.Ports {
			if target, ok := p.TargetPort.(string); ok && !slices.Contains(names, target) {
				t.Errorf("port %s targets %q, which %s %s does not name (it has %v)", p.Name, target, w.Kind, w.Metadata.Name, names)
			}
		}
		return
	}
	t.Errorf("Service %s selects %v, which no workload beside it carries", svc.Metadata.Name, selector)
}

func selects(selector map[string]any, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(labels) > 0
}

func portNames(spec podSpec) []string {
	var names []string
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			names = append(names, p.Name)
		}
	}
	return names
}

// checkMounts requires every volume mount to name a volume of the pod or a
// claim of the StatefulSet.
func checkMounts(t *testing.T, d doc, c container) {
	volumes := d.Spec.Template.Spec.Volumes
	for _, claim := range d.Spec.VolumeClaimTemplates {
		volumes = append(volumes, claim.Metadata)
	}
	for _, m := range c.VolumeMounts {
		if !slices.ContainsFunc(volumes, func(v volume) bool { return v.Name == m.Name }) {
			t.Errorf("container %s mounts volume %q, which the pod does not declare", c.Name, m.Name)
		}
	}
}

// m3oBinary returns the platform binary a container runs, if it runs one.
func m3oBinary(c container) (string, bool) {
	if (c.Image != "m3o" && !strings.HasPrefix(c.Image, "m3o:")) || len(c.Command) == 0 {
		return "", false
	}
	return path.Base(c.Command[0]), true
}

// checkContainer requires every flag and MICRO_ variable the container
// sets to be one its binary defines, and every file it names under /etc to
// be on one of its mounts.
func checkContainer(t *testing.T, bin string, c container, defined binary) {
	if defined.flags == nil {
		t.Fatalf("container %s runs %s, which services/cmd does not build", c.Name, bin)
	}
	for _, a := range c.Args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if strings.HasPrefix(a, "--") && !defined.flags[name] {
			t.Errorf("container %s passes %s, which %s does not define", c.Name, a, bin)
		}
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "MICRO_") && !defined.env[e.Name] {
			t.Errorf("container %s sets %s, which %s does not read", c.Name, e.Name, bin)
		}
		onMount := func(m mount) bool { return strings.HasPrefix(e.Value, m.MountPath+"/") }
		if strings.HasPrefix(e.Value, "/etc/") && !slices.ContainsFunc(c.VolumeMounts, onMount) {
			t.Errorf("container %s: %s=%s is on none of its mounts", c.Name, e.Name, e.Value)
		}
	}
}

// binary is what one platform binary accepts.
type binary struct {
	flags map[string]bool
	env   map[string]bool
}

// helpFlag matches a flag line of urfave/cli's help and captures the
// flag's name; helpEnv matches the environment variables the line lists,
// in brackets at its end.
var (
	helpFlag = regexp.MustCompile(`^\s+--([a-z0-9-]+)`)
	helpEnv  = regexp.MustCompile(`\$([A-Z0-9_]+)`)
)

// binaryFlags builds every services/cmd binary and reads its flags and
// environment variables from its --help.
func binaryFlags(t *testing.T) map[string]binary {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that builds every binary")
	}
	out := t.TempDir()
	build := exec.Command("go", "build", "-o", out+string(filepath.Separator), "./cmd/...")
	build.Dir = filepath.Join(repoRoot, "services")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/...: %v\n%s", err, msg)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	bins := map[string]binary{}
	for _, e := range entries {
		help, err := exec.Command(filepath.Join(out, e.Name()), "--help").Output()
		if err != nil {
			t.Fatalf("%s --help: %v", e.Name(), err)
		}
		bins[e.Name()] = parseHelp(t, e.Name(), help)
	}
	return bins
}

// parseHelp reads the flags and their variables from help, adding the
// variables of readEnv after checking that the source still reads them.
func parseHelp(t *testing.T, name string, help []byte) binary {
	b := binary{flags: map[string]bool{}, env: map[string]bool{}}
	for _, line := range strings.Split(string(help), "\n") {
		m := helpFlag.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		b.flags[m[1]] = true
		for _, v := range helpEnv.FindAllStringSubmatch(line, -1) {
			b.env[v[1]] = true
		}
	}
	if len(b.flags) < 2 { // --help and at least one of its own
		t.Fatalf("%s --help lists no flags:\n%s", name, help)
	}
	for _, v := range readEnv[name] {
		src, _ := filepath.Glob(filepath.Join(repoRoot, "services", "cmd", name, "*.go"))
		reads := func(f string) bool { data, _ := os.ReadFile(f); return bytes.Contains(data, []byte(`"`+v+`"`)) }
		if !slices.ContainsFunc(src, reads) {
			t.Errorf("services/cmd/%s no longer reads %s; update readEnv", name, v)
		}
		b.env[v] = true
	}
	return b
}
