package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names of our temporaries, next to their destination X in the same
// directory:
//
//	.X.tmp-*   a file or directory being written (Write, ReplaceDir)
//	.X.old-*   the previous directory, moved aside during a two-rename swap
//
// Cleanup removes only these, and only when stale. Names with any other
// suffix are left alone; in particular resumable partial outputs, which a
// crash leaves on purpose for a later --resume, are named .X.partial*
// (see PartialPrefix) and are never cleaned up here.
const (
	tmpInfix = ".tmp-"
	oldInfix = ".old-"
)

// StaleAge is how old a temporary must be to count as stale where the
// file system cannot tell whether its writer is alive (no flock).
const StaleAge = time.Hour

var (
	errBusy       = errors.New("a writer is active in the directory")
	errNoLock     = errors.New("the file system does not support flock")
	errNoExchange = errors.New("atomic exchange not supported here")
)

// TempPrefix is the name prefix of X's temporaries (.X.tmp-).
func TempPrefix(base string) string { return "." + base + tmpInfix }

// OldPrefix is the name prefix of X's previous directory during a swap.
func OldPrefix(base string) string { return "." + base + oldInfix }

// PartialPrefix is the name prefix reserved for resumable partial outputs
// of X (.X.partial): cleanup never touches names that start with it.
func PartialPrefix(base string) string { return "." + base + ".partial" }

// ours reports whether name is one of base's temporaries. A resumable
// partial (a name ending in .partial or .partial.json, the stream
// helper's rule for embed --resume) is never one, whatever its prefix.
func ours(name, base string) bool {
	if IsResumable(name) {
		return false
	}
	return strings.HasPrefix(name, TempPrefix(base)) || strings.HasPrefix(name, OldPrefix(base))
}

// cleanLocked removes base's temporaries in dir; the caller holds dir's
// exclusive lock (no writer is inside), or, without flock, only those
// older than StaleAge go. It returns the paths removed.
func cleanLocked(dir, base string, byAge bool) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !ours(e.Name(), base) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if byAge {
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < StaleAge {
				continue
			}
		}
		if os.RemoveAll(p) == nil {
			removed = append(removed, p)
		}
	}
	return removed
}

// CleanStale removes the stale temporaries of path (the .X.tmp-* and
// .X.old-* beside it) that killed runs left behind, and returns what it
// removed. A temporary is stale when no writer is active in its
// directory (its flock is free; the kernel frees it when a writer dies),
// or, on file systems without flock, when it is older than StaleAge. A
// live writer's temporaries are never touched: then nothing is removed.
// Write and ReplaceDir call it before they write; it does not restore a
// directory a crash left missing (RepairDir does).
func CleanStale(path string) ([]string, error) {
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	l, err := lockDir(dir, true, false)
	switch {
	case errors.Is(err, errBusy):
		return nil, nil // someone is writing there: try another time
	case errors.Is(err, errNoLock):
		return cleanLocked(dir, base, true), nil
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	}
	defer l.unlock()
	return cleanLocked(dir, base, false), nil
}

// WhenIdle runs f while holding dir's exclusive lock, only if no writer is
// inside (then nothing in dir is being written), and reports whether it
// ran. It is for callers that clean up names of their own beyond .X.tmp-*
// and .X.old-* (the legacy names of older versions).
func WhenIdle(dir string, f func()) bool {
	l, err := lockDir(dir, true, false)
	if err != nil {
		return false
	}
	defer l.unlock()
	f()
	return true
}
