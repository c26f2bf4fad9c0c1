package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// systemRuntimeRoot is where a server running as root keeps runtime
// directories when the one beside its data dir cannot be reached by the
// namespaces' uids.
const systemRuntimeRoot = "/var/lib/m3o/runtime"

// DefaultRuntimeDir is where the runtime keeps its files when no directory
// is configured: beside the data dir, as <data-dir>-runtime, so that two
// servers never share one. The namespaces' uids must reach it, so when
// the server runs as root and a parent of that place is closed to others
// (a data dir under /root, say), it is /var/lib/m3o/runtime/<a hash of
// the data dir> instead.
func DefaultRuntimeDir(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	beside := filepath.Clean(abs) + "-runtime"
	if os.Geteuid() != 0 || searchable(filepath.Dir(beside)) {
		return beside
	}
	sum := sha256.Sum256([]byte(filepath.Clean(abs)))
	return filepath.Join(systemRuntimeRoot, hex.EncodeToString(sum[:])[:16])
}

// searchable reports whether every directory from dir up to the root lets
// others through (o+x).
func searchable(dir string) bool {
	for p := dir; ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// checkRuntimeDir refuses a runtime directory inside the data dir.
func checkRuntimeDir(dataDir, runtimeDir string) error {
	if runtimeDir == "" || dataDir == "" {
		return nil
	}
	data, err1 := filepath.Abs(dataDir)
	rt, err2 := filepath.Abs(runtimeDir)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("runtime dir %q: not a usable path", runtimeDir)
	}
	if rt == data || strings.HasPrefix(rt, data+string(filepath.Separator)) {
		return fmt.Errorf("runtime dir %q is inside the data dir, which stays 0700: the namespaces' uids must reach the runtime dir", runtimeDir)
	}
	return nil
}
