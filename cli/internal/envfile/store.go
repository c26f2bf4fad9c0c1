package envfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File and directory modes: the file holds tokens, so only its owner may read
// it, and only its owner may list or create files beside it.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// Store reads and writes config.json in one directory.
type Store struct {
	dir      string
	builtins []Env
}

// NewStore returns the store of the user whose home directory is home, with
// the given built-in envs.
func NewStore(home string, builtins []Env) *Store {
	return &Store{dir: filepath.Join(home, ".micro"), builtins: builtins}
}

// Path returns the path of the config file.
func (s *Store) Path() string {
	return filepath.Join(s.dir, "config.json")
}

// Load reads the file. A missing file is an empty one: every user starts
// with only the built-in envs and no sessions.
func (s *Store) Load() (*File, error) {
	s.tighten()
	data, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return &File{builtins: s.builtins}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.Path(), err)
	}
	f := &File{}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, s.Path(), err)
	}
	f.builtins = s.builtins
	return f, nil
}

// Update loads the file, lets change modify it, and saves it, all under the
// file's lock so that concurrent micro commands see each other's changes.
// Nothing is saved when change fails.
func (s *Store) Update(change func(*File) error) error {
	if err := os.MkdirAll(s.dir, dirMode); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	unlock, err := lock(filepath.Join(s.dir, "config.json.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	f, err := s.Load()
	if err != nil {
		return err
	}
	if err := change(f); err != nil {
		return err
	}
	return s.save(f)
}

// save writes f to a temporary file in the same directory and renames it
// over the old one, so a crash leaves either the old file or the new one.
func (s *Store) save(f *File) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", s.Path(), err)
	}
	tmp, err := os.CreateTemp(s.dir, "config-*.json.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", s.Path(), err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := writeSynced(tmp, append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", s.Path(), err)
	}
	if err := os.Rename(tmp.Name(), s.Path()); err != nil {
		return fmt.Errorf("write %s: %w", s.Path(), err)
	}
	return nil
}

// writeSynced writes data to f, syncs and closes it. os.CreateTemp already
// made f with mode 0600, which a umask can only narrow.
func writeSynced(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return errors.Join(err, f.Sync(), f.Close())
}

// tighten narrows the directory and file modes when something (an older
// tool, a careless copy) made them looser. It is best effort: a file this
// user cannot chmod is still one this user may read, and refusing to work
// would not make it any safer.
func (s *Store) tighten() {
	for path, mode := range map[string]fs.FileMode{s.dir: dirMode, s.Path(): fileMode} {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&^mode != 0 {
			_ = os.Chmod(path, mode)
		}
	}
}
