package head

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// runTuned is Run for cfg.Tune lora or top: the labelled texts are read,
// split as for a head alone, the hidden states below the tuned layers come
// from p.Tails (the encoder's bottom, run once per text, cached) in one
// call over every part, and TrainTail trains the top layers with the
// head. The evaluated datasets are the trained tail's pooled embeddings.
func (p *Pipeline) runTuned(ctx context.Context, in Inputs, emit func(Event)) (*Trained, error) {
	cfg := p.Config
	if in.Train == nil {
		return nil, fmt.Errorf("tune %s trains the encoder's own layers, which needs the texts, not embeddings", cfg.Tune)
	}
	if p.Tails == nil || p.Tails.Base == nil || p.Tails.Hidden == nil {
		return nil, fmt.Errorf("tune %s needs the encoder's layers and hidden states (Pipeline.Tails)", cfg.Tune)
	}
	parts := []*Labelled{in.Train, in.Val, in.Test}
	names, err := LabelNames(in.Train.Labels)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Train.Source, err)
	}
	ys := make([][]int, len(parts))
	for i, l := range parts {
		if l == nil {
			continue
		}
		if ys[i], err = EncodeLabels(l.Labels, names); err != nil {
			var ul *UnknownLabelError
			if errors.As(err, &ul) {
				return nil, fmt.Errorf("%s, row %d: label %q is not one the head knows (labels: %s)", l.Source, ul.Row, ul.Label, strings.Join(ul.Known, ", "))
			}
			return nil, fmt.Errorf("%s: %w", l.Source, err)
		}
	}
	base, err := p.Tails.Base(cfg.Layers)
	if err != nil {
		return nil, err
	}
	k := base.Spec.FirstLayer
	// One pass over every text; each part is a view of it.
	var all []string
	offsets := make([]int, len(parts))
	for i, l := range parts {
		offsets[i] = len(all)
		if l != nil {
			all = append(all, l.Texts...)
		}
	}
	t0 := time.Now()
	seqs, err := p.Tails.Hidden(ctx, all, k)
	if err != nil {
		return nil, err
	}
	if seqs.Len() != len(all) {
		return nil, fmt.Errorf("the encoder returned hidden states for %d of %d texts", seqs.Len(), len(all))
	}
	emit(Event{Stage: StageEmbedding, Done: len(all), Total: len(all), Elapsed: time.Since(t0)})
	sets := make([]*SeqDataset, len(parts))
	for i, l := range parts {
		if l == nil {
			continue
		}
		idx := make([]int, l.Len())
		for j := range idx {
			idx[j] = offsets[i] + j
		}
		sets[i] = &SeqDataset{X: subSeqs{seqs, idx}, Y: ys[i], Labels: names, Texts: l.Texts}
	}
	train, val, test := sets[0], sets[1], sets[2]
	split := val == nil && test == nil
	if split {
		ti, vi, si, err := StratifiedSplit(train.Y, len(names), cfg.Split(), cfg.Seed)
		if err != nil {
			return nil, err
		}
		all := train
		train = all.subset(ti)
		if len(vi) > 0 {
			val = all.subset(vi)
		}
		if len(si) > 0 {
			test = all.subset(si)
		}
	}
	emit(Event{Stage: StageSplit, TrainRows: train.Len(), ValRows: seqRows(val), TestRows: seqRows(test), Split: split})
	m, rep, err := TrainTail(ctx, train, val, base, cfg, func(st EpochStats) {
		emit(Event{Stage: StageTraining, Epoch: &st})
	})
	if err != nil {
		return nil, err
	}
	if p.Encoder != nil {
		m.SetEncoder(p.Encoder.Info)
	}
	t := &Trained{Model: m, Report: rep}
	for _, part := range []struct {
		name string
		sd   *SeqDataset
		dst  **Dataset
	}{{"train", train, &t.Train}, {"validation", val, &t.Val}, {"test", test, &t.Test}} {
		if part.sd == nil || part.sd.Len() == 0 {
			continue
		}
		ds, err := EmbedSeqDataset(m, part.sd)
		if err != nil {
			return nil, err
		}
		*part.dst = ds
		mt, err := Evaluate(m, ds)
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
	return t, nil
}

// subSeqs is a view of some rows of a Sequences.
type subSeqs struct {
	s   Sequences
	idx []int
}

func (v subSeqs) Len() int    { return len(v.idx) }
func (v subSeqs) Hidden() int { return v.s.Hidden() }
func (v subSeqs) Row(i int, dst []float32) ([]float32, int) {
	return v.s.Row(v.idx[i], dst)
}

// subset returns the rows idx of d.
func (d *SeqDataset) subset(idx []int) *SeqDataset {
	o := &SeqDataset{X: subSeqs{d.X, idx}, Y: make([]int, len(idx)), Labels: d.Labels}
	if d.Texts != nil {
		o.Texts = make([]string, len(idx))
	}
	for j, i := range idx {
		o.Y[j] = d.Y[i]
		if d.Texts != nil {
			o.Texts[j] = d.Texts[i]
		}
	}
	return o
}

func seqRows(d *SeqDataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}
