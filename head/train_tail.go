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
)

// Stream offsets for training inside the encoder (after the head's).
const (
	streamTailInit    = 3
	streamTailDropout = 4
)

// TrainTail trains a head together with the top layers of the encoder
// on hidden states cached below them: cfg.Tune "lora" adds LoRA
// branches to cfg.LoRATargets of every layer of base and freezes the
// rest, "top" unfreezes the layers entirely (with cfg.LayerLRDecay and
// cfg.Unfreeze). base holds the encoder's own weights of its top
// cfg.Layers layers (TailSource.Base); train.X and val.X the hidden
// states below them (TailSource.Hidden with k = base.Spec.FirstLayer).
// Everything else is Train's: AdamW with the schedule, clipping, label
// smoothing, class weights, early stopping restoring the best weights of
// the tail and head, curves and diagnosis. The returned model holds the
// merged tail (Model.Tail). The same data, config and seed give
// bit-identical weights.
func TrainTail(ctx context.Context, train, val *SeqDataset, base *TailWeights, cfg TrainConfig, progress func(EpochStats)) (*Model, *Report, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("training config: %w", err)
	}
	if !cfg.Tuned() {
		return nil, nil, errors.New("TrainTail needs tune lora or top in the config (Train fits heads on embeddings)")
	}
	if err := base.Validate(); err != nil {
		return nil, nil, fmt.Errorf("encoder tail: %w", err)
	}
	if base.Spec.NumLayers != cfg.Layers {
		return nil, nil, fmt.Errorf("the config tunes %d layers but the encoder tail given has %d (encoder layers %d..%d); pass Base(%d)",
			cfg.Layers, base.Spec.NumLayers, base.Spec.FirstLayer, base.Spec.TotalLayers-1, cfg.Layers)
	}
	if train == nil {
		return nil, nil, errors.New("no training data")
	}
	if err := train.Validate(); err != nil {
		return nil, nil, fmt.Errorf("training data: %w", err)
	}
	H := base.Spec.Hidden
	if train.X.Hidden() != H {
		return nil, nil, fmt.Errorf("training hidden states have width %d, the encoder layers %d: cache them with the same encoder", train.X.Hidden(), H)
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
		if err := checkSeqVal(train, val, counts, H); err != nil {
			return nil, nil, err
		}
	}
	cw, err := cfg.classWeights(train.Labels, counts)
	if err != nil {
		return nil, nil, err
	}
	a := archOf(cfg, H, len(train.Labels))
	net, err := buildNetwork[float32](a, cfg.Seed)
	if err != nil {
		return nil, nil, err
	}
	tail, err := buildTail[float32](base, cfg, seedStream(cfg.Seed, streamTailInit), seedStream(cfg.Seed, streamTailDropout))
	if err != nil {
		return nil, nil, err
	}
	t := &trainer{cfg: cfg, ce: nn.CrossEntropy{Smoothing: cfg.LabelSmoothing, ClassWeights: cw}, net: net,
		y: train.Y, labels: train.Labels, progress: progress, start: start}
	t.params = append(tail.Params(), net.seq.Params()...)
	t.metric = "accuracy"
	if cfg.Monitor != MonitorValLoss {
		t.metric = cfg.Monitor
	}
	if val != nil {
		t.vy = val.Y
		t.valEmbed = func() *nn.Mat[float32] { return embedSeqs(tail, val.X) }
	}
	t.hist = &curve.History{Step: "epoch", Metric: t.metric, Validation: val != nil, Classes: len(train.Labels)}
	res := TrainResult{Optimizer: OptAdamW, TrainRows: train.Len()}
	if val != nil {
		res.ValRows = val.Len()
	}
	if err := t.runTail(ctx, tail, train.X, &res); err != nil {
		return nil, nil, err
	}
	t.hist.Best = res.BestEpoch
	tailParams := trainableCount(tail, cfg)
	model, err := newTailedModel(a, net, mergedTail(tail, base.Spec), tailParams)
	if err != nil {
		return nil, nil, err
	}
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
		vd, err := EmbedSeqDataset(model, val)
		if err != nil {
			return nil, nil, err
		}
		if rep.Val, err = Evaluate(model, vd); err != nil {
			return nil, nil, err
		}
		model.SetMetrics("validation", rep.Val)
	}
	rep.Duration = time.Since(start)
	return model, rep, nil
}

func checkSeqVal(train, val *SeqDataset, counts []int, H int) error {
	if err := val.Validate(); err != nil {
		return fmt.Errorf("validation data: %w", err)
	}
	if val.X.Hidden() != H {
		return fmt.Errorf("validation hidden states have width %d, the encoder layers %d", val.X.Hidden(), H)
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

// seqBatch packs sequences into one [ΣT, H] matrix with offsets.
type seqBatch struct {
	x   *nn.Mat[float32]
	off []int
	buf []float32
}

// pack reads the sequences idx of seqs; a sequence holding a NaN or Inf
// is an error naming its row.
func (b *seqBatch) pack(seqs Sequences, idx []int) error {
	H := seqs.Hidden()
	b.off = append(b.off[:0], 0)
	if b.x == nil {
		b.x = &nn.Mat[float32]{}
	}
	b.x.Resize(0, H)
	for _, i := range idx {
		data, T := seqs.Row(i, b.buf)
		b.buf = data[:cap(data)]
		if T < 1 || len(data) < T*H {
			return fmt.Errorf("row %d has %d tokens of width %d (%d values); every text has at least one token", i+1, T, H, len(data))
		}
		for j, v := range data[:T*H] {
			if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
				return fmt.Errorf("row %d: hidden state value %d is %v; rebuild the hidden-state cache", i+1, j+1, v)
			}
		}
		b.x.Data = append(b.x.Data, data[:T*H]...)
		b.x.Rows += T
		b.off = append(b.off, b.x.Rows)
	}
	return nil
}

// embedChunk is the number of sequences per inference batch.
const embedChunk = 64

// embedSeqs runs the tail over every sequence (evaluation mode) and
// returns the pooled embeddings; training has checked the rows already.
func embedSeqs(tail *nn.TailNet[float32], seqs Sequences) *nn.Mat[float32] {
	m, err := embedSeqsErr(tail, seqs)
	if err != nil {
		panic(err)
	}
	return m
}

func embedSeqsErr(tail *nn.TailNet[float32], seqs Sequences) (*nn.Mat[float32], error) {
	n, H := seqs.Len(), seqs.Hidden()
	out := nn.NewMat[float32](n, H)
	var b seqBatch
	idx := make([]int, 0, embedChunk)
	for lo := 0; lo < n; lo += embedChunk {
		idx = idx[:0]
		for i := lo; i < min(lo+embedChunk, n); i++ {
			idx = append(idx, i)
		}
		if err := b.pack(seqs, idx); err != nil {
			return nil, err
		}
		e := tail.Infer(b.x, b.off)
		copy(out.Data[lo*H:], e.Data)
	}
	return out, nil
}

// runTail is runAdamW over sequences: each batch runs the tail, the
// head, and back through both.
func (t *trainer) runTail(ctx context.Context, tail *nn.TailNet[float32], seqs Sequences, res *TrainResult) error {
	B := min(t.cfg.BatchSize, seqs.Len())
	opt := nn.NewAdamW[float32](t.cfg.WeightDecay)
	grad := nn.NewMat[float32](B, len(t.labels))
	var batch seqBatch
	L := len(tail.Layers)
	unfreeze := func(epoch int) {
		active := L
		if t.cfg.Unfreeze == UnfreezeGradual {
			active = epoch
		}
		setTrainable(tail, t.cfg, active)
	}
	err := t.epochLoop(ctx, seqs.Len(), res, t.params, unfreeze, func(idx, yb []int, ws, lr float64) (*nn.Mat[float32], float64, error) {
		if err := batch.pack(seqs, idx); err != nil {
			return nil, 0, fmt.Errorf("training data: %w", err)
		}
		logits, loss := t.tailGrad(tail, &batch, yb, ws, grad)
		t.update(opt, lr)
		return logits, loss, nil
	})
	setTrainable(tail, t.cfg, L)
	return err
}

// tailGrad runs one batch forward through the tail and the head and
// back, leaving the gradients of every trainable tensor in Param.G; it
// returns the logits and the batch's loss sum Σ ℓᵢ (the gradient is that
// of the batch mean Σ ℓᵢ / ws).
func (t *trainer) tailGrad(tail *nn.TailNet[float32], b *seqBatch, yb []int, ws float64, grad *nn.Mat[float32]) (*nn.Mat[float32], float64) {
	t.live = nn.Trainable(t.live, t.params)
	nn.ZeroGrad(t.live)
	pooled := tail.Forward(b.x, b.off, true)
	logits := t.net.seq.Forward(pooled, true)
	grad.Resize(len(yb), len(t.labels))
	loss := nn.LossSum(t.ce, logits, yb, 1/ws, grad, nil)
	dpooled := t.net.seq.Backward(grad, true)
	if tail.Lowest < len(tail.Layers) {
		tail.Backward(dpooled)
	}
	return logits, loss
}

// update clips the gradients and takes an AdamW step. Frozen tensors
// (the base of LoRA layers, layers not yet unfrozen) are left out: their
// gradients are zero, so the norm is the same, and AdamW skips them.
func (t *trainer) update(opt *nn.AdamW[float32], lr float64) {
	t.live = nn.Trainable(t.live, t.params)
	nn.ClipGradNorm(t.live, t.cfg.Clip)
	opt.Step(t.params, lr)
}
