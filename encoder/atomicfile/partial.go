package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A long output (hours of embedding) cannot be produced in one Write call
// and must survive the death of its writer. It grows as a Partial under a
// hidden name beside its final path, with a small checkpoint manifest next
// to it, and is renamed into place when complete:
//
//	DIR/.X.partial        the data so far (resumable)
//	DIR/.X.partial.json   the writer's checkpoint manifest (resumable)
//	DIR/.X.tmp-*          a Write temporary (never resumable)
//
// CleanStale keeps what IsResumable reports.

const (
	partialSuffix  = ".partial"
	manifestSuffix = ".partial.json"
)

// PartialPath is where the resumable data of path lives until Commit
// (PartialPrefix of its base name).
func PartialPath(path string) string {
	return filepath.Join(filepath.Dir(path), PartialPrefix(filepath.Base(path)))
}

// PartialManifestPath is where the checkpoint manifest of path's partial
// data lives.
func PartialManifestPath(path string) string {
	return PartialPath(path) + ".json"
}

// IsResumable reports whether a file name (a base name or a path) is
// resumable partial data or its manifest, which cleanups must not delete.
func IsResumable(name string) bool {
	base := filepath.Base(name)
	if !strings.HasPrefix(base, ".") {
		return false
	}
	return strings.HasSuffix(base, partialSuffix) || strings.HasSuffix(base, manifestSuffix)
}

// Partial is resumable data growing beside its final path. While it is
// open it holds an exclusive lock, so two writers never interleave rows.
type Partial struct {
	f    *os.File
	path string
}

// ErrLocked is returned (wrapped) by OpenPartial when another process has
// the partial data open.
var ErrLocked = errors.New("another process is writing it")

// ErrPartialShort is returned (wrapped) by Truncate when the partial data
// is shorter than its checkpoint claims.
var ErrPartialShort = errors.New("partial data is shorter than its checkpoint")

// OpenPartial opens (or creates, empty) the partial data of path and locks
// it. Nothing is truncated: read the checkpoint, then call Truncate with 0
// to start afresh or with the checkpoint's size to continue.
func OpenPartial(path string) (*Partial, error) {
	name := PartialPath(path)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Partial{f: f, path: path}, nil
}

// Truncate cuts the data to size bytes (what the last checkpoint made
// durable: anything after it was written after the checkpoint and is
// dropped; 0 starts afresh) and positions the file at its end.
func (p *Partial) Truncate(size int64) error {
	st, err := p.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < size {
		return fmt.Errorf("%s: %w (%d bytes, the checkpoint says %d)", p.f.Name(), ErrPartialShort, st.Size(), size)
	}
	if err := p.f.Truncate(size); err != nil {
		return err
	}
	_, err = p.f.Seek(size, io.SeekStart)
	return err
}

// Size is the current length of the data.
func (p *Partial) Size() (int64, error) {
	st, err := p.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// File is the open partial data, positioned for appending.
func (p *Partial) File() *os.File { return p.f }

// Sync makes what was written durable: call it before a checkpoint
// manifest claims the data.
func (p *Partial) Sync() error { return p.f.Sync() }

// Close closes the data (releasing the lock) and keeps it for a later
// OpenPartial.
func (p *Partial) Close() error { return p.f.Close() }

// Commit syncs the complete data, renames it onto the final path and
// syncs the directory. The manifest is the caller's to remove.
func (p *Partial) Commit() error {
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return err
	}
	if err := p.f.Close(); err != nil {
		return err
	}
	point(PointPartialWritten)
	if err := os.Rename(PartialPath(p.path), p.path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(p.path))
}

// RemovePartial deletes the partial data of path and its manifest, if any.
func RemovePartial(path string) error {
	var errs []error
	for _, name := range []string{PartialManifestPath(path), PartialPath(path)} {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SyncDir syncs a directory, making renames inside it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
