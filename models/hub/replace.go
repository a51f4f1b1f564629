package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkReplaceable refuses a destination that exists and is not a model
// directory, so a mistyped --dir cannot wipe a folder of the user's.
func checkReplaceable(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s exists and is not a directory: choose another --dir", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	for _, marker := range []string{"bertserve.json", "model.onnx"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s exists and is not a model directory (no bertserve.json or model.onnx), so pull will not replace it: choose another --dir or remove it", dir)
}

// replaceDir puts the finished directory newDir at dst. When dst does not
// exist this is one rename. When it does, the two are exchanged
// atomically where the system can (Linux renameat2), else dst is moved
// aside first and restored if the second rename fails; the old content is
// deleted afterwards.
func replaceDir(newDir, dst string) error {
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(newDir, dst); err != nil {
			return fmt.Errorf("moving the finished model into place: %w", err)
		}
		return nil
	}
	if err := exchange(newDir, dst); err == nil {
		// newDir now holds the previous model.
		return os.RemoveAll(newDir)
	}
	old, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".old-*")
	if err != nil {
		return err
	}
	if err := os.Remove(old); err != nil {
		return err
	}
	if err := os.Rename(dst, old); err != nil {
		return fmt.Errorf("moving the previous model aside: %w", err)
	}
	if err := os.Rename(newDir, dst); err != nil {
		if rerr := os.Rename(old, dst); rerr != nil {
			return fmt.Errorf("moving the finished model into place: %w (and restoring the previous one from %s: %v)", err, old, rerr)
		}
		return fmt.Errorf("moving the finished model into place: %w", err)
	}
	return os.RemoveAll(old)
}
