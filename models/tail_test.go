package models

import (
	"math"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/safetensors"
)

// splitTolerance is the largest absolute difference allowed between the
// full graph and bottom + tail, both in ONNX Runtime float32.
const splitTolerance = 1e-5

// splitBatch is a right-padded batch of random token ids.
type splitBatch struct {
	B, T        int
	lens        []int
	ids, mask   []int64
	types       []int64
	withTypeIDs bool
}

func newSplitBatch(cfg *Config, lens []int, seed uint64) *splitBatch {
	rng := newNormalSource(seed)
	T := 0
	for _, l := range lens {
		T = max(T, l)
	}
	b := &splitBatch{B: len(lens), T: T, lens: lens, withTypeIDs: cfg.HasTokenTypes()}
	b.ids = make([]int64, b.B*T)
	b.mask = make([]int64, b.B*T)
	b.types = make([]int64, b.B*T)
	for r, l := range lens {
		for t := 0; t < T; t++ {
			i := r*T + t
			if t >= l {
				b.ids[i] = int64(cfg.PadTokenID)
				continue
			}
			id := int64(cfg.PadTokenID)
			for id == int64(cfg.PadTokenID) {
				id = int64(rng.next() % uint64(min(cfg.VocabSize, 5000)))
			}
			b.ids[i], b.mask[i] = id, 1
			if t > l/2 && b.withTypeIDs {
				b.types[i] = 1
			}
		}
	}
	return b
}

func (b *splitBatch) inputs() []orttest.Input {
	shape := []int64{int64(b.B), int64(b.T)}
	in := []orttest.Input{{Name: InputIDs, Shape: shape, Int64: b.ids}, {Name: InputMask, Shape: shape, Int64: b.mask}}
	if b.withTypeIDs {
		in = append(in, orttest.Input{Name: InputTypeIDs, Shape: shape, Int64: b.types})
	}
	return in
}

// pooled is what the encoder's pooling makes of the full graph's outputs.
func (b *splitBatch) pooled(full map[string]orttest.Output, pooling string, H int, normalize bool) []float32 {
	out := make([]float32, 0, b.B*H)
	hs := full[OutputHidden].Data
	for r, n := range b.lens {
		v := make([]float64, H)
		switch pooling {
		case "cls":
			for j := range v {
				v[j] = float64(hs[r*b.T*H+j])
			}
		case "mean":
			for t := 0; t < n; t++ {
				for j := range v {
					v[j] += float64(hs[(r*b.T+t)*H+j]) / float64(n)
				}
			}
		case "pooler":
			for j := range v {
				v[j] = float64(full[OutputPooler].Data[r*H+j])
			}
		}
		if normalize {
			var ss float64
			for _, x := range v {
				ss += x * x
			}
			for j := range v {
				v[j] /= math.Sqrt(ss)
			}
		}
		for _, x := range v {
			out = append(out, float32(x))
		}
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestBottomPlusTailEqualsFull checks, on the random-weight encoders of
// testdata/configs, that the bottom graph (layers 0..k-1) followed by the
// tail graph (layers k..L-1 + pooling) gives the full graph's pooled
// output for every split k and every pooling a tail knows.
func TestBottomPlusTailEqualsFull(t *testing.T) {
	orttest.Require(t)
	worst := 0.0
	for i, name := range []string{"tiny-bert.json", "tiny-bert-gelu-new.json", "tiny-roberta.json", "tiny-distilbert.json", "minilm-l6-h384.json"} {
		cfg := loadTestConfig(t, name)
		w := RandomWeightsWith(cfg, RandomOptions{Seed: uint64(10 + i), Pooler: true, PerturbAll: true})
		full, err := Build(cfg, w)
		if err != nil {
			t.Fatal(err)
		}
		fullBytes, err := full.Model.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		batch := newSplitBatch(cfg, []int{9, 3, 6, 1}, uint64(i))
		fullOut := orttest.Run(t, fullBytes, batch.inputs(), full.Outputs, nil)
		H := cfg.HiddenSize
		poolings := []string{"cls", "mean"}
		if full.HasPooler {
			poolings = append(poolings, "pooler")
		}
		// Every split of the small configs; the first, middle and last of
		// MiniLM's six (each bottom carries the 30,522-row embedding table).
		ks := []int{0, cfg.NumLayers / 2, cfg.NumLayers - 1}
		if cfg.NumLayers <= 3 {
			ks = ks[:0]
			for k := 0; k < cfg.NumLayers; k++ {
				ks = append(ks, k)
			}
		}
		for _, k := range ks {
			bottom, err := BuildBottom(cfg, w, k)
			if err != nil {
				t.Fatal(err)
			}
			bb, err := bottom.Model.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			hk := orttest.Run(t, bb, batch.inputs(), bottom.Outputs, nil)[OutputBottom]
			for _, pooling := range poolings {
				for _, normalize := range []bool{false, true} {
					tail, err := ReadTail(cfg, w, k, pooling, normalize)
					if err != nil {
						t.Fatal(err)
					}
					tm, err := BuildTail(tail, TailGraphOptions{HiddenOutput: true})
					if err != nil {
						t.Fatal(err)
					}
					tb, err := tm.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					in := []orttest.Input{
						{Name: TailInputHidden, Shape: hk.Shape, Float32: hk.Data},
						{Name: TailInputMask, Shape: []int64{int64(batch.B), int64(batch.T)}, Int64: batch.mask},
					}
					got := orttest.Run(t, tb, in, []string{OutputHidden, TailOutput}, nil)
					d := maxAbsDiff(got[TailOutput].Data, batch.pooled(fullOut, pooling, H, normalize))
					dh := maxHiddenDiff(got[OutputHidden].Data, fullOut[OutputHidden].Data, batch, H)
					worst = max(worst, d, dh)
					if d > splitTolerance || dh > splitTolerance {
						t.Errorf("%s k=%d pooling %s normalize %v: bottom+tail differs from the full graph by %.3g (pooled), %.3g (hidden)", name, k, pooling, normalize, d, dh)
					}
				}
			}
		}
	}
	t.Logf("largest difference, full graph vs bottom + tail: %.3g", worst)
}

// maxHiddenDiff compares token hidden states at real positions only.
func maxHiddenDiff(a, b []float32, batch *splitBatch, H int) float64 {
	d := 0.0
	for r, n := range batch.lens {
		lo, hi := r*batch.T*H, (r*batch.T+n)*H
		d = max(d, maxAbsDiff(a[lo:hi], b[lo:hi]))
	}
	return d
}

// TestTailDoesNotDependOnPadding runs one row alone and padded beside a
// longer row: real tokens never attend to padding, so the tail's output
// for the row must not change.
func TestTailDoesNotDependOnPadding(t *testing.T) {
	orttest.Require(t)
	cfg := loadTestConfig(t, "tiny-bert.json")
	w := RandomWeightsWith(cfg, RandomOptions{Seed: 3, Pooler: true, PerturbAll: true})
	tail, err := ReadTail(cfg, w, 0, "mean", true)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := BuildTail(tail, TailGraphOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := tm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	H := cfg.HiddenSize
	rng := newNormalSource(9)
	x := make([]float32, 2*5*H)
	for i := range x {
		x[i] = float32(rng.Norm())
	}
	run := func(hidden []float32, B, T int, mask []int64) []float32 {
		in := []orttest.Input{
			{Name: TailInputHidden, Shape: []int64{int64(B), int64(T), int64(H)}, Float32: hidden},
			{Name: TailInputMask, Shape: []int64{int64(B), int64(T)}, Int64: mask},
		}
		return orttest.Run(t, tb, in, []string{TailOutput}, nil)[TailOutput].Data
	}
	alone := run(x[:2*H], 1, 2, []int64{1, 1})
	padded := run(x, 2, 5, []int64{1, 1, 0, 0, 0, 1, 1, 1, 1, 1})
	if d := maxAbsDiff(alone, padded[:H]); d > 1e-6 {
		t.Errorf("a row's tail output changes by %.3g when padded beside a longer row", d)
	}
}

func TestReadTailNamesAndErrors(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-distilbert.json")
	w := RandomWeightsWith(cfg, RandomOptions{Seed: 1, PerturbAll: true})
	tail, err := ReadTail(cfg, withPrefix(w, "distilbert."), 1, "mean", false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(tail.Tensors), len(TailLayerTensors); got != want {
		t.Fatalf("a one-layer tail holds %d tensors, want %d", got, want)
	}
	q := tail.Tensors["layer.0.attention.self.query.weight"]
	src := w["transformer.layer.1.attention.q_lin.weight"]
	if maxAbsDiff(q.Data, src.Data) != 0 {
		t.Error("DistilBERT's q_lin of layer 1 is not the tail's layer.0 query weight")
	}
	ln := tail.Tensors["layer.0.output.LayerNorm.bias"]
	if maxAbsDiff(ln.Data, w["transformer.layer.1.output_layer_norm.bias"].Data) != 0 {
		t.Error("DistilBERT's output_layer_norm is not the tail's output.LayerNorm")
	}
	if tail.Spec.FirstLayer != 1 || tail.Spec.NumLayers != 1 || tail.Spec.TotalLayers != 2 || tail.Spec.Layout != LayoutPostLN {
		t.Errorf("spec %+v", tail.Spec)
	}
	for _, tc := range []struct {
		k       int
		pooling string
		want    string
	}{
		{2, "mean", "the first trainable layer must be 0..1"},
		{-1, "mean", "the first trainable layer must be 0..1"},
		{0, "max", "not \"max\""},
		{0, "pooler", "needs pooler.dense"},
	} {
		if _, err := ReadTail(cfg, w, tc.k, tc.pooling, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadTail(k=%d, %s): error %v, want one containing %q", tc.k, tc.pooling, err, tc.want)
		}
	}
	if _, err := BuildBottom(cfg, w, 2); err == nil || !strings.Contains(err.Error(), "k in 0..1") {
		t.Errorf("BuildBottom(k=2) of a 2-layer model: %v", err)
	}
}

func TestTailValidate(t *testing.T) {
	t.Parallel()
	cfg := loadTestConfig(t, "tiny-bert.json")
	w := RandomWeights(cfg, 1)
	good, err := ReadTail(cfg, w, 1, "pooler", true)
	if err != nil {
		t.Fatal(err)
	}
	if good.Spec.Pooler != "tanh" || good.Spec.Pooling != "cls" {
		t.Errorf("BERT's pooler pooling: spec %+v, want cls + tanh pooler", good.Spec)
	}
	clone := func() *Tail {
		c := &Tail{Spec: good.Spec, Tensors: map[string]safetensors.Tensor{}}
		for k, v := range good.Tensors {
			c.Tensors[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*Tail)
		want string
	}{
		{"missing", func(t *Tail) { delete(t.Tensors, "layer.0.attention.self.key.bias") }, "missing tensor \"layer.0.attention.self.key.bias\""},
		{"shape", func(t *Tail) {
			t.Tensors["pooler.dense.bias"] = safetensors.Tensor{Shape: []int{3}, Data: make([]float32, 3)}
		}, "has shape [3]"},
		{"extra", func(t *Tail) { t.Tensors["layer.1.output.dense.bias"] = t.Tensors["layer.0.output.dense.bias"] }, "does not use"},
		{"layers", func(t *Tail) { t.Spec.NumLayers = 2 }, "first_layer + num_layers"},
		{"activation", func(t *Tail) { t.Spec.Activation = "swish" }, "activation \"swish\""},
		{"heads", func(t *Tail) { t.Spec.Heads = 5 }, "not a multiple"},
	} {
		c := clone()
		tc.edit(c)
		if _, err := BuildTail(c, TailGraphOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	if n, want := good.Params(), 4*(H*H+H)+(I*H+I)+(H*I+H)+4*H+H*H+H; n != want {
		t.Errorf("a one-layer tail with a pooler has %d parameters, want %d", n, want)
	}
}
