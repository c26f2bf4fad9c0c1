package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"m3o.dev/pkg/lazyregexp"
)

// Errors returned for bad names and an exhausted uid range.
var (
	// ErrInvalidName marks a namespace or process name the sandbox cannot
	// use as a directory name.
	ErrInvalidName = errors.New("the name must be lower-case letters, digits and dashes (namespaces) or letters, digits, dots, dashes and underscores (processes)")
	// ErrNoUIDs means every uid of the configured range is taken.
	ErrNoUIDs = errors.New("no free uid is left in the sandbox's range")
)

// Defaults for Config.
const (
	// DefaultFirstUID is the first uid handed to a namespace: far above the
	// ids a distribution gives its users.
	DefaultFirstUID = 200_000
	// DefaultUIDCount is the size of the uid range.
	DefaultUIDCount = 100_000
	// DefaultPath is the PATH processes get.
	DefaultPath = "/usr/local/bin:/usr/bin:/bin"
	// minFirstUID keeps the range away from root and system accounts.
	minFirstUID = 1000
)

var (
	namespaceName = lazyregexp.New(`^[a-z][a-z0-9-]{2,39}$`)
	processName   = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// Config configures a Sandbox.
type Config struct {
	// Dir is the sandbox's root directory (see the package documentation
	// for its layout); it is created when missing.
	Dir string
	// FirstUID is the first uid (and gid) given to a namespace; zero means
	// DefaultFirstUID. It must be at least 1000.
	FirstUID uint32
	// UIDCount is how many uids the sandbox may hand out; zero means
	// DefaultUIDCount.
	UIDCount uint32
	// Path is the PATH of every process; empty means DefaultPath.
	Path string
}

// Sandbox starts processes for namespaces. It is safe for concurrent use.
type Sandbox struct {
	cfg     Config
	isolate bool
	mu      sync.Mutex
	uids    *uidMap
}

// CanSwitchUsers reports whether this process may run children under other
// uids. When it is false, user code runs as the server's own user and is
// trusted; the server should say so when it starts.
func CanSwitchUsers() bool { return os.Geteuid() == 0 }

// New opens the sandbox at cfg.Dir, creating its directories. It isolates
// namespaces by uid when CanSwitchUsers is true.
func New(cfg Config) (*Sandbox, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sandbox{cfg: cfg, isolate: CanSwitchUsers()}
	if err := s.makeDirs(); err != nil {
		return nil, fmt.Errorf("sandbox %q: %w", cfg.Dir, err)
	}
	if s.uids, err = loadUIDMap(filepath.Join(cfg.Dir, "uids.json")); err != nil {
		return nil, fmt.Errorf("sandbox %q: %w", cfg.Dir, err)
	}
	return s, nil
}

// withDefaults fills zero fields and checks the uid range.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("sandbox: no directory configured")
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("sandbox: %w", err)
	}
	c.Dir = abs
	if c.FirstUID == 0 {
		c.FirstUID = DefaultFirstUID
	}
	if c.UIDCount == 0 {
		c.UIDCount = DefaultUIDCount
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.FirstUID < minFirstUID || uint64(c.FirstUID)+uint64(c.UIDCount) > 1<<32-2 {
		return c, fmt.Errorf("sandbox: uid range %d+%d must start at %d or above and end below 2^32-2", c.FirstUID, c.UIDCount, minFirstUID)
	}
	return c, nil
}

// Isolated reports whether namespaces run under uids of their own.
func (s *Sandbox) Isolated() bool { return s.isolate }

// Dir returns the sandbox's root directory, the one KillOrphans takes.
func (s *Sandbox) Dir() string { return s.cfg.Dir }

// makeDirs creates the root layout with its modes, whatever the umask.
func (s *Sandbox) makeDirs() error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"", 0o711}, {"run", 0o700}, {"ns", 0o711}, {"src", 0o711}} {
		p := filepath.Join(s.cfg.Dir, d.path)
		if err := os.MkdirAll(p, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	if s.isolate {
		return checkSearchable(s.cfg.Dir)
	}
	return nil
}

// checkSearchable fails when a parent of dir keeps other users out, since
// the namespaces' uids could then not reach their own directories.
func checkSearchable(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("parent %q has mode %v: every parent must be searchable by others (o+x), so the sandbox cannot live inside the server's 0700 data directory", p, info.Mode().Perm())
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
