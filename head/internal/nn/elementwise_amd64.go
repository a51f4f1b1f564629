//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

//go:noescape
func expSum8(n int, x *float32, m float32) float32

//go:noescape
func geluErfForward8(n int, x, y, cdf *float32)

//go:noescape
func geluErfBackward8(n int, x, cdf, dy, dx *float32)

// expSubVec sets x[i] = exp32(x[i] − m) on the longest multiple of 8 and
// returns how many elements it did and the sum of their results.
func expSubVec(x []float32, m float32) (int, float32) {
	n := len(x) &^ 7
	if !haveFMA || n == 0 {
		return 0, 0
	}
	return n, expSum8(n, &x[0], m)
}

// geluErfVec is geluErfForward on the longest multiple of 8 elements.
func geluErfVec(x, y, cdf []float32) int {
	n := len(x) &^ 7
	if !haveFMA || n == 0 {
		return 0
	}
	_, _ = y[n-1], cdf[n-1]
	geluErfForward8(n, &x[0], &y[0], &cdf[0])
	return n
}

// geluErfBackVec is geluErfBackward on the longest multiple of 8 elements.
func geluErfBackVec(x, cdf, dy, dx []float32) int {
	n := len(x) &^ 7
	if !haveFMA || n == 0 {
		return 0
	}
	_, _, _ = cdf[n-1], dy[n-1], dx[n-1]
	geluErfBackward8(n, &x[0], &cdf[0], &dy[0], &dx[0])
	return n
}

//go:noescape
func softmaxRow16(n int, x, keep, pd *float32)

//go:noescape
func softmaxBack16(n int, d, p, keep *float32)

//go:noescape
func dropoutPairs8(k int, s uint64, mask *float32, thr uint32, keep float32)

// haveAVX512DQ gates the dropout mask generator (64-bit multiplies).
var haveAVX512DQ = haveAVX512 && cpu.X86.HasAVX512DQ
