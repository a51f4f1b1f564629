//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// dirLock is a flock(2) on a directory. Writers hold it shared for the
// whole of a write into the directory; a cleaner takes it exclusive and
// non-blocking, which succeeds only when no writer (of any process on this
// machine) is inside: then every temporary of ours there is stale. The
// kernel drops the lock when its holder dies, so a killed writer never
// keeps its temporaries alive.
type dirLock struct{ f *os.File }

func lockDir(dir string, exclusive, wait bool) (*dirLock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, errNoLock // a file system without flock: fall back to age
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the descriptor releases the flock
		l.f = nil
	}
}

// lock takes an exclusive advisory lock on a partial output without
// waiting; it is released when f is closed or its process dies (kill -9
// included).
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
