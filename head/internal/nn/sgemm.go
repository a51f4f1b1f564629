package nn

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// The float32 product behind training. On amd64 with AVX2 and FMA it is
// a packed, blocked product around a 6×16 register-tile kernel (in the
// style of GotoBLAS/BLIS), split across cores by column panels; elsewhere,
// and for thin shapes the tile would waste, it is gonum's Sgemm. Each
// element of C is summed by one goroutine in a fixed order, so results do
// not depend on the number of cores (they may differ in the last bits
// from the gonum path, which does not fuse multiply-adds).

const (
	tileM  = 6
	tileN  = 16
	blockK = 256
	blockM = 16 * tileM
	// fastMinFlops is the smallest product worth packing for.
	fastMinFlops = 1 << 15
	// flopsPerWorker is the least work worth another goroutine.
	flopsPerWorker = 1 << 20
)

// useBlocked routes float32 products to the AVX-512 blocked kernel
// (with the fused bias and the kept packs of frozen weights).
var useBlocked = haveAVX512

func init() {
	switch {
	case haveAVX512:
		gemm32 = sgemmBlas512
	case haveFMA:
		gemm32 = sgemmAuto
	}
}

// sgemmBlas512 is sgemm512 with gonum's signature.
func sgemmBlas512(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm512(tA == blas.Trans, tB == blas.Trans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// sgemmAuto picks the tiled kernel for shapes it suits, gonum otherwise.
// A narrow C (fewer than 16 columns, as a LoRA branch's products
// have) is computed by dot products when op(A)'s rows are contiguous,
// else transposed, Cᵀ = op(B)ᵀ·op(A)ᵀ, so the kernel's 16 lanes run
// along the long side.
func sgemmAuto(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch {
	case k < 8 || m*n*k < fastMinFlops:
	case n >= tileN && m >= 2 && tB == blas.Trans && m >= 4*tileM:
		// Packing op(B) from a transposed B reads 16 row streams per
		// panel, twice slower than from rows (measured at x·Wᵀ shapes):
		// transpose B once (n·k copies against m·n·k multiply-adds) and
		// pack from rows. The panels hold the same values either way, so
		// results are bit-identical.
		tbuf := getBuf(k * n)
		transpose(*tbuf, b, ldb, n, k)
		sgemmTiled(tA == blas.Trans, false, m, n, k, alpha, a, lda, *tbuf, n, beta, c, ldc)
		packPool.Put(tbuf)
		return
	case n >= tileN && m >= 2:
		sgemmTiled(tA == blas.Trans, tB == blas.Trans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	case tA != blas.Trans:
		sgemmDots(tB == blas.Trans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	case n >= 4 && m >= tileN:
		tbuf := getBuf(n * m)
		t := *tbuf
		sgemmTiled(tB != blas.Trans, tA != blas.Trans, n, m, k, 1, b, ldb, a, lda, 0, t, m)
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				v := alpha * t[j*m+i]
				if beta == 0 {
					row[j] = v
				} else {
					row[j] = v + beta*row[j]
				}
			}
		}
		packPool.Put(tbuf)
		return
	}
	impl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmDots computes a narrow C = alpha·A·op(B) + beta·C (A not
// transposed) as dot products of A's rows with op(B)'s columns, gathered
// once into rows; rows of C are split across cores.
func sgemmDots(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	cols := make([][]float32, n)
	var tbuf *[]float32
	if transB { // op(B) column j is row j of b
		for j := range cols {
			cols[j] = b[j*ldb : j*ldb+k]
		}
	} else {
		tbuf = getBuf(n * k)
		t := *tbuf
		for l := 0; l < k; l++ {
			for j, v := range b[l*ldb : l*ldb+n] {
				t[j*k+l] = v
			}
		}
		for j := range cols {
			cols[j] = t[j*k : (j+1)*k]
		}
	}
	rows := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ai := a[i*lda : i*lda+k]
			ci := c[i*ldc : i*ldc+n]
			for j, col := range cols {
				v := alpha * Dot(ai, col)
				if beta == 0 {
					ci[j] = v
				} else {
					ci[j] = v + beta*ci[j]
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, 2*m*n*k/flopsPerWorker), m)
	if workers <= 1 {
		rows(0, m)
	} else {
		var wg sync.WaitGroup
		per := (m + workers - 1) / workers
		for lo := 0; lo < m; lo += per {
			hi := min(lo+per, m)
			wg.Add(1)
			go func() {
				defer wg.Done()
				rows(lo, hi)
			}()
		}
		wg.Wait()
	}
	if tbuf != nil {
		packPool.Put(tbuf)
	}
}

var packPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	p := packPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// sgemmTiled computes c = alpha·op(a)·op(b) + beta·c with the kernel.
func sgemmTiled(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panels := (n + tileN - 1) / tileN
	workers := min(runtime.GOMAXPROCS(0), panels, max(1, 2*m*n*k/flopsPerWorker))
	if workers <= 1 {
		sgemmPanels(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, panels)
		return
	}
	var wg sync.WaitGroup
	per := (panels + workers - 1) / workers
	for p0 := 0; p0 < panels; p0 += per {
		p1 := min(p0+per, panels)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sgemmPanels(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, p0, p1)
		}()
	}
	wg.Wait()
}

// sgemmPanels computes the columns of column panels [p0, p1).
func sgemmPanels(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, p0, p1 int) {
	j0, j1 := p0*tileN, min(p1*tileN, n)
	np := p1 - p0
	kb0 := min(blockK, k)
	bufB := getBuf(kb0 * np * tileN)
	bufA := getBuf(kb0 * blockM)
	defer packPool.Put(bufB)
	defer packPool.Put(bufA)
	var tile [tileM * tileN]float32
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc+j0 : i*ldc+j1]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
	}
	for pc := 0; pc < k; pc += blockK {
		kb := min(blockK, k-pc)
		packB(*bufB, b, ldb, transB, pc, kb, j0, j1)
		for ic := 0; ic < m; ic += blockM {
			mb := min(blockM, m-ic)
			packA(*bufA, a, lda, transA, ic, mb, pc, kb)
			for jp := 0; jp < np; jp++ {
				cj := j0 + jp*tileN
				cols := min(tileN, j1-cj)
				bp := (*bufB)[jp*tileN*kb : (jp+1)*tileN*kb]
				for ip := 0; ip*tileM < mb; ip++ {
					ap := (*bufA)[ip*tileM*kb : (ip+1)*tileM*kb]
					rows := min(tileM, mb-ip*tileM)
					ci := ic + ip*tileM
					if rows == tileM && cols == tileN {
						kernel6x16(kb, ap, bp, c[ci*ldc+cj:], ldc, alpha)
						continue
					}
					// A partial tile goes through a scratch tile.
					clear(tile[:])
					kernel6x16(kb, ap, bp, tile[:], tileN, 1)
					for r := 0; r < rows; r++ {
						crow := c[(ci+r)*ldc+cj : (ci+r)*ldc+cj+cols]
						for j, v := range tile[r*tileN : r*tileN+cols] {
							crow[j] += alpha * v
						}
					}
				}
			}
		}
	}
}

// packA copies rows [ic, ic+mb) and columns [pc, pc+kb) of op(a) into
// panels of tileM rows, k-major within a panel, zero-padding the last.
func packA(dst, a []float32, lda int, trans bool, ic, mb, pc, kb int) {
	for ip := 0; ip*tileM < mb; ip++ {
		panel := dst[ip*tileM*kb : (ip+1)*tileM*kb]
		rows := min(tileM, mb-ip*tileM)
		i0 := ic + ip*tileM
		if trans { // op(a)(i, l) = a[l, i]
			if rows == tileM {
				for l := 0; l < kb; l++ {
					src := a[(pc+l)*lda+i0 : (pc+l)*lda+i0+tileM : (pc+l)*lda+i0+tileM]
					d := panel[l*tileM : l*tileM+tileM : l*tileM+tileM]
					d[0], d[1], d[2], d[3], d[4], d[5] = src[0], src[1], src[2], src[3], src[4], src[5]
				}
				continue
			}
			for l := 0; l < kb; l++ {
				src := a[(pc+l)*lda+i0 : (pc+l)*lda+i0+rows]
				d := panel[l*tileM : l*tileM+tileM]
				copy(d, src)
				clear(d[rows:])
			}
			continue
		}
		for r := 0; r < tileM; r++ {
			if r >= rows {
				for l := 0; l < kb; l++ {
					panel[l*tileM+r] = 0
				}
				continue
			}
			src := a[(i0+r)*lda+pc : (i0+r)*lda+pc+kb]
			for l, v := range src {
				panel[l*tileM+r] = v
			}
		}
	}
}

// packB copies rows [pc, pc+kb) and columns [j0, j1) of op(b) into
// panels of tileN columns, k-major within a panel, zero-padding the last.
func packB(dst, b []float32, ldb int, trans bool, pc, kb, j0, j1 int) {
	for jp := 0; j0+jp*tileN < j1; jp++ {
		panel := dst[jp*tileN*kb : (jp+1)*tileN*kb]
		cj := j0 + jp*tileN
		cols := min(tileN, j1-cj)
		if !trans && cols == tileN { // op(b)(l, j) = b[l, j]
			for l := 0; l < kb; l++ {
				src := b[(pc+l)*ldb+cj : (pc+l)*ldb+cj+tileN : (pc+l)*ldb+cj+tileN]
				d := panel[l*tileN : l*tileN+tileN : l*tileN+tileN]
				for j := range d {
					d[j] = src[j]
				}
			}
			continue
		}
		if trans && cols == tileN { // op(b)(l, j) = b[j, l]: 16 row streams
			var rows [tileN][]float32
			for j := range rows {
				rows[j] = b[(cj+j)*ldb+pc : (cj+j)*ldb+pc+kb]
			}
			for l := 0; l < kb; l++ {
				d := panel[l*tileN : l*tileN+tileN : l*tileN+tileN]
				d[0], d[1], d[2], d[3] = rows[0][l], rows[1][l], rows[2][l], rows[3][l]
				d[4], d[5], d[6], d[7] = rows[4][l], rows[5][l], rows[6][l], rows[7][l]
				d[8], d[9], d[10], d[11] = rows[8][l], rows[9][l], rows[10][l], rows[11][l]
				d[12], d[13], d[14], d[15] = rows[12][l], rows[13][l], rows[14][l], rows[15][l]
			}
			continue
		}
		if !trans {
			for l := 0; l < kb; l++ {
				d := panel[l*tileN : l*tileN+tileN]
				copy(d, b[(pc+l)*ldb+cj:(pc+l)*ldb+cj+cols])
				clear(d[cols:])
			}
			continue
		}
		for j := 0; j < tileN; j++ {
			if j >= cols {
				for l := 0; l < kb; l++ {
					panel[l*tileN+j] = 0
				}
				continue
			}
			src := b[(cj+j)*ldb+pc : (cj+j)*ldb+pc+kb]
			for l, v := range src {
				panel[l*tileN+j] = v
			}
		}
	}
}

// transpose writes the rows×cols matrix src (row stride ld) transposed
// into dst (cols×rows, stride rows), in 32×32 blocks.
func transpose(dst, src []float32, ld, rows, cols int) {
	const blk = 32
	for i0 := 0; i0 < rows; i0 += blk {
		i1 := min(i0+blk, rows)
		for j0 := 0; j0 < cols; j0 += blk {
			j1 := min(j0+blk, cols)
			for i := i0; i < i1; i++ {
				row := src[i*ld+j0 : i*ld+j1]
				for j, v := range row {
					dst[(j0+j)*rows+i] = v
				}
			}
		}
	}
}
