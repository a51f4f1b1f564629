//go:build !unix

package atomicfile

import "os"

// dirLock has no flock here: writers take nothing and cleaners go by age
// (a temporary untouched for StaleAge is stale).
type dirLock struct{ f *os.File }

func lockDir(dir string, exclusive, wait bool) (*dirLock, error) {
	if !exclusive {
		return &dirLock{}, nil
	}
	return nil, errNoLock
}

func (l *dirLock) unlock() {}

// lock is a no-op where flock(2) does not exist: two writers of one
// partial output are not detected there.
func lock(*os.File) error { return nil }
