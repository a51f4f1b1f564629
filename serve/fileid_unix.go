//go:build unix

package serve

import (
	"fmt"
	"os"
	"syscall"
)

// fileID is a file's device and inode: a directory swapped in by a rename
// has another.
func fileID(st os.FileInfo) string {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", sys.Dev, sys.Ino)
	}
	return ""
}
