package head

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// memSeqs is an in-memory Sequences.
type memSeqs struct {
	h    int
	rows [][]float32
}

func (m *memSeqs) Len() int    { return len(m.rows) }
func (m *memSeqs) Hidden() int { return m.h }
func (m *memSeqs) Row(i int, dst []float32) ([]float32, int) {
	r := m.rows[i]
	if cap(dst) < len(r) {
		dst = make([]float32, len(r))
	}
	dst = dst[:len(r)]
	copy(dst, r)
	return dst, len(r) / m.h
}

// randomTail returns tail weights of a small BERT with random weights
// (normal, std 0.2 as BERT's init scaled up; LayerNorm γ near 1).
func randomTail(spec TailSpec, seed uint64) *TailWeights {
	r := rand.New(rand.NewPCG(seed, 3))
	w := &TailWeights{Spec: spec, Layers: make([]map[string][]float32, spec.NumLayers)}
	fill := func(name string) []float32 {
		shape, _ := spec.TensorShape(name)
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.2)
			if len(shape) == 1 && (name[len(name)-len("LayerNorm.weight"):] == "LayerNorm.weight") {
				v[i] += 1
			}
		}
		return v
	}
	for j := range w.Layers {
		w.Layers[j] = map[string][]float32{}
		for _, name := range LayerTensors {
			w.Layers[j][name] = fill(name)
		}
	}
	if spec.FinalLayerNorm {
		w.Final = map[string][]float32{}
		for _, name := range FinalTensors {
			w.Final[name] = fill(name)
		}
	}
	return w
}

// seqTask makes n sequences of 3..12 tokens in 2 classes: class 1 texts
// carry a direction u on one random token, which mean pooling dilutes.
func seqTask(n, H int, seed uint64) *SeqDataset {
	ru := rand.New(rand.NewPCG(1, 1)) // the same direction in every split
	u := make([]float64, H)
	for j := range u {
		u[j] = ru.NormFloat64()
	}
	r := rand.New(rand.NewPCG(seed, 9))
	s := &memSeqs{h: H}
	d := &SeqDataset{X: s, Y: make([]int, n), Labels: []string{"neg", "pos"}}
	for i := 0; i < n; i++ {
		T := 3 + r.IntN(10)
		row := make([]float32, T*H)
		for k := range row {
			row[k] = float32(r.NormFloat64())
		}
		c := i % 2
		if c == 1 {
			t := r.IntN(T)
			for j := 0; j < H; j++ {
				row[t*H+j] += float32(1.5 * u[j])
			}
		}
		s.rows = append(s.rows, row)
		d.Y[i] = c
	}
	return d
}

func tinySpec(layers int, layout string) TailSpec {
	return TailSpec{Layout: layout, Hidden: 16, Heads: 2, Intermediate: 32, LayerNormEps: 1e-12, Activation: ActGELU,
		FirstLayer: 4 - layers, NumLayers: layers, TotalLayers: 4, Pooling: PoolMean, Normalize: false,
		HiddenDropout: 0.1, AttentionDropout: 0.1, FinalLayerNorm: layout == LayoutPreLN}
}

func tuneCfg(mode string) TrainConfig {
	c := Default()
	c.Tune, c.Layers, c.Epochs, c.BatchSize, c.LR = mode, 2, 6, 32, 3e-3
	c.Patience = 0
	return c
}

func TestLayerTensorNamesAgree(t *testing.T) {
	t.Parallel()
	if !slices.Equal(LayerTensors, nn.LayerTensorNames) {
		t.Fatal("head.LayerTensors and nn.LayerTensorNames differ")
	}
}

func TestTrainTailModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		layout string
		edit   func(*TrainConfig)
		params int
	}{
		{"lora q,v", LayoutPostLN, func(c *TrainConfig) {}, 2 * 2 * 8 * (16 + 16)},
		{"lora all targets rank 2", LayoutPostLN, func(c *TrainConfig) {
			c.LoRARank, c.LoRATargets = 2, LoRATargetNames
		}, 2 * 2 * (4*(16+16) + (16 + 32) + (32 + 16))},
		{"top gradual", LayoutPostLN, func(c *TrainConfig) { c.Tune, c.Unfreeze = TuneTop, UnfreezeGradual }, 2 * (4*16*16 + 4*16 + 2*16*32 + 32 + 16 + 4*16)},
		{"top pre_ln final LN mlp head", LayoutPreLN, func(c *TrainConfig) { c.Tune, c.Head = TuneTop, HeadMLP }, 2*(4*16*16+4*16+2*16*32+32+16+4*16) + 2*16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := tinySpec(2, tc.layout)
			base := randomTail(spec, 1)
			train, val := seqTask(240, 16, 2), seqTask(80, 16, 3)
			cfg := tuneCfg(TuneLoRA)
			tc.edit(&cfg)
			var seen []EpochStats
			m, rep, err := TrainTail(context.Background(), train, val, base, cfg, func(s EpochStats) { seen = append(seen, s) })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Params.Tail != tc.params {
				t.Errorf("tail params %d, want %d", rep.Params.Tail, tc.params)
			}
			if len(seen) != cfg.Epochs || rep.Curves.Validate() != nil {
				t.Errorf("%d progress calls", len(seen))
			}
			if first, last := seen[0].TrainLoss, seen[len(seen)-1].TrainLoss; !(last < first) {
				t.Errorf("train loss did not fall: %.4f → %.4f", first, last)
			}
			if rep.Val.Accuracy < 0.7 {
				t.Errorf("validation accuracy %.3f", rep.Val.Accuracy)
			}
			if !m.HasTail() || m.Tail().Validate() != nil {
				t.Fatal("no valid merged tail")
			}
			// save, load, same embeddings and probabilities
			dir := filepath.Join(t.TempDir(), "h")
			if err := Save(dir, m); err != nil {
				t.Fatal(err)
			}
			m2, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			p1, err := m.PredictProbaSeq(val.X)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := m2.PredictProbaSeq(val.X)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p1 {
				if !slices.Equal(p1[i], p2[i]) {
					t.Fatalf("row %d: %v before saving, %v after", i, p1[i], p2[i])
				}
			}
			if got := m2.Meta().Tail; got == nil || got.NumLayers != 2 || got.FirstLayer != 2 {
				t.Errorf("tail info %+v", got)
			}
		})
	}
}

func TestTrainTailDeterministic(t *testing.T) {
	t.Parallel()
	spec := tinySpec(2, LayoutPostLN)
	base := randomTail(spec, 4)
	train, val := seqTask(100, 16, 5), seqTask(40, 16, 6)
	cfg := tuneCfg(TuneTop)
	cfg.Epochs = 2
	run := func() *Model {
		m, _, err := TrainTail(context.Background(), train, val, base, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := run(), run()
	ta, tb := a.Tail(), b.Tail()
	for j := range ta.Layers {
		for name, v := range ta.Layers[j] {
			if !slices.Equal(v, tb.Layers[j][name]) {
				t.Fatalf("layer %d %s differs between two runs", j, name)
			}
		}
	}
	if slices.Equal(ta.Layers[1]["attention.self.query.weight"], base.Layers[1]["attention.self.query.weight"]) {
		t.Error("top tuning left the top layer's query weights unchanged")
	}
}

// TestMergeMatchesUnmerged checks W + s·B·A against the LoRA branch.
func TestMergeMatchesUnmerged(t *testing.T) {
	t.Parallel()
	spec := tinySpec(2, LayoutPostLN)
	spec.Normalize = true
	base := randomTail(spec, 7)
	cfg := tuneCfg(TuneLoRA)
	cfg.LoRATargets = LoRATargetNames
	net, err := buildTail[float32](base, cfg, nn.NewRNG(1), nn.NewRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	r := nn.NewRNG(3)
	for _, l := range net.Layers {
		for _, p := range l.Projs() {
			nn.Uniform(r, p.LoRA.B.W, 0.3)
		}
	}
	seqs := seqTask(20, 16, 8).X
	want := embedSeqs(net, seqs)
	merged, err := buildTail[float32](mergedTail(net, spec), TrainConfig{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := embedSeqs(merged, seqs)
	for i, v := range want.Data {
		if d := math.Abs(float64(v - got.Data[i])); d > 1e-5 {
			t.Fatalf("element %d: unmerged %v, merged %v", i, v, got.Data[i])
		}
	}
}

func TestTrainTailErrors(t *testing.T) {
	t.Parallel()
	spec := tinySpec(2, LayoutPostLN)
	base := randomTail(spec, 1)
	train := seqTask(20, 16, 2)
	cfg := tuneCfg(TuneLoRA)
	cases := map[string]func() error{
		"layers mismatch": func() error {
			c := cfg
			c.Layers = 3
			_, _, err := TrainTail(context.Background(), train, nil, base, c, nil)
			return err
		},
		"not tuned": func() error {
			_, _, err := TrainTail(context.Background(), train, nil, base, Default(), nil)
			return err
		},
		"width": func() error {
			_, _, err := TrainTail(context.Background(), seqTask(20, 8, 1), nil, base, cfg, nil)
			return err
		},
		"nan": func() error {
			bad := seqTask(20, 16, 2)
			bad.X.(*memSeqs).rows[3][5] = float32(math.NaN())
			_, _, err := TrainTail(context.Background(), bad, nil, base, cfg, nil)
			return err
		},
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
