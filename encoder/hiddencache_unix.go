//go:build unix

package encoder

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mapFile maps the first size bytes of f read-only.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		// Some file systems cannot map; read the file instead.
		buf, rerr := readAll(f, size)
		if rerr != nil {
			return nil, nil, fmt.Errorf("mapping: %v; reading: %w", err, rerr)
		}
		return buf, func() error { return nil }, nil
	}
	return data, func() error { return unix.Munmap(data) }, nil
}

// withFileLock runs fn holding an exclusive flock on f (the file at
// path), so processes sharing a cache file append one at a time.
func withFileLock(f *os.File, path string, fn func() error) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return fn()
}

// FreeBytes is the space available to this user on the file system that
// holds path (or its nearest existing parent).
func FreeBytes(path string) (int64, error) {
	for {
		var st unix.Statfs_t
		err := unix.Statfs(path, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		parent := filepath.Dir(path)
		if !os.IsNotExist(err) || parent == path {
			return 0, fmt.Errorf("free space of %s: %w", path, err)
		}
		path = parent
	}
}
