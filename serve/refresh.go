package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Replicas that share heads: several servers pointed at one heads
// directory (a shared volume) see the same heads. Every
// Config.HeadsRefresh each server lists the store and compares each
// head's Stamp with the one it loaded: a new head is loaded, a changed one
// reloaded and swapped in atomically (requests in flight keep the one
// they started with), a deleted one dropped. A head that does not load
// (still being written by another process, or broken) is skipped and the
// version being served, if any, stays; DirStore's writers swap whole
// directories in, so a half-written head is never visible under its name.

// StampedStore is a HeadStore that can tell when a stored head changed.
// Stamp returns a token that differs whenever the head's files do.
type StampedStore interface {
	HeadStore
	Stamp(name string) (string, error)
}

// Stamp identifies the current version of Dir/name: the directory's
// identity and modification time, and every file's size and time. A head
// replaced by a rename, or rewritten in place, gets another stamp.
func (s *DirStore) Stamp(name string) (string, error) {
	if err := ValidateHeadName(name); err != nil {
		return "", err
	}
	dir := filepath.Join(s.cfg.Dir, name)
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d", fileID(st), st.ModTime().UnixNano())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "|%s %d %d", e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	return b.String(), nil
}

// headStamps remembers the stamp of each head loaded from the store.
type headStamps struct {
	mu sync.Mutex
	m  map[string]string
	// failed remembers stamps that did not load, so each is logged once.
	failed map[string]string
}

func (h *headStamps) get(name string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[name]
	return v, ok
}

func (h *headStamps) set(name, stamp string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]string{}
	}
	h.m[name] = stamp
	delete(h.failed, name)
}

func (h *headStamps) drop(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, name)
	delete(h.failed, name)
}

func (h *headStamps) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for n := range h.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// failedOnce reports whether this stamp of name failed before, and
// records it.
func (h *headStamps) failedOnce(name, stamp string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed == nil {
		h.failed = map[string]string{}
	}
	seen := h.failed[name] == stamp
	h.failed[name] = stamp
	return seen
}

// RefreshHeads brings the registry in line with the store once (what the
// refresher does every Config.HeadsRefresh). It returns the heads loaded
// or reloaded and those dropped.
func (s *Server) RefreshHeads() (loaded, dropped []string, err error) {
	store, ok := s.cfg.Store.(StampedStore)
	if !ok || s.embedder.Load() == nil {
		return nil, nil, nil
	}
	names, err := store.Names()
	if err != nil {
		return nil, nil, err
	}
	before, _ := s.RootTask()
	for _, name := range names {
		if s.jobs.activeFor(name) != nil {
			continue // our own training job swaps it in when it is saved
		}
		stamp, err := store.Stamp(name)
		if err != nil {
			continue // gone since the listing
		}
		if cur, ok := s.stamps.get(name); ok && cur == stamp {
			continue
		}
		h, err := store.Load(name)
		if err == nil {
			err = s.checkHead(name, h)
		}
		if err == nil {
			_, err = s.heads.Put(name, h)
		}
		if err != nil {
			if !s.stamps.failedOnce(name, stamp) {
				s.log.Warn("head in the heads directory does not load; serving the previous version, if any", "head", name, "err", err)
			}
			continue
		}
		_, had := s.stamps.get(name)
		s.stamps.set(name, stamp)
		loaded = append(loaded, name)
		if had {
			s.log.Info("head changed on disk: reloaded", "head", name, "labels", h.Labels())
		} else {
			s.log.Info("head appeared on disk: loaded", "head", name, "labels", h.Labels())
		}
	}
	for _, name := range s.stamps.names() {
		if slices.Contains(names, name) || s.jobs.activeFor(name) != nil {
			continue
		}
		s.heads.Remove(name)
		s.stamps.drop(name)
		dropped = append(dropped, name)
		s.log.Info("head deleted from disk: no longer served", "head", name)
	}
	if after, head := s.RootTask(); after != before {
		s.log.Info("POST / changed task", "task", after, "head", head)
	}
	return loaded, dropped, nil
}

// refreshLoop runs RefreshHeads every interval until ctx ends.
func (s *Server) refreshLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := s.RefreshHeads(); err != nil {
				s.log.Warn("refreshing heads", "err", err)
			}
		}
	}
}
