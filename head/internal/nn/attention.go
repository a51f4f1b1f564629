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
	pdrop   []T   // drop(P) = P⊙mask, same layout (empty when off)
	base    []int // offset of item (s, h) in probs
	ctx     *Mat[T]
	dq      *Mat[T]
	dk      *Mat[T]
	dv      *Mat[T]
}

// attnScratch is one worker's buffers.
type attnScratch[T Float] struct {
	s, d []T
}

func grow[T Float](b *[]T, n int) []T {
	if cap(*b) < n {
		*b = make([]T, n)
	}
	*b = (*b)[:n]
	return *b
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
			softmaxRow32(d[i*s.Cols:(i+1)*s.Cols], nil, nil)
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

// softmaxRow32 replaces row with its softmax and, when keep is non-nil,
// sets pd = row⊙keep (the dropped probabilities): one AVX-512 pass per
// step where available, else the Go loops (exp32 and its vector form
// agree bit for bit; the sums differ in order, fixed either way).
func softmaxRow32(row, keep, pd []float32) {
	if len(row) == 0 {
		return
	}
	if haveAVX512 {
		var kp, pp *float32
		if keep != nil {
			_, _ = keep[len(row)-1], pd[len(row)-1]
			kp, pp = &keep[0], &pd[0]
		}
		softmaxRow16(len(row), &row[0], kp, pp)
		return
	}
	m := row[0]
	for _, v := range row {
		m = max(m, v)
	}
	done, sum := expSubVec(row, m)
	for j, v := range row[done:] {
		e := exp32(v - m)
		row[done+j] = e
		sum += e
	}
	inv := 1 / sum
	for j := range row {
		row[j] *= inv
	}
	if keep != nil {
		for j, v := range row {
			pd[j] = v * keep[j]
		}
	}
}

// softmaxBackRow32 turns one row of dP into dS = p⊙(d' − Σ d'⊙p), d' =
// d⊙keep (keep non-nil) or d.
func softmaxBackRow32(d, p, keep []float32) {
	if len(d) == 0 {
		return
	}
	if haveAVX512 {
		_ = p[len(d)-1]
		var kp *float32
		if keep != nil {
			_ = keep[len(d)-1]
			kp = &keep[0]
		}
		softmaxBack16(len(d), &d[0], &p[0], kp)
		return
	}
	if keep != nil {
		for j := range d {
			d[j] *= keep[j]
		}
	}
	var dot float32
	for j, x := range d {
		dot += x * p[j]
	}
	for j := range d {
		d[j] = p[j] * (d[j] - dot)
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
		a.pdrop = grow(&a.pdrop, total)
	} else {
		a.pdrop = a.pdrop[:0]
	}
	a.ctx = reuse(a.ctx, q.Rows, q.Cols)
	a.run(q, k, v, off, a.ctx, a.probs, a.mask, a.pdrop, a.base)
	return a.ctx
}

// Infer computes the context without dropout or caches; it is safe for
// concurrent use.
func (a *Attention[T]) Infer(q, k, v *Mat[T], off []int) *Mat[T] {
	b := &Attention[T]{Heads: a.Heads}
	total := b.layout(off)
	ctx := NewMat[T](q.Rows, q.Cols)
	b.run(q, k, v, off, ctx, make([]T, total), nil, nil, b.base)
	return ctx
}

func (a *Attention[T]) run(q, k, v *Mat[T], off []int, ctx *Mat[T], probs, mask, pdrop []T, base []int) {
	H := q.Cols
	d := H / a.Heads
	scale := T(1 / math.Sqrt(float64(d)))
	forEachItem(len(off)-1, a.Heads, func(w *attnScratch[T], s, h int) {
		r0, t := off[s], off[s+1]-off[s]
		if t == 0 {
			return
		}
		o := r0*H + h*d // head h of the sequence's first row
		b := base[s*a.Heads+h]
		p := probs[b : b+t*t]
		// S = Q·Kᵀ/√d straight from the head's columns, P = softmax(S),
		// and drop(P) = P⊙mask in the same pass
		gemmRaw(false, true, t, t, d, scale, q.Data[o:], H, k.Data[o:], H, 0, p, t)
		pd := p
		if len(mask) > 0 {
			pd = pdrop[b : b+t*t]
		}
		softmaxDrop(p, mask, pd, b, t)
		// ctx = drop(P)·V into the head's columns
		gemmRaw(false, false, t, d, t, 1, pd, t, v.Data[o:], H, 0, ctx.Data[o:], H)
	})
}

// softmaxDrop applies softmax to the t rows of p (t×t) and, with a
// mask, writes pd = P⊙mask[b:].
func softmaxDrop[T Float](p, mask, pd []T, b, t int) {
	if p32, ok := any(p).([]float32); ok {
		m32, pd32 := any(mask).([]float32), any(pd).([]float32)
		for i := 0; i < t; i++ {
			row := p32[i*t : (i+1)*t]
			if len(m32) > 0 {
				softmaxRow32(row, m32[b+i*t:b+(i+1)*t], pd32[i*t:(i+1)*t])
			} else {
				softmaxRow32(row, nil, nil)
			}
		}
		return
	}
	softmaxRows(&Mat[T]{Rows: t, Cols: t, Data: p})
	if len(mask) > 0 {
		for i, x := range p {
			pd[i] = x * mask[b+i]
		}
	}
}

// Backward returns dq, dk, dv for the gradient dctx of the last Forward:
//
//	dV = drop(P)ᵀ·dC,  dP = (dC·Vᵀ)⊙mask,  dS = P⊙(dP − rowsum(dP⊙P)),
//	dQ = dS·K/√d,  dK = dSᵀ·Q/√d.
func (a *Attention[T]) Backward(dctx *Mat[T]) (dq, dk, dv *Mat[T]) {
	return a.BackwardSome(dctx, true, true, true)
}

// BackwardSome is Backward computing only the gradients asked for (nil
// for the others): below the lowest trainable layer a frozen projection
// without LoRA needs none.
func (a *Attention[T]) BackwardSome(dctx *Mat[T], needQ, needK, needV bool) (dq, dk, dv *Mat[T]) {
	q, k, v, off := a.q, a.k, a.v, a.off
	H := q.Cols
	d := H / a.Heads
	scale := T(1 / math.Sqrt(float64(d)))
	if needQ {
		a.dq = reuse(a.dq, q.Rows, H)
		dq = a.dq
	}
	if needK {
		a.dk = reuse(a.dk, q.Rows, H)
		dk = a.dk
	}
	if needV {
		a.dv = reuse(a.dv, q.Rows, H)
		dv = a.dv
	}
	if !needQ && !needK && !needV {
		return
	}
	forEachItem(len(off)-1, a.Heads, func(w *attnScratch[T], s, h int) {
		r0, t := off[s], off[s+1]-off[s]
		if t == 0 {
			return
		}
		o := r0*H + h*d
		b := a.base[s*a.Heads+h]
		p := a.probs[b : b+t*t]
		var mk []T
		pd := p
		if len(a.mask) > 0 {
			mk, pd = a.mask[b:b+t*t], a.pdrop[b:b+t*t]
		}
		dc := dctx.Data[o:]
		if needV { // dV = Pdᵀ·dC
			gemmRaw(true, false, t, d, t, 1, pd, t, dc, H, 0, dv.Data[o:], H)
		}
		if !needQ && !needK {
			return
		}
		// dP = dC·Vᵀ (⊙ mask), then dS in place
		ds := grow(&w.d, t*t)
		gemmRaw(false, true, t, t, d, 1, dc, H, v.Data[o:], H, 0, ds, t)
		softmaxBackRows(ds, p, mk, t)
		if needQ { // dQ = dS·K·scale
			gemmRaw(false, false, t, d, t, scale, ds, t, k.Data[o:], H, 0, dq.Data[o:], H)
		}
		if needK { // dK = dSᵀ·Q·scale
			gemmRaw(true, false, t, d, t, scale, ds, t, q.Data[o:], H, 0, dk.Data[o:], H)
		}
	})
	return
}

// softmaxBackRows turns dP (t×t, rows) into dS = P⊙(dP⊙mask − rowsum(dP⊙mask⊙P)).
func softmaxBackRows[T Float](ds, p, mk []T, t int) {
	if d32, ok := any(ds).([]float32); ok {
		p32, m32 := any(p).([]float32), any(mk).([]float32)
		for i := 0; i < t; i++ {
			var mr []float32
			if m32 != nil {
				mr = m32[i*t : (i+1)*t]
			}
			softmaxBackRow32(d32[i*t:(i+1)*t], p32[i*t:(i+1)*t], mr)
		}
		return
	}
	for i := 0; i < t; i++ {
		dr, pr := ds[i*t:(i+1)*t], p[i*t:(i+1)*t]
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
}
