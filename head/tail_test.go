package head

import (
	"strings"
	"testing"
)

func miniSpec() TailSpec {
	return TailSpec{Layout: LayoutPostLN, Hidden: 8, Heads: 2, Intermediate: 12, LayerNormEps: 1e-12,
		Activation: ActGELU, FirstLayer: 1, NumLayers: 2, TotalLayers: 3, Pooling: PoolMean,
		HiddenDropout: 0.1, AttentionDropout: 0.1}
}

func TestTailSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*TailSpec)
		want string
	}{
		{"ok", func(*TailSpec) {}, ""},
		{"pre_ln tanh gelu cls", func(s *TailSpec) { s.Layout, s.Activation, s.Pooling = LayoutPreLN, "gelu_pytorch_tanh", PoolCLS }, ""},
		{"layout", func(s *TailSpec) { s.Layout = "sandwich" }, "layout"},
		{"heads divide", func(s *TailSpec) { s.Heads = 3 }, "divide hidden 8"},
		{"activation", func(s *TailSpec) { s.Activation = "swish" }, "activation"},
		{"first layer", func(s *TailSpec) { s.FirstLayer = 0 }, "first_layer = total_layers - num_layers"},
		{"pooling", func(s *TailSpec) { s.Pooling = "max" }, "pooling"},
		{"eps", func(s *TailSpec) { s.LayerNormEps = 0 }, "layer_norm_eps"},
		{"dropout", func(s *TailSpec) { s.AttentionDropout = 1 }, "attention_probs_dropout_prob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := miniSpec()
			tc.edit(&s)
			err := s.Validate()
			if tc.want == "" && err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestTuneConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*TrainConfig)
		want string
	}{
		{"default lora", func(c *TrainConfig) { c.Tune = TuneLoRA }, ""},
		{"top gradual", func(c *TrainConfig) { c.Tune, c.Unfreeze = TuneTop, UnfreezeGradual }, ""},
		{"unknown mode", func(c *TrainConfig) { c.Tune = "bitfit" }, "want none, lora or top"},
		{"no layers", func(c *TrainConfig) { c.Tune, c.Layers = TuneTop, 0 }, "layers 0"},
		{"lbfgs", func(c *TrainConfig) { c.Tune, c.Optimizer = TuneLoRA, OptLBFGS }, "adamw"},
		{"rank", func(c *TrainConfig) { c.Tune, c.LoRARank = TuneLoRA, 0 }, "lora_rank"},
		{"alpha", func(c *TrainConfig) { c.Tune, c.LoRAAlpha = TuneLoRA, 0 }, "lora_alpha"},
		{"lora dropout", func(c *TrainConfig) { c.Tune, c.LoRADropout = TuneLoRA, 1 }, "lora_dropout"},
		{"targets empty", func(c *TrainConfig) { c.Tune, c.LoRATargets = TuneLoRA, nil }, "lora_targets is empty"},
		{"target unknown", func(c *TrainConfig) { c.Tune, c.LoRATargets = TuneLoRA, []string{"query", "dense"} }, `unknown lora target "dense"`},
		{"decay", func(c *TrainConfig) { c.Tune, c.LayerLRDecay = TuneTop, 0 }, "layer_lr_decay"},
		{"unfreeze", func(c *TrainConfig) { c.Tune, c.Unfreeze = TuneTop, "thaw" }, "unfreeze"},
		{"none ignores the rest", func(c *TrainConfig) { c.LoRARank, c.Layers = 0, 0 }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" && err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	c := Default()
	c.Tune = TuneLoRA
	if c.ResolvedOptimizer() != OptAdamW {
		t.Errorf("tuned softmax resolves to %s, want adamw", c.ResolvedOptimizer())
	}
}

func TestCanonicalTargets(t *testing.T) {
	t.Parallel()
	got, err := CanonicalTargets([]string{"value", "q_lin", "Query", "output.dense", "attention_output"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{TargetQuery, TargetValue, TargetAttnOutput, TargetOutput}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, all := range [][]string{{"all"}, {"value", "All-Linear"}} {
		got, err := CanonicalTargets(all)
		if err != nil || strings.Join(got, ",") != strings.Join(LoRATargetNames, ",") {
			t.Errorf("%v: got %v, %v; want every projection %v", all, got, err, LoRATargetNames)
		}
	}
	if _, err := CanonicalTargets([]string{"qkv"}); err == nil || !strings.Contains(err.Error(), "or all") {
		t.Errorf("an unknown target: %v", err)
	}
}

func TestTensorShapes(t *testing.T) {
	t.Parallel()
	s := miniSpec()
	for _, name := range append(append([]string{}, LayerTensors...), FinalTensors...) {
		if _, ok := s.TensorShape(name); !ok {
			t.Errorf("no shape for %s", name)
		}
	}
	if sh, _ := s.TensorShape("intermediate.dense.weight"); sh[0] != 12 || sh[1] != 8 {
		t.Errorf("intermediate weight shape %v", sh)
	}
}
