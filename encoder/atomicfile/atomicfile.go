// Package atomicfile writes files so that readers never see a partial one:
// the content goes to a temporary file in the destination directory, is
// synced, and is renamed over the final name. A failed or interrupted write
// leaves any previous file untouched and no temporary file behind.
//
// It is pure Go so head/, models/ and encoder/ can all share it.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write creates path with the bytes produced by write.
func Write(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
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
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// WriteBytes creates path holding data.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
