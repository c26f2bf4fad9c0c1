package k8stest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinEnv names the directory holding kube-apiserver,
// kube-controller-manager and etcd. When it is unset the binaries are
// built with scripts/k8s-bin.sh, which Go's build cache makes quick after
// the first time.
const BinEnv = "M3O_K8S_BIN"

// binaries are the programs of a control plane.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager"}

// BinDir returns the directory of the control plane's binaries (etcd,
// kube-apiserver, kube-controller-manager): BinEnv, or else where
// scripts/k8s-bin.sh builds them, after building them.
func BinDir() (string, error) {
	dir := os.Getenv(BinEnv)
	if dir == "" {
		var err error
		if dir, err = build(); err != nil {
			return "", err
		}
	}
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinEnv, dir, err)
		}
	}
	return dir, nil
}

// build runs scripts/k8s-bin.sh, found above the working directory, and
// returns the directory it prints.
func build() (string, error) {
	script, err := findUp(filepath.Join("scripts", "k8s-bin.sh"))
	if err != nil {
		return "", fmt.Errorf("%s is unset and %w", BinEnv, err)
	}
	var out bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return "", fmt.Errorf("%s printed no directory", script)
	}
	return lines[len(lines)-1], nil
}

// findUp returns the first rel found in the working directory or one of
// its parents.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no " + rel + " above the working directory")
		}
		dir = parent
	}
}
