package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Float is the element type: float32 for training, float64 for checks.
type Float interface{ float32 | float64 }

// Mat is a dense row-major matrix.
type Mat[T Float] struct {
	Rows, Cols int
	Data       []T
}

// NewMat returns a zero rows×cols matrix.
func NewMat[T Float](rows, cols int) *Mat[T] {
	return &Mat[T]{Rows: rows, Cols: cols, Data: make([]T, rows*cols)}
}

// Row returns row i, aliasing Data.
func (m *Mat[T]) Row(i int) []T { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Resize makes m rows×cols, reusing its storage when large enough. The
// contents are unspecified.
func (m *Mat[T]) Resize(rows, cols int) {
	n := rows * cols
	if cap(m.Data) < n {
		m.Data = make([]T, n)
	}
	m.Data = m.Data[:n]
	m.Rows, m.Cols = rows, cols
}

// Zero sets every element to 0.
func (m *Mat[T]) Zero() { clear(m.Data) }

// reuse returns m resized, or a new matrix when m is nil.
func reuse[T Float](m *Mat[T], rows, cols int) *Mat[T] {
	if m == nil {
		return NewMat[T](rows, cols)
	}
	m.Resize(rows, cols)
	return m
}

var impl gonum.Implementation

// Gemm computes c = alpha·op(a)·op(b) + beta·c, where op transposes when
// the flag is set. Shapes are checked first: gonum panics on misuse.
func Gemm[T Float](transA, transB bool, alpha T, a, b *Mat[T], beta T, c *Mat[T]) {
	m, k := a.Rows, a.Cols
	if transA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if transB {
		kb, n = n, kb
	}
	if k != kb || c.Rows != m || c.Cols != n {
		panic(fmt.Sprintf("nn.Gemm: op(a) %d×%d, op(b) %d×%d, c %d×%d", m, k, kb, n, c.Rows, c.Cols))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if beta != 1 {
			for i := range c.Data {
				c.Data[i] *= beta
			}
		}
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	switch cd := any(c.Data).(type) {
	case []float32:
		gemm32(ta, tb, m, n, k, float32(alpha), any(a.Data).([]float32), a.Cols, any(b.Data).([]float32), b.Cols, float32(beta), cd, c.Cols)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, float64(alpha), any(a.Data).([]float64), a.Cols, any(b.Data).([]float64), b.Cols, float64(beta), cd, c.Cols)
	}
}

// gemm32 is the float32 product; a faster kernel can replace gonum here.
var gemm32 = impl.Sgemm

// gemmRaw is Gemm on raw row-major storage: c [m, n] (row stride ldc) =
// alpha·op(a)·op(b) + beta·c, a and b with row strides lda and ldb (the
// views of sub-matrices, such as one attention head's columns). It runs
// on the calling goroutine where it can: its callers (attention) already
// split their work across cores.
func gemmRaw[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	switch cd := any(c).(type) {
	case []float32:
		if useBlocked { // one goroutine: the callers split the work
			sgemm512w(transA, transB, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), cd, ldc, nil, 1)
			return
		}
		gemm32(ta, tb, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), cd, ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), cd, ldc)
	}
}
