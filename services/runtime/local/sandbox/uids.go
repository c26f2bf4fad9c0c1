package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// uidMap is the persisted assignment of uids to namespaces. The file is
// JSON, {"namespaces": {"brave-otter-lamp": 200000, …}}, written whole and
// renamed into place so a crash never leaves half of it.
type uidMap struct {
	path       string
	Namespaces map[string]uint32 `json:"namespaces"`
}

// loadUIDMap reads the map at path; a missing file is an empty map.
func loadUIDMap(path string) (*uidMap, error) {
	m := &uidMap{path: path, Namespaces: map[string]uint32{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if m.Namespaces == nil {
		m.Namespaces = map[string]uint32{}
	}
	return m, nil
}

// uid returns the namespace's uid, handing out and saving the next free
// one of [first, first+count) the first time.
func (m *uidMap) uid(ns string, first, count uint32) (uint32, error) {
	if id, ok := m.Namespaces[ns]; ok {
		return id, nil
	}
	next := first
	for _, id := range m.Namespaces {
		if id >= next {
			next = id + 1
		}
	}
	if next >= first+count || next == 0 {
		return 0, fmt.Errorf("namespace %q: %w", ns, ErrNoUIDs)
	}
	m.Namespaces[ns] = next
	if err := m.save(); err != nil {
		delete(m.Namespaces, ns)
		return 0, err
	}
	return next, nil
}

// save writes the map atomically.
func (m *uidMap) save() error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := m.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, m.path)
	}
	if err != nil {
		return fmt.Errorf("save uid map: %w", err)
	}
	return nil
}
