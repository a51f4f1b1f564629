//go:build unix

package encoder

import (
	"syscall"
	"time"
)

// processCPU is the user+system CPU time of the process so far; benchmarks
// report CPU time per sentence, which stays meaningful on a shared machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
