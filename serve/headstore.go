package serve

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// DirStoreConfig configures NewDirStore.
type DirStoreConfig struct {
	// Dir holds one sub-directory per head, named after the head.
	Dir string
	// Load reads the head stored in dir (head.Load behind an adapter).
	Load func(dir string) (Head, error)
	// Save writes h as dir, replacing a previous head there atomically
	// (head.Save, which swaps a whole temporary directory in and repairs
	// what a crash mid-swap leaves).
	Save func(dir string, h Head) error
}

// DirStore keeps each head in Dir/<name>/. Saving goes through
// Config.Save (head.Save: the whole head in a temporary directory, then
// one swap), so a crash never leaves a half-written head under its name;
// NewDirStore repairs and cleans up what killed writers left
// (encoder/atomicfile).
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

// repair finishes interrupted replacements and removes stale
// temporaries: for every hidden .NAME.* entry of ours, atomicfile's
// RepairDir puts back the old head if a kill left NAME missing, and
// removes the leftovers of dead writers (never a live writer's).
func (s *DirStore) repair() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("reading the heads directory: %w", err)
	}
	seen := map[string]bool{}
	var legacy []string
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, ".") {
			continue
		}
		for _, infix := range []string{".new-", ".deleted-"} { // what versions before atomicfile left
			if name, _, ok := strings.Cut(n[1:], infix); ok && ValidateHeadName(name) == nil {
				legacy = append(legacy, filepath.Join(s.cfg.Dir, n))
			}
		}
		for _, infix := range []string{".tmp-", ".old-", ".new-", ".deleted-"} {
			name, _, ok := strings.Cut(n[1:], infix)
			if !ok || ValidateHeadName(name) != nil || seen[name] {
				continue
			}
			seen[name] = true
			if err := atomicfile.RepairDir(filepath.Join(s.cfg.Dir, name)); err != nil {
				return fmt.Errorf("repairing head %q: %w", name, err)
			}
		}
	}
	atomicfile.WhenIdle(s.cfg.Dir, func() {
		for _, p := range legacy {
			os.RemoveAll(p)
		}
	})
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
	if err := s.cfg.Save(filepath.Join(s.cfg.Dir, name), h); err != nil {
		return fmt.Errorf("saving head %q: %w", name, err)
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
	// A name of atomicfile's, so a kill before the removal leaves
	// something the next repair cleans up.
	gone := filepath.Join(s.cfg.Dir, atomicfile.TempPrefix(name)+"deleted-"+randomHex(6))
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
