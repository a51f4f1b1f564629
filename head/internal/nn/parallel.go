package nn

import (
	"runtime"
	"sync"
)

// parallelMin is the smallest job worth splitting across goroutines.
const parallelMin = 1 << 14

// parallelFor calls f on disjoint [lo, hi) ranges covering [0, n),
// concurrently when n is large. f must only write inside its range, so
// results never depend on scheduling.
func parallelFor(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
