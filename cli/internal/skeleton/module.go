package skeleton

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"m3o.dev/pkg"
	"m3o.dev/proto"
)

// The SDK modules micro ships, which a service requires at SDKVersion.
const (
	sdkModule   = "m3o.dev/pkg"
	protoModule = "m3o.dev/proto"
)

// SDKVersion is the version of the SDK this micro ships and a new
// service's go.mod requires.
const SDKVersion = pkg.Version

// sdkTrees are the shipped modules by their directory under the SDK
// directory.
var sdkTrees = []struct {
	dir, path string
	tree      fs.FS
}{{"pkg", sdkModule, pkg.Tree}, {"proto", protoModule, proto.Tree}}

// direct are the modules the skeleton's own code imports.
var direct = map[string]bool{
	sdkModule: true, protoModule: true,
	"google.golang.org/grpc": true, "google.golang.org/protobuf": true,
}

// goMod returns the skeleton's go.mod: the SDK at SDKVersion and every
// module the SDK requires at the version it requires, so that the build
// list is the SDK's own and the build needs no change to go.mod.
func goMod(module string) ([]byte, error) {
	goVersion, reqs, err := sdkRequirements()
	if err != nil {
		return nil, err
	}
	f := &modfile.File{}
	if err := f.AddModuleStmt(module); err != nil {
		return nil, err
	}
	if err := f.AddGoStmt(goVersion); err != nil {
		return nil, err
	}
	for _, p := range slices.Sorted(maps.Keys(reqs)) {
		f.AddNewRequire(p, reqs[p], !direct[p])
	}
	f.SetRequireSeparateIndirect(f.Require)
	f.Cleanup()
	return f.Format()
}

// sdkRequirements reads the shipped modules' go.mod files: the highest go
// version, and the highest version each module requires of every other.
func sdkRequirements() (string, map[string]string, error) {
	goVersion := "1.21"
	reqs := map[string]string{sdkModule: SDKVersion, protoModule: SDKVersion}
	for _, m := range sdkTrees {
		data, err := fs.ReadFile(m.tree, "go.mod")
		if err != nil {
			return "", nil, fmt.Errorf("read the SDK's %s/go.mod: %w", m.dir, err)
		}
		f, err := modfile.ParseLax(m.dir+"/go.mod", data, nil)
		if err != nil {
			return "", nil, err
		}
		if f.Go != nil && semver.Compare("v"+f.Go.Version, "v"+goVersion) > 0 {
			goVersion = f.Go.Version
		}
		for _, r := range f.Require {
			p, v := r.Mod.Path, r.Mod.Version
			if strings.HasPrefix(p, "m3o.dev/") {
				continue
			}
			if old, ok := reqs[p]; !ok || semver.Compare(v, old) > 0 {
				reqs[p] = v
			}
		}
	}
	return goVersion, reqs, nil
}

// goSum returns the shipped modules' go.sum lines, merged: the checksums of
// every module the skeleton's build list holds.
func goSum() ([]byte, error) {
	seen := map[string]bool{}
	for _, m := range sdkTrees {
		data, err := fs.ReadFile(m.tree, "go.sum")
		if err != nil {
			return nil, fmt.Errorf("read the SDK's %s/go.sum: %w", m.dir, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				seen[line] = true
			}
		}
	}
	lines := slices.Sorted(maps.Keys(seen))
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// goWork returns a go.work that builds the module in its folder against
// the SDK under sdkDir, which no module proxy serves.
func goWork(sdkDir string) ([]byte, error) {
	goVersion, _, err := sdkRequirements()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("// Builds this service against the SDK micro ships, which no module proxy\n")
	b.WriteString("// serves. It names folders of this machine: keep it out of version control.\n")
	fmt.Fprintf(&b, "go %s\n\nuse .\n\n", goVersion)
	for _, m := range sdkTrees {
		fmt.Fprintf(&b, "replace %s => %s\n", m.path, strings.TrimSuffix(sdkDir, "/")+"/"+m.dir)
	}
	return []byte(b.String()), nil
}
