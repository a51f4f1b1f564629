package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/optimize"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// lbfgsBlock is the number of rows per unit of parallel work. It is a
// constant, not derived from the core count, so the order of every sum
// (and hence every bit of the result) is the same on any machine.
const lbfgsBlock = 1024

// softmaxObjective is the full-batch objective of the softmax head,
//
//	f(W, b) = Σᵢ ℓᵢ / Σᵢ w[yᵢ] + (λ/2)·‖W‖²
//
// with ℓ the cross-entropy of package nn (smoothing, class weights). One
// pass over X gives the value and the gradient: each row's logits by dot
// products, its loss gradient, and its contribution to Gᵀ·X by axpys
// while the row is still in L1 cache, all in float32, with per-block
// gradients reduced in float64 in block order. Func and Grad of gonum's
// Problem share that pass through a cache keyed by x.
//
// Two classes are solved in the reduced form the optimum takes anyway:
// the data gradients of the two weight vectors are always opposite (each
// row's logit gradient sums to zero), so from zero L-BFGS keeps
// W = [−w/2, w/2], b = [−β/2, β/2], and the problem is the binomial one in
// (w, β) with penalty (λ/4)·‖w‖²: half the work per pass and a better
// conditioned problem, with the same minimiser.
type softmaxObjective struct {
	x       *nn.Mat[float32]
	y       []int
	ce      nn.CrossEntropy
	lambda  float64
	C, D    int
	binary  bool
	invW    float64
	w32     []float32 // K×D weights for the pass (K = 1 when binary)
	b32     []float32
	partG   [][]float32 // per block: K·D weight gradient, then K bias gradient
	partL   []float64
	correct []int
	// cache of the last evaluation
	at      []float64
	f, data float64
	grad    []float64
	acc     float64
	evals   int
}

func newSoftmaxObjective(x *nn.Mat[float32], y []int, ce nn.CrossEntropy, lambda float64, C int) *softmaxObjective {
	D := x.Cols
	K := C
	if C == 2 {
		K = 1
	}
	blocks := (x.Rows + lbfgsBlock - 1) / lbfgsBlock
	o := &softmaxObjective{x: x, y: y, ce: ce, lambda: lambda, C: C, D: D, binary: C == 2, invW: 1 / ce.WeightSum(y),
		w32: make([]float32, K*D), b32: make([]float32, K),
		partG: make([][]float32, blocks), partL: make([]float64, blocks), correct: make([]int, blocks),
		grad: make([]float64, K*D+K)}
	for b := range o.partG {
		o.partG[b] = make([]float32, K*D+K)
	}
	return o
}

// k is the number of weight vectors optimised.
func (o *softmaxObjective) k() int { return len(o.b32) }

func (o *softmaxObjective) dim() int { return o.k()*o.D + o.k() }

// full expands an optimisation vector to the head's [C·D weights, C
// biases] layout.
func (o *softmaxObjective) full(x []float64) []float64 {
	if !o.binary {
		return x
	}
	D := o.D
	out := make([]float64, 2*D+2)
	for j := 0; j < D; j++ {
		out[j], out[D+j] = -x[j]/2, x[j]/2
	}
	out[2*D], out[2*D+1] = -x[D]/2, x[D]/2
	return out
}

// evaluate fills the cache for x unless it already holds it.
func (o *softmaxObjective) evaluate(x []float64) {
	if o.at != nil && slices.Equal(o.at, x) {
		return
	}
	o.evals++
	K, D := o.k(), o.D
	for i := range o.w32 {
		o.w32[i] = float32(x[i])
	}
	for c := range o.b32 {
		o.b32[c] = float32(x[K*D+c])
	}
	blocks := len(o.partG)
	workers := min(runtime.GOMAXPROCS(0), blocks)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := o.ce.Rows(o.C)
			for {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				o.block(b, rs)
			}
		}()
	}
	wg.Wait()
	clear(o.grad)
	o.data = 0
	correct := 0
	for b := range o.partG { // fixed order: deterministic
		for i, v := range o.partG[b] {
			o.grad[i] += float64(v)
		}
		o.data += o.partL[b]
		correct += o.correct[b]
	}
	o.data *= o.invW
	o.acc = float64(correct) / float64(o.x.Rows)
	// (λ/2)‖W‖², which is (λ/4)‖w‖² in the binary form.
	lam := o.lambda
	if o.binary {
		lam /= 2
	}
	var sq float64
	for i := 0; i < K*D; i++ {
		sq += x[i] * x[i]
		o.grad[i] += lam * x[i]
	}
	o.f = o.data + 0.5*lam*sq
	o.at = append(o.at[:0], x...)
}

func (o *softmaxObjective) block(b int, rs *nn.RowScratch) {
	lo := b * lbfgsBlock
	hi := min(lo+lbfgsBlock, o.x.Rows)
	C, D, K := o.C, o.D, o.k()
	pg := o.partG[b]
	clear(pg)
	gb := pg[K*D:]
	z := make([]float32, C)
	g := make([]float32, C)
	var loss float64
	correct := 0
	for i := lo; i < hi; i++ {
		row := o.x.Row(i)
		y := o.y[i]
		if o.binary {
			s := nn.Dot(row, o.w32) + o.b32[0]
			z[0], z[1] = -s/2, s/2
		} else {
			for c := 0; c < C; c++ {
				z[c] = nn.Dot(row, o.w32[c*D:(c+1)*D]) + o.b32[c]
			}
		}
		loss += nn.RowLoss(rs, z, y, o.invW, g)
		if argmax32(z) == y {
			correct++
		}
		if o.binary {
			if ds := (g[1] - g[0]) / 2; ds != 0 {
				nn.Axpy(ds, row, pg[:D])
				gb[0] += ds
			}
			continue
		}
		for c, gc := range g {
			if gc != 0 {
				nn.Axpy(gc, row, pg[c*D:(c+1)*D])
			}
			gb[c] += gc
		}
	}
	o.partL[b] = loss
	o.correct[b] = correct
}

// lbfgsRecorder turns gonum's major iterations into curve points and
// progress reports, and stops the run when ctx is cancelled.
type lbfgsRecorder struct {
	ctx  context.Context
	t    *trainer
	o    *softmaxObjective
	res  *TrainResult
	mon  *monitor
	last int
	err  error
}

func (r *lbfgsRecorder) Init() error { return nil }

func (r *lbfgsRecorder) Record(loc *optimize.Location, op optimize.Operation, st *optimize.Stats) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if op != optimize.MajorIteration {
		return nil
	}
	return r.point(loc.X, st.MajorIterations)
}

// point records iteration iter at x.
func (r *lbfgsRecorder) point(x []float64, iter int) error {
	r.o.evaluate(x)
	r.t.setSoftmax(r.o.full(x))
	r.res.Epochs = iter
	r.last = iter
	_, err := r.t.endOfStep(iter, r.t.cfg.MaxIter, r.o.data, r.o.acc, 0, r.mon, r.res)
	return err
}

// setSoftmax copies a flat L-BFGS vector into the output layer.
func (t *trainer) setSoftmax(x []float64) {
	ps := t.net.seq.Params() // out.weight, out.bias
	for i := range ps[0].W {
		ps[0].W[i] = float32(x[i])
	}
	off := len(ps[0].W)
	for i := range ps[1].W {
		ps[1].W[i] = float32(x[off+i])
	}
}

// runLBFGS fits the softmax head by full-batch L-BFGS with L2 strength
// WeightDecay, from zero weights, until the gradient's largest component
// is below Tol, the objective stops changing, or MaxIter iterations. The
// More–Thuente line search needs about half the evaluations of gonum's
// default bisection here (31 iterations and 37 passes over SST-2's
// 60,614 × 512 USE-lite embeddings against 66 and 82, at Tol 1e-5).
// With validation data the curve is recorded at every iteration; the
// final iterate is kept (the problem is convex and regularised, so there
// is no early stopping).
func (t *trainer) runLBFGS(ctx context.Context, res *TrainResult) error {
	C := len(t.labels)
	o := newSoftmaxObjective(t.x, t.y, t.ce, t.cfg.WeightDecay, C)
	mon := newMonitor(t.cfg)
	mon.patience = 0
	rec := &lbfgsRecorder{ctx: ctx, t: t, o: o, res: res, mon: mon}
	problem := optimize.Problem{
		Func: func(x []float64) float64 { o.evaluate(x); return o.f },
		Grad: func(g, x []float64) { o.evaluate(x); copy(g, o.grad) },
	}
	settings := &optimize.Settings{
		GradientThreshold: t.cfg.Tol,
		Converger:         &optimize.FunctionConverge{Relative: 1e-10, Absolute: 1e-12, Iterations: 20},
		MajorIterations:   t.cfg.MaxIter,
		Recorder:          rec,
	}
	x0 := make([]float64, o.dim())
	result, err := optimize.Minimize(problem, x0, settings, &optimize.LBFGS{Store: 10, Linesearcher: &optimize.MoreThuente{}})
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if result == nil {
		return fmt.Errorf("L-BFGS: %w", err)
	}
	final := result.Location.X
	for _, v := range final {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("L-BFGS diverged (non-finite weights); check the embeddings for extreme values")
		}
	}
	switch {
	case err == nil:
		res.Converged = result.Status == optimize.GradientThreshold || result.Status == optimize.FunctionConvergence
	case errors.Is(err, optimize.ErrNoProgress), errors.Is(err, optimize.ErrLinesearcherFailure), errors.Is(err, optimize.ErrNonDescentDirection):
		// The line search cannot improve further in float32 arithmetic:
		// the optimum is reached to working precision.
		res.Converged = result.Stats.MajorIterations > 0
		if !res.Converged {
			return fmt.Errorf("L-BFGS made no progress: %w", err)
		}
	default:
		return fmt.Errorf("L-BFGS: %w", err)
	}
	iters := max(result.Stats.MajorIterations, rec.last+1)
	if rec.last < iters {
		if err := rec.point(final, iters); err != nil {
			return err
		}
	}
	t.setSoftmax(o.full(final))
	res.Epochs = iters
	res.BestEpoch = 0
	return nil
}
