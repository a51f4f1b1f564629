// Package atomicfile is the one place where bertserve writes files and
// directories so that readers never see a partial one, and so that a
// killed run leaves nothing behind for long:
//
//   - Write puts a file's content in a temporary beside it (.X.tmp-*),
//     syncs it and renames it over X;
//   - ReplaceDir fills a temporary directory beside a destination and
//     swaps it in with one atomic exchange (Linux renameat2), or with two
//     renames that RepairDir completes after a crash between them;
//   - RepairDir, which every command that opens such a directory calls
//     (head.Load does), finds the old or the new directory whatever the
//     kill point, and CleanStale removes the temporaries killed runs left.
//
// A temporary is stale only when no writer is inside its directory: every
// writer holds a shared flock on the directory while it writes, which the
// kernel drops when the writer dies; a cleaner needs the exclusive lock.
// Names other than .X.tmp-* and .X.old-* are never removed; resumable
// partial outputs use .X.partial* (PartialPrefix) and survive cleanup.
//
// It is pure Go so head/, models/ and encoder/ can all share it.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates path with the bytes produced by write. A failed write
// leaves any previous file untouched and no temporary behind; a killed
// one leaves a temporary that the next Write to path (or CleanStale)
// removes.
func Write(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	_, _ = CleanStale(path)
	l, err := lockDir(dir, false, true)
	if err != nil && !errors.Is(err, errNoLock) {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer l.unlock()
	tmp, err := os.CreateTemp(dir, TempPrefix(base)+"*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	// CreateTemp makes the file 0600; a model or head directory must be
	// readable by the service that loads it, like any file os.Create makes.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	point(PointFileWritten)
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	syncDir(dir)
	return nil
}

// WriteBytes creates path holding data.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
