package serve

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadedHead is a head as the registry serves it. It is immutable: a new
// version of a head is a new LoadedHead.
type LoadedHead struct {
	Name     string
	Head     Head
	Info     HeadInfo
	Labels   []string
	LoadedAt time.Time
}

// Registry is the set of heads being served, by name. Readers take a
// Snapshot, an immutable map, so a request that asked for several heads
// sees one consistent set even while a training job swaps one in. Writers
// are serialised and replace the whole map (copy on write).
type Registry struct {
	mu    sync.Mutex // serialises writers
	heads atomic.Pointer[map[string]*LoadedHead]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	empty := map[string]*LoadedHead{}
	r.heads.Store(&empty)
	return r
}

// Snapshot returns the current heads. Never modify the map.
func (r *Registry) Snapshot() map[string]*LoadedHead { return *r.heads.Load() }

// Get returns one head.
func (r *Registry) Get(name string) (*LoadedHead, bool) {
	h, ok := r.Snapshot()[name]
	return h, ok
}

// Names returns the head names, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.Snapshot()))
}

// Len is the number of heads.
func (r *Registry) Len() int { return len(r.Snapshot()) }

// Put adds or atomically replaces the head called name. Requests that
// already hold a snapshot keep the previous head until they finish.
func (r *Registry) Put(name string, h Head) (*LoadedHead, error) {
	if err := ValidateHeadName(name); err != nil {
		return nil, err
	}
	labels := slices.Clone(h.Labels())
	if len(labels) < 2 {
		return nil, fmt.Errorf("head %q has %d labels; a classifier needs at least 2", name, len(labels))
	}
	lh := &LoadedHead{Name: name, Head: h, Info: h.Describe(), Labels: labels, LoadedAt: time.Now()}
	r.mu.Lock()
	defer r.mu.Unlock()
	next := maps.Clone(r.Snapshot())
	next[name] = lh
	r.heads.Store(&next)
	return lh, nil
}

// Remove drops a head; it reports whether it was there.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.Snapshot()
	if _, ok := cur[name]; !ok {
		return false
	}
	next := maps.Clone(cur)
	delete(next, name)
	r.heads.Store(&next)
	return true
}

var headNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateHeadName accepts 1–64 letters, digits, '.', '_' and '-',
// starting with a letter or digit, and never "..": a head name becomes a
// directory name under the heads directory, so it must not be a path.
func ValidateHeadName(name string) error {
	if !headNameRE.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("invalid head name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'", clip(name))
	}
	return nil
}
