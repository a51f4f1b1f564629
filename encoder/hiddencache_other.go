//go:build !unix

package encoder

import "os"

// mapFile reads the first size bytes of f (no mmap on this platform).
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	buf, err := readAll(f, size)
	return buf, func() error { return nil }, err
}

// withFileLock runs fn; without flock, processes must not share a cache
// file.
func withFileLock(f *os.File, path string, fn func() error) error { return fn() }

// FreeBytes cannot measure free space here.
func FreeBytes(path string) (int64, error) { return 0, ErrNoStatfs }
