//go:build unix

package nn

import "syscall"

// processCPU returns the CPU time (user + system) the process has used,
// in seconds: on a machine shared with other jobs it shows how much work
// a step took, apart from the time spent waiting for a core.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}
