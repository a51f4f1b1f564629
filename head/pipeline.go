package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// TextEncoder is the pipeline's seam to the encoder: what head/ needs from
// it, as function fields that cmd/ fills with ONNX Runtime (through the
// embedding cache) and tests with fakes, so head/ never imports the
// encoder. Training inside the encoder reads the hidden states below a
// layer through TailSource.
type TextEncoder struct {
	// Info describes the encoder; the trained head records it.
	Info EncoderInfo
	// Embed returns one vector per text, in order.
	Embed func(ctx context.Context, texts []string) (Embedded, error)
}

// Embedded is what TextEncoder.Embed returns.
type Embedded struct {
	Vectors [][]float32
	// Cached counts the texts served from a cache (no encoder work).
	Cached int
	// Truncated counts texts cut to the encoder's maximum length.
	Truncated int
}

// Inputs are the labelled data of one run: text (Train, Val, Test,
// embedded through the TextEncoder) or embeddings from elsewhere
// (TrainSet, ValSet, TestSet). Train (or TrainSet) is required; without a
// validation and a test set, both are split from the training data,
// stratified, by the configuration's fractions and seed.
type Inputs struct {
	Train, Val, Test          *Labelled
	TrainSet, ValSet, TestSet *Dataset
}

// Stage is where a pipeline run is.
type Stage string

// The stages a run reports, in order.
const (
	StageEmbedding Stage = "embedding"
	StageSplit     Stage = "split"
	StageTraining  Stage = "training"
	StageEvaluated Stage = "evaluated"
)

// Event reports a run's progress to Pipeline.Progress.
type Event struct {
	Stage Stage
	// StageEmbedding: Done of Total texts embedded so far, Cached of them
	// from the cache, Truncated cut to the maximum length; Elapsed since
	// embedding began.
	Done, Total, Cached, Truncated int
	Elapsed                        time.Duration
	// StageSplit: the rows of each part (Split says whether they were
	// split from the training data or given).
	TrainRows, ValRows, TestRows int
	Split                        bool
	// StageTraining: one epoch (or L-BFGS iteration).
	Epoch *EpochStats
	// StageEvaluated: the metrics of one part ("train", "validation",
	// "test").
	Part    string
	Metrics *Metrics
}

// Pipeline is the one training pipeline: labelled data in, embedded
// through the encoder (and its cache), split, trained, evaluated; Trained.Save
// writes the result. `bertserve train` and the server's training jobs
// both run it.
type Pipeline struct {
	Config TrainConfig
	// Encoder embeds text inputs (nil: only embedding inputs).
	Encoder *TextEncoder
	// Chunk is the number of texts per Embed call (default 256): the
	// granularity of progress and of cancellation.
	Chunk int
	// Progress, when set, receives every Event.
	Progress func(Event)
	// Tails gives training inside the encoder (Config.Tune lora or top)
	// the encoder's own top layers and the hidden states below them.
	Tails *TailSource
}

// Trained is the outcome of a run.
type Trained struct {
	Model  *Model
	Report *Report
	// The datasets trained and evaluated on (Val and Test may be nil).
	Train, Val, Test *Dataset
	// Mistakes are the most confident errors on the test set (else the
	// validation set), Config.Errors of them: errors.jsonl.
	Mistakes []Mistake
}

// Run trains a head on in.
func (p *Pipeline) Run(ctx context.Context, in Inputs) (*Trained, error) {
	cfg := p.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	emit := func(e Event) {
		if p.Progress != nil {
			p.Progress(e)
		}
	}
	if cfg.Tuned() {
		return p.runTuned(ctx, in, emit)
	}
	var (
		t   Trained
		enc EncoderInfo
		err error
	)
	switch {
	case in.TrainSet != nil:
		if in.Train != nil {
			return nil, errors.New("give the training data as text or as embeddings, not both")
		}
		t.Train, t.Val, t.Test = in.TrainSet, in.ValSet, in.TestSet
		renameDatasetLabels(cfg.LabelNames, t.Train, t.Val, t.Test)
		if cfg.Normalize {
			for _, d := range []*Dataset{t.Train, t.Val, t.Test} {
				if d != nil {
					d.X = normalizeRows(d.X)
				}
			}
		}
	case in.Train != nil:
		if p.Encoder == nil || p.Encoder.Embed == nil {
			return nil, errors.New("text data needs an encoder to embed it")
		}
		enc = p.Encoder.Info
		parts := []*Labelled{in.Train, in.Val, in.Test}
		sets, err := p.embed(ctx, parts, nil, cfg.Normalize && !enc.Normalize, emit)
		if err != nil {
			return nil, err
		}
		t.Train, t.Val, t.Test = sets[0], sets[1], sets[2]
		enc.Normalize = enc.Normalize || cfg.Normalize
	default:
		return nil, errors.New("no training data")
	}
	split := t.Val == nil && t.Test == nil
	if split {
		if t.Train, t.Val, t.Test, err = SplitDataset(t.Train, cfg.Split(), cfg.Seed); err != nil {
			return nil, err
		}
	}
	emit(Event{Stage: StageSplit, TrainRows: t.Train.Len(), ValRows: rows(t.Val), TestRows: rows(t.Test), Split: split})

	m, rep, err := Train(ctx, t.Train, t.Val, cfg, func(st EpochStats) {
		emit(Event{Stage: StageTraining, Epoch: &st})
	})
	if err != nil {
		return nil, err
	}
	if in.TrainSet != nil {
		enc.Normalize = cfg.Normalize
	}
	m.SetEncoder(enc)
	t.Model, t.Report = m, rep
	for _, part := range []struct {
		name string
		ds   *Dataset
	}{{"train", t.Train}, {"validation", t.Val}, {"test", t.Test}} {
		if part.ds == nil || part.ds.Len() == 0 {
			continue
		}
		mt, err := Evaluate(m, part.ds)
		if err != nil {
			return nil, err
		}
		m.SetMetrics(part.name, mt)
		emit(Event{Stage: StageEvaluated, Part: part.name, Metrics: mt})
	}
	if eval := pick(t.Test, t.Val); eval != nil && cfg.Errors > 0 {
		if t.Mistakes, err = ErrorAnalysis(m, eval, cfg.Errors); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

// EmbedLabelled embeds labelled text into datasets with enc, in chunks;
// names is the label set (nil: taken from the first part, the training
// data). A label outside it is an error naming the row. eval uses it on
// its own; Pipeline.Run embeds all its parts in one pass through it.
func EmbedLabelled(ctx context.Context, enc *TextEncoder, parts []*Labelled, names []string, normalize bool, progress func(Event)) ([]*Dataset, error) {
	p := Pipeline{Encoder: enc}
	emit := func(e Event) {
		if progress != nil {
			progress(e)
		}
	}
	return p.embed(ctx, parts, names, normalize, emit)
}

func (p *Pipeline) embed(ctx context.Context, parts []*Labelled, names []string, normalize bool, emit func(Event)) ([]*Dataset, error) {
	var all []string
	for _, l := range parts {
		if l != nil {
			all = append(all, l.Texts...)
		}
	}
	chunk := p.Chunk
	if chunk <= 0 {
		chunk = 256
	}
	t0 := time.Now()
	vecs := make([][]float32, 0, len(all))
	ev := Event{Stage: StageEmbedding, Total: len(all)}
	for start := 0; start < len(all); start += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+chunk, len(all))
		r, err := p.Encoder.Embed(ctx, all[start:end])
		if err != nil {
			return nil, fmt.Errorf("embedding texts %d-%d: %w", start+1, end, err)
		}
		if len(r.Vectors) != end-start {
			return nil, fmt.Errorf("the encoder returned %d vectors for %d texts", len(r.Vectors), end-start)
		}
		vecs = append(vecs, r.Vectors...)
		ev.Done, ev.Cached, ev.Truncated, ev.Elapsed = end, ev.Cached+r.Cached, ev.Truncated+r.Truncated, time.Since(t0)
		emit(ev)
	}
	if len(all) == 0 {
		emit(ev)
	}
	if normalize {
		vecs = normalizeRows(vecs)
	}
	out := make([]*Dataset, len(parts))
	off := 0
	for i, l := range parts {
		if l == nil {
			continue
		}
		x := vecs[off : off+l.Len()]
		off += l.Len()
		ds, err := NewDataset(x, l.Labels, names)
		if err != nil {
			var ul *UnknownLabelError
			if errors.As(err, &ul) {
				return nil, fmt.Errorf("%s, row %d: label %q is not one the head knows (labels: %s)", l.Source, ul.Row, ul.Label, strings.Join(ul.Known, ", "))
			}
			return nil, fmt.Errorf("%s: %w", l.Source, err)
		}
		ds.Texts = l.Texts
		if names == nil {
			names = ds.Labels
		}
		out[i] = ds
	}
	return out, nil
}

// SplitDataset divides ds into stratified, seeded train, validation and
// test parts (a part with no rows is nil).
func SplitDataset(ds *Dataset, s Split, seed uint64) (train, val, test *Dataset, err error) {
	ti, vi, si, err := StratifiedSplit(ds.Y, len(ds.Labels), s, seed)
	if err != nil {
		return nil, nil, nil, err
	}
	train = ds.Subset(ti)
	if len(vi) > 0 {
		val = ds.Subset(vi)
	}
	if len(si) > 0 {
		test = ds.Subset(si)
	}
	return train, val, test, nil
}

// renameDatasetLabels applies label names to datasets read from label
// files (they share one label list).
func renameDatasetLabels(names map[string]string, sets ...*Dataset) {
	if len(names) == 0 {
		return
	}
	for _, d := range sets {
		if d == nil {
			continue
		}
		renamed := make([]string, len(d.Labels))
		for i, l := range d.Labels {
			renamed[i] = l
			if n, ok := names[l]; ok {
				renamed[i] = n
			}
		}
		d.Labels = renamed
	}
}

// normalizeRows returns unit-length copies of the rows (a zero row stays
// zero).
func normalizeRows(x [][]float32) [][]float32 {
	out := make([][]float32, len(x))
	for i, v := range x {
		var ss float64
		for _, f := range v {
			ss += float64(f) * float64(f)
		}
		w := make([]float32, len(v))
		if ss > 0 {
			inv := 1 / math.Sqrt(ss)
			for j, f := range v {
				w[j] = float32(float64(f) * inv)
			}
		}
		out[i] = w
	}
	return out
}

func rows(d *Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}

func pick(a, b *Dataset) *Dataset {
	if a != nil {
		return a
	}
	return b
}
