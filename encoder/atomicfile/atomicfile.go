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
// Create is Write for code that writes a file incrementally (a temporary
// committed or aborted later). Outputs that take hours and must survive
// the death of their writer grow as a Partial instead (partial.go):
// resumable data under .X.partial beside X, with a checkpoint manifest
// .X.partial.json, locked while written and renamed into place when
// complete; IsResumable tells such names from temporaries.
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

// File is a temporary file that becomes path on Commit: Write for outputs
// written incrementally by code that cannot be put in one callback. Like
// Write, it holds its directory's shared lock until Commit or Abort, so a
// cleaner never takes it for a killed run's leftover.
type File struct {
	*os.File
	path string
	dir  string
	lock *dirLock
	done bool
}

// Create opens a temporary file beside path (mode 0644), after removing
// the stale temporaries of path that killed runs left.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	_, _ = CleanStale(path)
	l, err := lockDir(dir, false, true)
	if err != nil && !errors.Is(err, errNoLock) {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, TempPrefix(base)+"*")
	if err != nil {
		l.unlock()
		return nil, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		l.unlock()
		return nil, err
	}
	return &File{File: tmp, path: path, dir: dir, lock: l}, nil
}

// Commit syncs the file, closes it and renames it onto the final path.
func (f *File) Commit() error {
	if f.done {
		return os.ErrClosed
	}
	f.done = true
	defer f.lock.unlock()
	name := f.Name()
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		point(PointFileWritten)
		err = os.Rename(name, f.path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	syncDir(f.dir)
	return nil
}

// Abort closes and removes the temporary file; the final path is left as
// it was. It is a no-op after Commit.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	defer f.lock.unlock()
	f.Close()
	return os.Remove(f.Name())
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
