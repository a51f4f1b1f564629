package nn

import (
	"runtime"
	"sync"
)

// The blocked float32 product on the AVX-512 micro-kernel
// (sgemm_avx512_amd64.s), in the GotoBLAS/BLIS scheme:
//
//	for each block of 512 columns (jc), each block of 256 k (pc):
//	  for each tile of 12 rows of C (split across cores):
//	    for each panel of 32 columns in the jc block:
//	      kernel: C tile (+)= A tile (12×kc) · B panel (kc×32)
//
// op(B) is packed once per product into k-major panels of 32 columns
// (shared by the cores; a frozen weight is packed once for good, see
// packCache); op(A) is read in place when its rows are contiguous (the
// kernel takes byte strides), else a tile is packed into 12-row panels.
// The 12×kc A tile stays in L1 while the kc×512 B block streams from L2.
// Every element of C is summed by one kernel call per k block, in k
// order, the blocks in order: results do not depend on how rows are
// split across cores.

const (
	bkMR = 12
	bkNR = 32
	bkKC = 256
	bkNC = 512

	kFlagAcc   = 1
	kFlagBias  = 2
	kFlagScale = 4
)

// inPlaceB lets the kernel read op(B) in place where it can (tests turn
// it off to check both paths give the same bits).
var inPlaceB = true

// bSource is op(B) as the kernel reads it: packed panels, or the rows of
// the caller's B in place (see inPlace).
type bSource struct {
	pb  *packedB
	b   []float32
	rsb int
}

// panel returns the start and the row stride (bytes) of the kb rows from
// pc of the panel holding column j0.
func (s bSource) panel(pc, j0, kb int) (*float32, uintptr) {
	if s.pb != nil {
		p := s.pb.panel(pc, j0)
		_ = p[kb*bkNR-1]
		return &p[0], 4 * bkNR
	}
	o := pc*s.rsb + j0
	_ = s.b[o+(kb-1)*s.rsb+bkNR-1]
	return &s.b[o], uintptr(s.rsb) * 4
}

// inPlace reports whether op(B) (element (l, j) at b[l·rsb + j·csb]) is
// read without packing: its rows must be contiguous, n a multiple of 32
// (no partial panel), and the row stride not a multiple of 4 KiB, whose
// rows would all fall in one L1 set and evict the A tile (measured:
// in place is as fast as packing at the layers' strides, 1.5, 2 and 6
// KiB, and 10–25% slower at 8 KiB).
func inPlace(rsb, csb, n int) bool {
	return inPlaceB && csb == 1 && n%bkNR == 0 && rsb%1024 != 0
}

// packedB is op(B) [k, n] in panels: k block pc (rows pc..pc+kb-1)
// starts at pc·npad and holds its panels of 32 columns one after the
// other, each kb×32, k-major, zero beyond column n.
type packedB struct {
	k, n, npad int
	data       []float32
}

func (p *packedB) resize(k, n int) {
	p.k, p.n = k, n
	p.npad = (n + bkNR - 1) / bkNR * bkNR
	if cap(p.data) < k*p.npad {
		p.data = make([]float32, k*p.npad)
	}
	p.data = p.data[:k*p.npad]
}

// panel returns the panel of k block pc holding column j0.
func (p *packedB) panel(pc, j0 int) []float32 {
	kb := min(bkKC, p.k-pc)
	off := pc*p.npad + j0/bkNR*bkNR*kb
	return p.data[off : off+bkNR*kb]
}

// pack fills p with op(B)(l, j) = b[l·rsb + j·csb], using up to workers
// goroutines (panels are independent).
func (p *packedB) pack(b []float32, rsb, csb, k, n, workers int) {
	p.resize(k, n)
	panels := p.npad / bkNR
	kblocks := (k + bkKC - 1) / bkKC
	items := panels * kblocks
	one := func(lo, hi int) {
		for it := lo; it < hi; it++ {
			pc, j0 := it/panels*bkKC, it%panels*bkNR
			p.packPanel(b, rsb, csb, pc, j0)
		}
	}
	if workers <= 1 || items < 2 {
		one(0, items)
		return
	}
	var wg sync.WaitGroup
	per := (items + workers - 1) / workers
	for lo := 0; lo < items; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			one(lo, hi)
		}(lo, min(lo+per, items))
	}
	wg.Wait()
}

func (p *packedB) packPanel(b []float32, rsb, csb, pc, j0 int) {
	kb := min(bkKC, p.k-pc)
	cols := min(bkNR, p.n-j0)
	d := p.panel(pc, j0)
	switch {
	case csb == 1 && cols == bkNR: // rows of op(B) are contiguous
		for l := 0; l < kb; l++ {
			src := b[(pc+l)*rsb+j0 : (pc+l)*rsb+j0+bkNR : (pc+l)*rsb+j0+bkNR]
			copy(d[l*bkNR:l*bkNR+bkNR:l*bkNR+bkNR], src)
		}
	case csb == 1:
		for l := 0; l < kb; l++ {
			row := d[l*bkNR : l*bkNR+bkNR]
			copy(row, b[(pc+l)*rsb+j0:(pc+l)*rsb+j0+cols])
			clear(row[cols:])
		}
	case rsb == 1: // columns of op(B) are contiguous (B transposed)
		j := 0
		if haveAVX512 && kb >= 16 { // 16×16 blocks transposed in registers
			for ; j+16 <= cols; j += 16 {
				l := 0
				for ; l+16 <= kb; l += 16 {
					o := (j0+j)*csb + pc + l
					_ = b[o+15*csb+15]
					_ = d[(l+15)*bkNR+j+15]
					transpose16(&b[o], uintptr(csb)*4, &d[l*bkNR+j], 4*bkNR)
				}
				for ; l < kb; l++ {
					for jj := j; jj < j+16; jj++ {
						d[l*bkNR+jj] = b[(j0+jj)*csb+pc+l]
					}
				}
			}
		}
		for ; j < cols; j++ {
			src := b[(j0+j)*csb+pc : (j0+j)*csb+pc+kb]
			for l, v := range src {
				d[l*bkNR+j] = v
			}
		}
		if cols < bkNR {
			for l := 0; l < kb; l++ {
				clear(d[l*bkNR+cols : l*bkNR+bkNR])
			}
		}
	default:
		for l := 0; l < kb; l++ {
			row := d[l*bkNR : l*bkNR+bkNR]
			for j := 0; j < cols; j++ {
				row[j] = b[(pc+l)*rsb+(j0+j)*csb]
			}
			clear(row[cols:])
		}
	}
}

// packATile copies rows r0..r0+rows-1 and k range pc..pc+kb-1 of op(A)
// (element (i, l) at a[i·rsa + l·csa]) into scr, zero below the last
// row, and returns the byte strides the kernel reads it with: rows of
// op(A) that are contiguous are copied as rows (kb apart: a memmove per
// row, and a stride that spreads the rows over the L1 sets), others
// into a k-major panel of 12 values per l.
func packATile(scr, a []float32, rsa, csa, r0, rows, pc, kb int) (rs, cs uintptr) {
	scr = scr[:kb*bkMR]
	if csa == 1 {
		for r := 0; r < bkMR; r++ {
			d := scr[r*kb : r*kb+kb]
			if r < rows {
				copy(d, a[(r0+r)*rsa+pc:(r0+r)*rsa+pc+kb])
			} else {
				clear(d)
			}
		}
		return uintptr(kb) * 4, 4
	}
	if rsa == 1 && rows == bkMR { // 12 contiguous values per l
		for l := 0; l < kb; l++ {
			o := (pc+l)*csa + r0
			s, d := a[o:o+bkMR:o+bkMR], scr[l*bkMR:l*bkMR+bkMR:l*bkMR+bkMR]
			d[0], d[1], d[2], d[3], d[4], d[5] = s[0], s[1], s[2], s[3], s[4], s[5]
			d[6], d[7], d[8], d[9], d[10], d[11] = s[6], s[7], s[8], s[9], s[10], s[11]
		}
		return 4, 4 * bkMR
	}
	for l := 0; l < kb; l++ {
		d := scr[l*bkMR : l*bkMR+bkMR]
		for r := 0; r < rows; r++ {
			d[r] = a[(r0+r)*rsa+(pc+l)*csa]
		}
		clear(d[rows:])
	}
	return 4, 4 * bkMR
}

// blockedWorkers is how many goroutines a product of m rows is worth.
func blockedWorkers(m, n, k int) int {
	tiles := (m + bkMR - 1) / bkMR
	return min(runtime.GOMAXPROCS(0), tiles, max(1, 2*m*n*k/flopsPerWorker))
}

var aScratch = sync.Pool{New: func() any { s := make([]float32, bkKC*bkMR); return &s }}

// sgemmBlocked computes C = alpha·op(A)·op(B) + beta·C, plus bias[j] on
// every row when bias is non-nil, where op(A)(i, l) = a[i·rsa + l·csa]
// [m, k] and op(B) [k, n] comes from pb.
func sgemmBlocked(m, n, k int, alpha float32, a []float32, rsa, csa int, pb bSource, beta float32, c []float32, ldc int, bias []float32, workers int) {
	tiles := (m + bkMR - 1) / bkMR
	workers = min(workers, tiles)
	if workers <= 1 {
		blockedTiles(m, n, k, alpha, a, rsa, csa, pb, beta, c, ldc, bias, 0, tiles)
		return
	}
	var wg sync.WaitGroup
	per := (tiles + workers - 1) / workers
	for t0 := 0; t0 < tiles; t0 += per {
		wg.Add(1)
		go func(t0, t1 int) {
			defer wg.Done()
			blockedTiles(m, n, k, alpha, a, rsa, csa, pb, beta, c, ldc, bias, t0, t1)
		}(t0, min(t0+per, tiles))
	}
	wg.Wait()
}

// blockedTiles computes the row tiles [t0, t1) of C.
func blockedTiles(m, n, k int, alpha float32, a []float32, rsa, csa int, pb bSource, beta float32, c []float32, ldc int, bias []float32, t0, t1 int) {
	i0, i1 := t0*bkMR, min(t1*bkMR, m)
	first := 0 // flags of the first k block
	switch {
	case beta == 0 && bias != nil:
		first = kFlagBias
	case beta == 0:
	default:
		first = kFlagAcc
		for i := i0; i < i1; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta != 1 {
				for j := range row {
					row[j] *= beta
				}
			}
			if bias != nil {
				for j, v := range bias[:n] {
					row[j] += v
				}
			}
		}
	}
	scale := 0
	if alpha != 1 {
		scale = kFlagScale
	}
	// A is read in place when its rows are contiguous, unless the row
	// stride is a multiple of 4 KiB: twelve rows would share one L1 set
	// (measured: 63 against 90 GFLOP/s per CPU-second at bge's 5600×512×2048).
	inPlaceA := csa == 1 && rsa%1024 != 0
	sp := aScratch.Get().(*[]float32)
	scr := *sp
	ldcb := uintptr(ldc) * 4
	for jc := 0; jc < n; jc += bkNC {
		j1 := min(jc+bkNC, n)
		for pc := 0; pc < k; pc += bkKC {
			kb := min(bkKC, k-pc)
			flags := kFlagAcc | scale
			if pc == 0 {
				flags = first | scale
			}
			for t := t0; t < t1; t++ {
				r0 := t * bkMR
				rows := min(bkMR, m-r0)
				var ap *float32
				var rs, cs uintptr
				if inPlaceA && rows == bkMR {
					_ = a[(r0+bkMR-1)*rsa+pc+kb-1]
					ap, rs, cs = &a[r0*rsa+pc], uintptr(rsa)*4, 4
				} else {
					rs, cs = packATile(scr, a, rsa, csa, r0, rows, pc, kb)
					ap = &scr[0]
				}
				for j0 := jc; j0 < j1; j0 += bkNR {
					cols := min(bkNR, n-j0)
					mask := uint32(uint64(1)<<cols - 1)
					bp, ldb := pb.panel(pc, j0, kb)
					_ = c[(r0+rows-1)*ldc+j0+cols-1]
					var bptr *float32
					if flags&kFlagBias != 0 {
						_ = bias[j0+cols-1]
						bptr = &bias[j0]
					}
					sgemmKernel12x32(kb, ap, rs, cs, bp, ldb, &c[r0*ldc+j0], ldcb, alpha, flags, bptr, rows, mask)
				}
			}
		}
	}
	aScratch.Put(sp)
}

var packedPool = sync.Pool{New: func() any { return new(packedB) }}

// sgemm512 is the BLAS-style entry of the blocked product.
func sgemm512(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	sgemm512w(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, blockedWorkers(m, n, k))
}

// sgemm512w is sgemm512 on at most workers goroutines (1 inside loops
// that are already split across cores, such as attention's heads).
func sgemm512w(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32, workers int) {
	rsa, csa := lda, 1
	if tA {
		rsa, csa = 1, lda
	}
	rsb, csb := ldb, 1
	if tB {
		rsb, csb = 1, ldb
	}
	if inPlace(rsb, csb, n) {
		sgemmBlocked(m, n, k, alpha, a, rsa, csa, bSource{b: b, rsb: rsb}, beta, c, ldc, bias, workers)
		return
	}
	pb := packedPool.Get().(*packedB)
	pb.pack(b, rsb, csb, k, n, workers)
	sgemmBlocked(m, n, k, alpha, a, rsa, csa, bSource{pb: pb}, beta, c, ldc, bias, workers)
	packedPool.Put(pb)
}

// packCache keeps a frozen weight w [rows, cols] packed between
// products, both as op(B) = wᵀ (x·Wᵀ, the forward) and op(B) = w (dy·W,
// the input gradient), for the Param version they were packed from: a
// pack is redone only when the weight has changed (AdamW, Restore or
// Touch bump the version) or is another tensor.
type packCache struct {
	src      *float32
	n        int
	version  uint64
	fwd, bwd packedB
	fOK, bOK bool
}

// get returns w packed as op(B) = wᵀ (trans) or w; version identifies
// w's values.
func (pc *packCache) get(w []float32, version uint64, rows, cols int, trans bool, workers int) *packedB {
	if len(w) == 0 || pc.src != &w[0] || pc.n != len(w) || pc.version != version {
		pc.src, pc.n, pc.version, pc.fOK, pc.bOK = &w[0], len(w), version, false, false
	}
	if trans {
		if !pc.fOK {
			pc.fwd.pack(w, 1, cols, cols, rows, workers)
			pc.fOK = true
		}
		return &pc.fwd
	}
	if !pc.bOK {
		pc.bwd.pack(w, cols, 1, rows, cols, workers)
		pc.bOK = true
	}
	return &pc.bwd
}

// linearForward32 sets y = x·wᵀ + bias (x [m, in], w [out, in]) on the
// blocked kernel, w packed through pc (for w's version) when non-nil.
func linearForward32(x []float32, m, in int, w []float32, version uint64, out int, bias, y []float32, pc *packCache) {
	workers := blockedWorkers(m, out, in)
	var pb *packedB
	if pc != nil {
		pb = pc.get(w, version, out, in, true, workers)
	} else {
		pb = packedPool.Get().(*packedB)
		defer packedPool.Put(pb)
		pb.pack(w, 1, in, in, out, workers)
	}
	sgemmBlocked(m, out, in, 1, x, in, 1, bSource{pb: pb}, 0, y, out, bias, workers)
}

// linearInputGrad32 sets or adds (beta 0 or 1) dx = dy·w (dy [m, out],
// w [out, in]) on the blocked kernel, w packed through pc when non-nil.
func linearInputGrad32(dy []float32, m, out int, w []float32, version uint64, in int, beta float32, dx []float32, pc *packCache) {
	workers := blockedWorkers(m, in, out)
	if inPlace(in, 1, in) {
		sgemmBlocked(m, in, out, 1, dy, out, 1, bSource{b: w, rsb: in}, beta, dx, in, nil, workers)
		return
	}
	var pb *packedB
	if pc != nil {
		pb = pc.get(w, version, out, in, false, workers)
	} else {
		pb = packedPool.Get().(*packedB)
		defer packedPool.Put(pb)
		pb.pack(w, in, 1, out, in, workers)
	}
	sgemmBlocked(m, in, out, 1, dy, out, 1, bSource{pb: pb}, beta, dx, in, nil, workers)
}
