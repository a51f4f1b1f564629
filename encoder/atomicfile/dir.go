package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// RepairWait bounds how long RepairDir waits for a live writer that is
// between the two renames of a swap to put the new directory in place.
var RepairWait = 5 * time.Second

// ReplaceDir writes a directory atomically: fill writes the content into
// an empty temporary directory beside path (.X.tmp-*), every file in it is
// synced, and it is swapped in for path in one step. A reader of path sees
// the old directory or the new one, never a mix; whatever the kill point,
// RepairDir (which ReplaceDir itself and every reader runs first) finds
// one of them at path.
func ReplaceDir(path string, fill func(tmp string) error) error {
	path = filepath.Clean(path)
	parent, base := filepath.Split(path)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	if err := RepairDir(path); err != nil {
		return err
	}
	l, err := lockDir(parent, false, true)
	if err != nil && !errors.Is(err, errNoLock) {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer l.unlock()
	tmp, err := os.MkdirTemp(parent, TempPrefix(base))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	point(PointDirFilled)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("moving %s into place: %w", path, err)
		}
		done = true
		syncDir(parent)
		return nil
	}
	if err := exchange(tmp, path); err == nil {
		done = true // tmp now holds the previous directory
		syncDir(parent)
		point(PointDirExchanged)
		os.RemoveAll(tmp)
		return nil
	}
	old, err := os.MkdirTemp(parent, OldPrefix(base))
	if err != nil {
		return err
	}
	if err := os.Remove(old); err != nil {
		return err
	}
	if err := os.Rename(path, old); err != nil {
		return fmt.Errorf("moving the previous %s aside: %w", path, err)
	}
	point(PointDirOldMoved)
	if err := os.Rename(tmp, path); err != nil {
		if rerr := os.Rename(old, path); rerr != nil {
			return fmt.Errorf("moving %s into place: %w (and restoring the previous one from %s: %v)", path, err, old, rerr)
		}
		return fmt.Errorf("moving %s into place: %w", path, err)
	}
	done = true
	syncDir(parent)
	point(PointDirNewPlaced)
	os.RemoveAll(old)
	return nil
}

// RepairDir completes what a killed ReplaceDir left: when path is missing
// and its previous version sits aside (.X.old-*, the kill fell between
// the two renames of a swap), it is renamed back; then stale temporaries
// of path are removed. When a live writer is mid-swap it waits for it
// (up to RepairWait). A path that never existed is not an error.
func RepairDir(path string) error {
	path = filepath.Clean(path)
	parent, base := filepath.Split(path)
	if parent == "" {
		parent = "."
	}
	deadline := time.Now().Add(RepairWait)
	for {
		if _, err := os.Lstat(path); err == nil {
			_, err := CleanStale(path)
			return err
		}
		l, err := lockDir(parent, true, false)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil
		case errors.Is(err, errBusy):
			// A writer is inside; it may be between its two renames.
			if time.Now().After(deadline) {
				return fmt.Errorf("%s is missing while another process writes beside it; retry when it has finished", path)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		case errors.Is(err, errNoLock):
			return restoreOld(parent, base, path, true)
		case err != nil:
			return err
		}
		err = restoreOld(parent, base, path, false)
		if err == nil {
			cleanLocked(parent, base, false)
		}
		l.unlock()
		return err
	}
}

// restoreOld renames the newest .X.old-* back to path, if any.
func restoreOld(parent, base, path string, byAge bool) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var best string
	var bestTime time.Time
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || len(n) <= len(OldPrefix(base)) || n[:len(OldPrefix(base))] != OldPrefix(base) {
			continue
		}
		fi, err := e.Info()
		if err != nil || (byAge && time.Since(fi.ModTime()) < StaleAge) {
			continue
		}
		if best == "" || fi.ModTime().After(bestTime) {
			best, bestTime = n, fi.ModTime()
		}
	}
	if best == "" {
		return nil
	}
	if err := os.Rename(filepath.Join(parent, best), path); err != nil {
		return fmt.Errorf("restoring %s from %s after an interrupted replacement: %w", path, best, err)
	}
	syncDir(parent)
	return nil
}

// syncTree fsyncs every regular file under dir, and the directories.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		serr := f.Sync()
		f.Close()
		if serr != nil && d.Type().IsRegular() {
			return serr
		}
		return nil
	})
}
