package nn

import (
	"math"
	"runtime"
	"sync"
)

// Attention is multi-head scaled dot-product self-attention over packed
// variable-length sequences: rows Off[s]..Off[s+1]-1 of q, k, v [n, H]
// are sequence s, and every token attends to the tokens of its own
// sequence only (padding never enters: the rows are the real tokens).
// Per sequence and head h (columns h·d..h·d+d-1):
//
//	P = softmax(Q·Kᵀ/√d),  ctx = drop(P)·V
//
// with attention-probability dropout as BERT applies it. Sequences and
// heads are split across cores; each writes only its own rows and
// columns, so results do not depend on the core count.
type Attention[T Float] struct {
	Heads   int
	Dropout float64
	RNG     *RNG
	// caches of the last Forward
	q, k, v *Mat[T]
	off     []int
	probs   []T   // P of every (sequence, head), back to back
	mask    []T   // dropout mask, same layout (empty when off)
	base    []int // offset of item (s, h) in probs
	ctx     *Mat[T]
	dq      *Mat[T]
	dk      *Mat[T]
	dv      *Mat[T]
}

// attnScratch is one worker's buffers.
type attnScratch[T Float] struct {
	qh, kh, vh, ch, s, d *Mat[T]
}

func (w *attnScratch[T]) gather(src *Mat[T], dst **Mat[T], r0, T_, c0, d int) *Mat[T] {
	*dst = reuse(*dst, T_, d)
	for r := 0; r < T_; r++ {
		copy((*dst).Row(r), src.Data[(r0+r)*src.Cols+c0:(r0+r)*src.Cols+c0+d])
	}
	return *dst
}

func scatter[T Float](dst, src *Mat[T], r0, c0 int) {
	for r := 0; r < src.Rows; r++ {
		copy(dst.Data[(r0+r)*dst.Cols+c0:], src.Row(r))
	}
}

// forEachItem runs f on every (sequence, head) pair, concurrently, with
// one scratch per goroutine.
func forEachItem[T Float](nseq, heads int, f func(w *attnScratch[T], s, h int)) {
	items := nseq * heads
	workers := min(runtime.GOMAXPROCS(0), items)
	if workers <= 1 {
		w := &attnScratch[T]{}
		for it := 0; it < items; it++ {
			f(w, it/heads, it%heads)
		}
		return
	}
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &attnScratch[T]{}
			for {
				mu.Lock()
				it := next
				next++
				mu.Unlock()
				if int(it) >= items {
					return
				}
				f(w, int(it)/heads, int(it)%heads)
			}
		}()
	}
	wg.Wait()
}

// softmaxRows replaces each row of s with its softmax.
func softmaxRows[T Float](s *Mat[T]) {
	switch d := any(s.Data).(type) {
	case []float32:
		for i := 0; i < s.Rows; i++ {
			row := d[i*s.Cols : (i+1)*s.Cols]
			m := row[0]
			for _, v := range row {
				m = max(m, v)
			}
			var sum float32
			for j, v := range row {
				e := exp32(v - m)
				row[j] = e
				sum += e
			}
			inv := 1 / sum
			for j := range row {
				row[j] *= inv
			}
		}
	case []float64:
		for i := 0; i < s.Rows; i++ {
			row := d[i*s.Cols : (i+1)*s.Cols]
			m := row[0]
			for _, v := range row {
				m = max(m, v)
			}
			var sum float64
			for j, v := range row {
				e := math.Exp(v - m)
				row[j] = e
				sum += e
			}
			for j := range row {
				row[j] /= sum
			}
		}
	}
}

// layout fills a.base for the sequences and returns the total size.
func (a *Attention[T]) layout(off []int) int {
	nseq := len(off) - 1
	a.base = a.base[:0]
	total := 0
	for s := 0; s < nseq; s++ {
		t := off[s+1] - off[s]
		for h := 0; h < a.Heads; h++ {
			a.base = append(a.base, total)
			total += t * t
		}
	}
	return total
}

// Forward computes the attention context [n, H]; q, k, v and off must
// stay unchanged until Backward.
func (a *Attention[T]) Forward(q, k, v *Mat[T], off []int, train bool) *Mat[T] {
	a.q, a.k, a.v, a.off = q, k, v, off
	total := a.layout(off)
	if cap(a.probs) < total {
		a.probs = make([]T, total)
	}
	a.probs = a.probs[:total]
	drop := train && a.Dropout > 0
	a.mask = a.mask[:0]
	if drop {
		if cap(a.mask) < total {
			a.mask = make([]T, total)
		}
		a.mask = a.mask[:total]
		dropoutMask(a.RNG, a.mask, a.Dropout)
	}
	a.ctx = reuse(a.ctx, q.Rows, q.Cols)
	a.run(q, k, v, off, a.ctx, a.probs, a.mask, a.base)
	return a.ctx
}

// Infer computes the context without dropout or caches; it is safe for
// concurrent use.
func (a *Attention[T]) Infer(q, k, v *Mat[T], off []int) *Mat[T] {
	b := &Attention[T]{Heads: a.Heads}
	total := b.layout(off)
	ctx := NewMat[T](q.Rows, q.Cols)
	b.run(q, k, v, off, ctx, make([]T, total), nil, b.base)
	return ctx
}

func (a *Attention[T]) run(q, k, v *Mat[T], off []int, ctx *Mat[T], probs, mask []T, base []int) {
	H := q.Cols
	d := H / a.Heads
	scale := T(1 / math.Sqrt(float64(d)))
	forEachItem(len(off)-1, a.Heads, func(w *attnScratch[T], s, h int) {
		r0, t := off[s], off[s+1]-off[s]
		if t == 0 {
			return
		}
		qh := w.gather(q, &w.qh, r0, t, h*d, d)
		kh := w.gather(k, &w.kh, r0, t, h*d, d)
		vh := w.gather(v, &w.vh, r0, t, h*d, d)
		b := base[s*a.Heads+h]
		p := &Mat[T]{Rows: t, Cols: t, Data: probs[b : b+t*t]}
		Gemm(false, true, scale, qh, kh, 0, p)
		softmaxRows(p)
		pd := p
		if len(mask) > 0 {
			w.s = reuse(w.s, t, t)
			pd = w.s
			mk := mask[b : b+t*t]
			for i, x := range p.Data {
				pd.Data[i] = x * mk[i]
			}
		}
		w.ch = reuse(w.ch, t, d)
		Gemm(false, false, 1, pd, vh, 0, w.ch)
		scatter(ctx, w.ch, r0, h*d)
	})
}

// Backward returns dq, dk, dv for the gradient dctx of the last Forward:
//
//	dV = drop(P)ᵀ·dC,  dP = (dC·Vᵀ)⊙mask,  dS = P⊙(dP − rowsum(dP⊙P)),
//	dQ = dS·K/√d,  dK = dSᵀ·Q/√d.
func (a *Attention[T]) Backward(dctx *Mat[T]) (dq, dk, dv *Mat[T]) {
	q, k, v, off := a.q, a.k, a.v, a.off
	H := q.Cols
	d := H / a.Heads
	scale := T(1 / math.Sqrt(float64(d)))
	a.dq = reuse(a.dq, q.Rows, H)
	a.dk = reuse(a.dk, q.Rows, H)
	a.dv = reuse(a.dv, q.Rows, H)
	forEachItem(len(off)-1, a.Heads, func(w *attnScratch[T], s, h int) {
		r0, t := off[s], off[s+1]-off[s]
		if t == 0 {
			return
		}
		b := a.base[s*a.Heads+h]
		p := &Mat[T]{Rows: t, Cols: t, Data: a.probs[b : b+t*t]}
		var mk []T
		pd := p
		if len(a.mask) > 0 {
			mk = a.mask[b : b+t*t]
			w.s = reuse(w.s, t, t)
			pd = w.s
			for i, x := range p.Data {
				pd.Data[i] = x * mk[i]
			}
		}
		dc := w.gather(dctx, &w.ch, r0, t, h*d, d)
		vh := w.gather(v, &w.vh, r0, t, h*d, d)
		// dV = Pdᵀ·dC, into qh's buffer, then scattered
		w.qh = reuse(w.qh, t, d)
		Gemm(true, false, 1, pd, dc, 0, w.qh)
		scatter(a.dv, w.qh, r0, h*d)
		// dP = dC·Vᵀ (⊙ mask), then dS in place
		w.d = reuse(w.d, t, t)
		ds := w.d
		Gemm(false, true, 1, dc, vh, 0, ds)
		for i := 0; i < t; i++ {
			dr, pr := ds.Row(i), p.Row(i)
			if mk != nil {
				mr := mk[i*t : (i+1)*t]
				for j := range dr {
					dr[j] *= mr[j]
				}
			}
			var dot T
			for j, x := range dr {
				dot += x * pr[j]
			}
			for j := range dr {
				dr[j] = pr[j] * (dr[j] - dot)
			}
		}
		qh := w.gather(q, &w.qh, r0, t, h*d, d)
		kh := w.gather(k, &w.kh, r0, t, h*d, d)
		// dQ = dS·K·scale, dK = dSᵀ·Q·scale
		w.vh = reuse(w.vh, t, d)
		Gemm(false, false, scale, ds, kh, 0, w.vh)
		scatter(a.dq, w.vh, r0, h*d)
		w.ch = reuse(w.ch, t, d)
		Gemm(true, false, scale, ds, qh, 0, w.ch)
		scatter(a.dk, w.ch, r0, h*d)
	})
	return a.dq, a.dk, a.dv
}
