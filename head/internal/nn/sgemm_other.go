//go:build !amd64 || purego

package nn

const haveFMA = false

func kernel6x16(k int, a, b, c []float32, ldc int, alpha float32) {
	panic("nn: no SIMD kernel on this platform")
}

func adamVec(m, v, w, g []float32, k *[8]float32) int { return 0 }

func geluVec(x, y, t []float32) int { return 0 }
