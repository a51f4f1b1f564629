package head

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestPipelineTuned runs the one pipeline with a TailSource: hidden states
// are asked for once, for every text, below the tuned layers; the split,
// training, evaluation and mistakes work as for a head alone, and the
// result equals TrainTail on the same data.
func TestPipelineTuned(t *testing.T) {
	t.Parallel()
	task := seqTask(160, 16, 3)
	spec := tinySpec(2, LayoutPostLN)
	base := randomTail(spec, 7)
	texts := make([]string, task.Len())
	labels := make([]string, task.Len())
	for i, y := range task.Y {
		texts[i], labels[i] = fmt.Sprintf("text %d", i), task.Labels[y]
	}
	var hiddenCalls []int
	src := &TailSource{
		Base: func(n int) (*TailWeights, error) {
			if n != 2 {
				return nil, fmt.Errorf("asked for %d layers, want 2", n)
			}
			return base.Clone(), nil
		},
		Hidden: func(ctx context.Context, ts []string, k int) (Sequences, error) {
			if k != spec.FirstLayer {
				return nil, fmt.Errorf("hidden states below layer %d, want %d", k, spec.FirstLayer)
			}
			hiddenCalls = append(hiddenCalls, len(ts))
			idx := make([]int, len(ts))
			for i, s := range ts {
				fmt.Sscanf(s, "text %d", &idx[i])
			}
			return subSeqs{task.X, idx}, nil
		},
	}
	cfg := tuneCfg(TuneLoRA)
	cfg.Errors = 5
	in := Inputs{
		Train: &Labelled{Source: "train", Texts: texts[:120], Labels: labels[:120]},
		Val:   &Labelled{Source: "val", Texts: texts[120:], Labels: labels[120:]},
	}
	var stages []Stage
	p := Pipeline{Config: cfg, Encoder: &TextEncoder{Info: EncoderInfo{Name: "fake", Digest: "d"}}, Tails: src,
		Progress: func(e Event) {
			if len(stages) == 0 || stages[len(stages)-1] != e.Stage {
				stages = append(stages, e.Stage)
			}
		}}
	tr, err := p.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(hiddenCalls) != 1 || hiddenCalls[0] != 160 {
		t.Errorf("hidden states asked for %v texts, want one call for all 160", hiddenCalls)
	}
	if got := fmt.Sprint(stages); got != "[embedding split training evaluated]" {
		t.Errorf("stages %s", got)
	}
	if !tr.Model.HasTail() || tr.Val == nil || tr.Val.Len() != 40 || len(tr.Mistakes) == 0 || tr.Model.Meta().Encoder.Name != "fake" {
		t.Fatalf("trained: tail %v, val %v, mistakes %d, encoder %+v", tr.Model.HasTail(), tr.Val, len(tr.Mistakes), tr.Model.Meta().Encoder)
	}
	// A head with its own encoder layers is not moved to another variant
	// (int8) of its encoder.
	enc := tr.Model.Meta().Encoder
	enc.Digest = "f32"
	tr.Model.SetEncoder(enc)
	if _, err := tr.Model.AcceptEncoder("i8", "f32", tr.Model.Dim(), false); err == nil || !strings.Contains(err.Error(), "owns encoder layers") {
		t.Errorf("tailed head on the int8 variant of its encoder: %v", err)
	}
	// The same as TrainTail on the same sequences.
	tsd := &SeqDataset{X: subSeqs{task.X, seqRange(0, 120)}, Y: task.Y[:120], Labels: []string{"neg", "pos"}}
	vsd := &SeqDataset{X: subSeqs{task.X, seqRange(120, 160)}, Y: task.Y[120:], Labels: []string{"neg", "pos"}}
	m, _, err := TrainTail(context.Background(), tsd, vsd, base.Clone(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := tr.Model.Tail(), m.Tail()
	for name, v := range a.Layers[1] {
		for i := range v {
			if v[i] != b.Layers[1][name][i] {
				t.Fatalf("pipeline and TrainTail differ at %s[%d]", name, i)
			}
		}
	}

	// Text is required, and so is the source.
	if _, err := (&Pipeline{Config: cfg, Tails: src}).Run(context.Background(), Inputs{TrainSet: blobs(20, 16, 2, 3, 1)}); err == nil || !strings.Contains(err.Error(), "needs the texts") {
		t.Errorf("tuned on embeddings: %v", err)
	}
	if _, err := (&Pipeline{Config: cfg}).Run(context.Background(), in); err == nil || !strings.Contains(err.Error(), "Pipeline.Tails") {
		t.Errorf("tuned without a source: %v", err)
	}
}

func seqRange(lo, hi int) []int {
	out := make([]int, hi-lo)
	for i := range out {
		out[i] = lo + i
	}
	return out
}
