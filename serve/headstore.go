package serve

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// DirStoreConfig configures NewDirStore.
type DirStoreConfig struct {
	// Dir holds one sub-directory per head, named after the head.
	Dir string
	// Load reads the head stored in dir (head.Load behind an adapter).
	Load func(dir string) (Head, error)
	// Save writes h into the empty directory dir (head.Save).
	Save func(dir string, h Head) error
}

// DirStore keeps each head in Dir/<name>/. A head is written into a hidden
// temporary directory first and renamed into place, so a crash never
// leaves a half-written head under its name; a crash between the two
// renames of a replacement is repaired by NewDirStore.
type DirStore struct {
	cfg DirStoreConfig
	mu  sync.Mutex
}

// NewDirStore creates Dir if needed and repairs interrupted replacements.
func NewDirStore(cfg DirStoreConfig) (*DirStore, error) {
	if cfg.Dir == "" {
		return nil, errors.New("heads directory not set: pass --heads DIR")
	}
	if cfg.Load == nil || cfg.Save == nil {
		return nil, errors.New("serve: DirStoreConfig needs Load and Save")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the heads directory: %w", err)
	}
	s := &DirStore{cfg: cfg}
	if err := s.repair(); err != nil {
		return nil, err
	}
	return s, nil
}

// repair restores a head whose replacement was interrupted after the old
// copy was moved aside, and removes leftover temporary directories.
func (s *DirStore) repair() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("reading the heads directory: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || !strings.HasPrefix(n, ".") {
			continue
		}
		full := filepath.Join(s.cfg.Dir, n)
		if name, _, ok := strings.Cut(n[1:], ".old-"); ok && ValidateHeadName(name) == nil {
			if _, err := os.Stat(filepath.Join(s.cfg.Dir, name)); errors.Is(err, fs.ErrNotExist) {
				if err := os.Rename(full, filepath.Join(s.cfg.Dir, name)); err != nil {
					return fmt.Errorf("restoring head %q from %s: %w", name, full, err)
				}
				continue
			}
			os.RemoveAll(full)
			continue
		}
		if strings.Contains(n, ".new-") || strings.Contains(n, ".deleted-") {
			os.RemoveAll(full)
		}
	}
	return nil
}

// Dir is the heads directory.
func (s *DirStore) Dir() string { return s.cfg.Dir }

// Names lists the sub-directories whose names are valid head names.
func (s *DirStore) Names() ([]string, error) {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("reading the heads directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && ValidateHeadName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Load reads one head.
func (s *DirStore) Load(name string) (Head, error) {
	if err := ValidateHeadName(name); err != nil {
		return nil, err
	}
	h, err := s.cfg.Load(filepath.Join(s.cfg.Dir, name))
	if err != nil {
		return nil, fmt.Errorf("loading head %q: %w", name, err)
	}
	return h, nil
}

// Save writes h as Dir/name, replacing an existing head atomically.
func (s *DirStore) Save(name string, h Head) error {
	if err := ValidateHeadName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp, err := os.MkdirTemp(s.cfg.Dir, "."+name+".new-")
	if err != nil {
		return fmt.Errorf("saving head %q: %w", name, err)
	}
	if err := s.cfg.Save(tmp, h); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("saving head %q: %w", name, err)
	}
	final := filepath.Join(s.cfg.Dir, name)
	var old string
	if _, err := os.Stat(final); err == nil {
		old = filepath.Join(s.cfg.Dir, "."+name+".old-"+randomHex(6))
		if err := os.Rename(final, old); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("saving head %q: moving the previous version aside: %w", name, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final)
		}
		os.RemoveAll(tmp)
		return fmt.Errorf("saving head %q: %w", name, err)
	}
	syncDir(s.cfg.Dir)
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// Delete removes Dir/name; a missing head is an fs.ErrNotExist error.
func (s *DirStore) Delete(name string) error {
	if err := ValidateHeadName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	final := filepath.Join(s.cfg.Dir, name)
	gone := filepath.Join(s.cfg.Dir, "."+name+".deleted-"+randomHex(6))
	if err := os.Rename(final, gone); err != nil {
		return fmt.Errorf("deleting head %q: %w", name, err)
	}
	syncDir(s.cfg.Dir)
	return os.RemoveAll(gone)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
