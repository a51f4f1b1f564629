//go:build !linux

package hub

import "errors"

// exchange is unavailable here; replaceDir falls back to two renames.
func exchange(a, b string) error {
	return errors.New("atomic exchange not supported on this system")
}
