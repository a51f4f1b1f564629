//go:build !linux

package atomicfile

// exchange is unavailable here; ReplaceDir uses two renames, repaired by
// RepairDir after a crash between them.
func exchange(a, b string) error { return errNoExchange }
