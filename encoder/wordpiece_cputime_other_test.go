//go:build !unix

package encoder

import "time"

// processCPU is not available here; benchmarks then report 0 CPU time.
func processCPU() time.Duration { return 0 }
