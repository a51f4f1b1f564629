package main

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
)

// TestTailGraphMatchesGoTail builds tail.onnx (models.BuildTail) from
// heads trained by head.TrainTail in every layout the contract knows and
// runs it in ONNX Runtime against the Go tail's EmbedSeq on the same
// hidden states: post-LN (BERT) and pre-LN with a final LayerNorm, each
// activation, cls and mean pooling, with and without normalisation.
func TestTailGraphMatchesGoTail(t *testing.T) {
	model := cliModel(t)
	enc, err := encoder.Open(encoder.Options{ModelDir: model, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	const H = 16
	r := rand.New(rand.NewPCG(5, 6))
	seqs := &memSeqs{h: H}
	var y []int
	for i := 0; i < 48; i++ {
		T := 1 + r.IntN(9)
		row := make([]float32, T*H)
		for j := range row {
			row[j] = float32(r.NormFloat64())
		}
		if i%2 == 1 {
			row[0] += 2
		}
		seqs.rows, seqs.lens = append(seqs.rows, row), append(seqs.lens, T)
		y = append(y, i%2)
	}
	worst := 0.0
	for _, tc := range []struct {
		layout, act, pooling string
		normalize, final     bool
	}{
		{head.LayoutPostLN, head.ActGELU, head.PoolMean, false, false},
		{head.LayoutPostLN, head.ActGELUTanh, head.PoolCLS, true, false},
		{head.LayoutPreLN, head.ActReLU, head.PoolMean, true, true},
		{head.LayoutPreLN, head.ActGELU, head.PoolCLS, false, true},
	} {
		spec := head.TailSpec{Layout: tc.layout, Hidden: H, Heads: 4, Intermediate: 32, LayerNormEps: 1e-6, Activation: tc.act,
			FirstLayer: 1, NumLayers: 2, TotalLayers: 3, Pooling: tc.pooling, Normalize: tc.normalize, FinalLayerNorm: tc.final,
			HiddenDropout: 0.1, AttentionDropout: 0.1}
		base := &head.TailWeights{Spec: spec, Layers: make([]map[string][]float32, 2)}
		for j := range base.Layers {
			base.Layers[j] = map[string][]float32{}
			for _, name := range head.LayerTensors {
				shape, _ := spec.TensorShape(name)
				n := 1
				for _, d := range shape {
					n *= d
				}
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(r.NormFloat64() * 0.2)
					if len(shape) == 1 && (name == "attention.output.LayerNorm.weight" || name == "output.LayerNorm.weight") {
						v[i] += 1
					}
				}
				base.Layers[j][name] = v
			}
		}
		if tc.final {
			base.Final = map[string][]float32{"final.LayerNorm.weight": make([]float32, H), "final.LayerNorm.bias": make([]float32, H)}
			for i := 0; i < H; i++ {
				base.Final["final.LayerNorm.weight"][i] = 1 + float32(r.NormFloat64()*0.1)
				base.Final["final.LayerNorm.bias"][i] = float32(r.NormFloat64() * 0.1)
			}
		}
		cfg := head.Default()
		cfg.Tune, cfg.Layers, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Patience = head.TuneLoRA, 2, 1, 16, 1e-2, 0
		m, _, err := head.TrainTail(context.Background(), &head.SeqDataset{X: seqs, Y: y, Labels: []string{"a", "b"}}, nil, base, cfg, nil)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		graph, err := buildTailGraph(m, "digest")
		if err != nil {
			t.Fatal(err)
		}
		tail, err := enc.OpenTail(graph)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tail.EmbedSeqs(seqs)
		tail.Close()
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.EmbedSeq(seqs)
		if err != nil {
			t.Fatal(err)
		}
		d := 0.0
		for i := range want {
			for j := range want[i] {
				d = max(d, math.Abs(float64(want[i][j]-got[i][j])))
			}
		}
		worst = max(worst, d)
		if d > 1e-5 {
			t.Errorf("%s %s %s normalize %v: tail.onnx and the Go tail differ by %.3g", tc.layout, tc.act, tc.pooling, tc.normalize, d)
		}
	}
	t.Logf("tail.onnx vs the Go tail, every layout: largest difference %.3g", worst)
}
