package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/bertserve/bertserve/head/curve"
	"github.com/bertserve/bertserve/head/internal/nn"
	"github.com/bertserve/bertserve/head/metrics"
)

// EpochStats is what the progress callback receives after each epoch (or
// each L-BFGS iteration).
type EpochStats struct {
	Step        string        `json:"step"` // "epoch" or "iteration"
	Epoch       int           `json:"epoch"`
	Epochs      int           `json:"epochs"` // the most there will be
	TrainLoss   float64       `json:"train_loss"`
	TrainMetric float64       `json:"train_metric"`
	HasVal      bool          `json:"has_val"`
	ValLoss     float64       `json:"val_loss,omitempty"`
	ValMetric   float64       `json:"val_metric,omitempty"`
	Metric      string        `json:"metric"`
	LR          float64       `json:"lr,omitempty"`
	Best        bool          `json:"best"` // best so far on the monitored value
	Elapsed     time.Duration `json:"elapsed"`
}

// Report is what Train learned besides the model.
type Report struct {
	Result    TrainResult     `json:"result"`
	Params    ParamCounts     `json:"params"`
	Curves    *curve.History  `json:"curves"`
	Diagnosis curve.Diagnosis `json:"diagnosis"`
	// Val holds the final validation metrics (nil without validation data).
	Val      *Metrics      `json:"validation,omitempty"`
	Duration time.Duration `json:"duration"`
}

// trainer holds one run's state.
type trainer struct {
	cfg      TrainConfig
	ce       nn.CrossEntropy
	net      *network[float32]
	x        *nn.Mat[float32]
	y        []int
	vx       *nn.Mat[float32]
	vy       []int
	labels   []string
	metric   string
	hist     *curve.History
	progress func(EpochStats)
	start    time.Time
	maxSteps int
	// params, when set, are all trained tensors (tail and head); the
	// best epoch's snapshot covers them.
	params []*nn.Param[float32]
	live   []*nn.Param[float32] // the unfrozen ones of params, per step
	// valEmbed, when set, recomputes the validation embeddings (t.vx)
	// before each evaluation (the tail changes them).
	valEmbed func() *nn.Mat[float32]
}

func (t *trainer) allParams() []*nn.Param[float32] {
	if t.params != nil {
		return t.params
	}
	return t.net.seq.Params()
}

// Train fits a head on train, watching val (which may be nil), and
// reports progress after every epoch (progress may be nil). It stops
// with ctx's error when ctx is cancelled. The same data, config and seed
// give bit-identical weights.
func Train(ctx context.Context, train, val *Dataset, cfg TrainConfig, progress func(EpochStats)) (*Model, *Report, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("training config: %w", err)
	}
	if train == nil {
		return nil, nil, errors.New("no training data")
	}
	if err := train.Validate(); err != nil {
		return nil, nil, fmt.Errorf("training data: %w", err)
	}
	counts := train.ClassCounts()
	present := 0
	for _, n := range counts {
		if n > 0 {
			present++
		}
	}
	if present < 2 {
		return nil, nil, fmt.Errorf("training data has %d class with examples (%s); a classifier needs at least two", present, quoteList(presentLabels(train.Labels, counts)))
	}
	if val != nil {
		if err := checkVal(train, val, counts); err != nil {
			return nil, nil, err
		}
	}
	cw, err := cfg.classWeights(train.Labels, counts)
	if err != nil {
		return nil, nil, err
	}
	a := archOf(cfg, train.Dim(), len(train.Labels))
	net, err := buildNetwork[float32](a, cfg.Seed)
	if err != nil {
		return nil, nil, err
	}
	t := &trainer{cfg: cfg, ce: nn.CrossEntropy{Smoothing: cfg.LabelSmoothing, ClassWeights: cw}, net: net,
		x: packRows(train.X), y: train.Y, labels: train.Labels, progress: progress, start: start}
	t.metric = "accuracy"
	if cfg.Monitor != MonitorValLoss {
		t.metric = cfg.Monitor
	}
	if val != nil {
		t.vx, t.vy = packRows(val.X), val.Y
	}
	t.hist = &curve.History{Step: "epoch", Metric: t.metric, Validation: val != nil, Classes: len(train.Labels)}
	res := TrainResult{Optimizer: cfg.ResolvedOptimizer(), TrainRows: train.Len()}
	if val != nil {
		res.ValRows = val.Len()
	}
	if res.Optimizer == OptLBFGS {
		t.hist.Step = "iteration"
		err = t.runLBFGS(ctx, &res)
	} else {
		err = t.runAdamW(ctx, &res)
	}
	if err != nil {
		return nil, nil, err
	}
	t.hist.Best = res.BestEpoch
	model := &Model{meta: a.meta(net), net: net}
	model.meta.Labels = append([]string(nil), train.Labels...)
	c := cfg
	c.Hidden = slices.Clone(cfg.Hidden)
	c.LoRATargets = slices.Clone(cfg.LoRATargets)
	model.meta.Training = &c
	model.meta.Result = &res
	model.meta.Curves = t.hist
	diag := curve.Diagnose(t.hist)
	model.meta.Diagnosis = &diag
	rep := &Report{Result: res, Params: model.meta.Params, Curves: t.hist, Diagnosis: diag}
	if val != nil {
		if rep.Val, err = Evaluate(model, val); err != nil {
			return nil, nil, err
		}
		model.SetMetrics("validation", rep.Val)
	}
	rep.Duration = time.Since(start)
	return model, rep, nil
}

func presentLabels(labels []string, counts []int) []string {
	var out []string
	for i, n := range counts {
		if n > 0 {
			out = append(out, labels[i])
		}
	}
	return out
}

func checkVal(train, val *Dataset, counts []int) error {
	if err := val.Validate(); err != nil {
		return fmt.Errorf("validation data: %w", err)
	}
	if val.Dim() != train.Dim() {
		return fmt.Errorf("validation embeddings have %d values per row, training embeddings %d: embed both with the same encoder", val.Dim(), train.Dim())
	}
	if !slices.Equal(val.Labels, train.Labels) {
		return fmt.Errorf("validation labels %s differ from training labels %s: build the validation set with the training label names", quoteList(val.Labels), quoteList(train.Labels))
	}
	for i, c := range val.Y {
		if counts[c] == 0 {
			return fmt.Errorf("validation row %d has label %q, which does not occur in the training data", i+1, val.Labels[c])
		}
	}
	return nil
}

// packRows copies rows into one contiguous matrix, or aliases them when
// they already lie back to back in one array.
func packRows(x [][]float32) *nn.Mat[float32] {
	n, d := len(x), len(x[0])
	if full := x[0][:cap(x[0])]; len(full) >= n*d {
		full = full[:n*d]
		contiguous := true
		for i := 1; i < n && contiguous; i++ {
			contiguous = &full[i*d] == &x[i][0]
		}
		if contiguous {
			return &nn.Mat[float32]{Rows: n, Cols: d, Data: full}
		}
	}
	m := nn.NewMat[float32](n, d)
	for i, r := range x {
		copy(m.Row(i), r)
	}
	return m
}

// runAdamW trains with minibatch AdamW, the learning-rate schedule,
// clipping and early stopping.
func (t *trainer) runAdamW(ctx context.Context, res *TrainResult) error {
	N, D, C := t.x.Rows, t.x.Cols, len(t.labels)
	B := min(t.cfg.BatchSize, N)
	params := t.net.seq.Params()
	opt := nn.NewAdamW[float32](t.cfg.WeightDecay)
	xb, grad := nn.NewMat[float32](B, D), nn.NewMat[float32](B, C)
	return t.epochLoop(ctx, N, res, params, nil, func(idx, yb []int, ws, lr float64) (*nn.Mat[float32], float64, error) {
		xb.Resize(len(idx), D)
		for k, i := range idx {
			copy(xb.Row(k), t.x.Row(i))
		}
		nn.ZeroGrad(params)
		logits := t.net.seq.Forward(xb, true)
		grad.Resize(len(idx), C)
		loss := nn.LossSum(t.ce, logits, yb, 1/ws, grad, nil)
		t.net.seq.Backward(grad, false)
		nn.ClipGradNorm(params, t.cfg.Clip)
		opt.Step(params, lr)
		return logits, loss, nil
	})
}

// batchStep trains on one minibatch: the rows idx with labels yb, whose
// class weights sum to ws, at learning rate lr (forward, loss, backward,
// update). It returns the batch's logits and loss sum Σ ℓᵢ.
type batchStep func(idx, yb []int, ws, lr float64) (*nn.Mat[float32], float64, error)

// epochLoop is the training loop both trainers share: the seeded
// shuffle, minibatches, the learning-rate schedule and warm-up, the
// train metric, the validation curve, early stopping, and restoring the
// best of params at the end. beforeEpoch (optional) runs at the start of
// each epoch (gradual unfreezing).
func (t *trainer) epochLoop(ctx context.Context, N int, res *TrainResult, params []*nn.Param[float32],
	beforeEpoch func(epoch int), step batchStep) error {
	cfg := t.cfg
	C := len(t.labels)
	B := min(cfg.BatchSize, N)
	perEpoch := (N + B - 1) / B
	total := perEpoch * cfg.Epochs
	warm := int(math.Round(cfg.Warmup * float64(total)))
	shuffle := seedStream(cfg.Seed, streamShuffle)
	perm := make([]int, N)
	for i := range perm {
		perm[i] = i
	}
	yb := make([]int, B)
	var probs [][]float64
	if t.metric != "accuracy" {
		probs = make([][]float64, N)
	}
	mon := newMonitor(cfg)
	steps := 0
	lr := cfg.LR
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		if beforeEpoch != nil {
			beforeEpoch(epoch)
		}
		shuffle.Shuffle(perm)
		var lossSum, wSum float64
		correct := 0
		for lo := 0; lo < N; lo += B {
			if err := ctx.Err(); err != nil {
				return err
			}
			hi := min(lo+B, N)
			nb := hi - lo
			yb = yb[:nb]
			for k, i := range perm[lo:hi] {
				yb[k] = t.y[i]
			}
			ws := t.ce.WeightSum(yb)
			if ws == 0 {
				steps++
				continue // every row has class weight 0
			}
			lr = lrAt(cfg.Schedule, cfg.LR, steps, total, warm)
			logits, loss, err := step(perm[lo:hi], yb, ws, lr)
			if err != nil {
				return err
			}
			lossSum += loss
			wSum += ws
			for k := 0; k < nb; k++ {
				if argmax32(logits.Row(k)) == yb[k] {
					correct++
				}
				if probs != nil {
					probs[perm[lo+k]] = nn.Softmax(&nn.Mat[float32]{Rows: 1, Cols: C, Data: logits.Row(k)})[0]
				}
			}
			steps++
		}
		trainLoss := lossSum / wSum
		if math.IsNaN(trainLoss) || math.IsInf(trainLoss, 0) {
			return fmt.Errorf("training diverged at epoch %d (loss %v); lower --lr or keep --clip on", epoch, trainLoss)
		}
		trainMetric := float64(correct) / float64(N)
		if probs != nil {
			m, err := metrics.Compute(probs, t.y, t.labels)
			if err != nil {
				return err
			}
			trainMetric, _ = m.Value(t.metric)
		}
		res.Epochs = epoch
		stop, err := t.endOfStep(epoch, cfg.Epochs, trainLoss, trainMetric, lr, mon, res)
		if err != nil {
			return err
		}
		if stop {
			res.StoppedEarly = true
			break
		}
	}
	if mon.snapshot != nil {
		nn.Restore(params, mon.snapshot)
	}
	return nil
}

func argmax32(z []float32) int {
	best := 0
	for c, v := range z {
		if v > z[best] {
			best = c
		}
	}
	return best
}

// endOfStep evaluates validation data, records the curve point, tracks
// the best weights and reports progress. It returns true to stop early.
func (t *trainer) endOfStep(epoch, epochs int, trainLoss, trainMetric, lr float64, mon *monitor, res *TrainResult) (bool, error) {
	if t.valEmbed != nil {
		t.vx = t.valEmbed()
	}
	p := curve.Point{Epoch: epoch, TrainLoss: trainLoss, TrainMetric: trainMetric, LR: lr}
	st := EpochStats{Step: t.hist.Step, Epoch: epoch, Epochs: epochs, TrainLoss: trainLoss, TrainMetric: trainMetric,
		Metric: t.metric, LR: lr, HasVal: t.vx != nil}
	stop := false
	if t.vx != nil {
		vloss, vm, err := t.evalVal()
		if err != nil {
			return false, err
		}
		metric, ok := vm.Value(t.metric)
		if !ok {
			return false, fmt.Errorf("monitor %q is undefined on this validation set (AUC needs both classes); monitor val_loss instead", t.metric)
		}
		p.ValLoss, p.ValMetric = vloss, metric
		st.ValLoss, st.ValMetric = vloss, metric
		value := vloss
		if t.cfg.Monitor != MonitorValLoss {
			value = metric
		}
		if mon.improved(value) {
			st.Best = true
			res.BestEpoch = epoch
			mon.snapshot = nn.Snapshot(t.allParams())
		}
		stop = mon.patience > 0 && mon.wait >= mon.patience
	}
	t.hist.Add(p)
	st.Elapsed = time.Since(t.start)
	if t.progress != nil {
		t.progress(st)
	}
	return stop, nil
}

// evalVal returns the validation loss (the training objective) and
// metrics at the current weights.
func (t *trainer) evalVal() (float64, *Metrics, error) {
	var lossSum float64
	probs := make([][]float64, 0, t.vx.Rows)
	for lo := 0; lo < t.vx.Rows; lo += inferChunk {
		hi := min(lo+inferChunk, t.vx.Rows)
		xb := &nn.Mat[float32]{Rows: hi - lo, Cols: t.vx.Cols, Data: t.vx.Data[lo*t.vx.Cols : hi*t.vx.Cols]}
		logits := t.net.seq.Infer(xb)
		lossSum += nn.LossSum(t.ce, logits, t.vy[lo:hi], 1, nil, nil)
		probs = append(probs, nn.Softmax(logits)...)
	}
	m, err := metrics.Compute(probs, t.vy, t.labels)
	if err != nil {
		return 0, nil, err
	}
	ws := t.ce.WeightSum(t.vy)
	if ws == 0 {
		return 0, nil, errors.New("every validation row has class weight 0")
	}
	return lossSum / ws, m, nil
}

// monitor tracks the best monitored value for early stopping.
type monitor struct {
	higher   bool
	minDelta float64
	patience int
	best     float64
	wait     int
	seen     bool
	snapshot [][]float32
}

func newMonitor(cfg TrainConfig) *monitor {
	return &monitor{higher: cfg.Monitor != MonitorValLoss && metrics.HigherIsBetter(cfg.Monitor),
		minDelta: cfg.MinDelta, patience: cfg.Patience}
}

// improved records value and reports whether it beats the best by more
// than minDelta (the first value always does).
func (m *monitor) improved(v float64) bool {
	better := !m.seen || (m.higher && v > m.best+m.minDelta) || (!m.higher && v < m.best-m.minDelta)
	if better {
		m.best, m.seen, m.wait = v, true, 0
		return true
	}
	m.wait++
	return false
}
