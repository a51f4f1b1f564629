package models

import (
	"github.com/bertserve/bertserve/models/safetensors"
)

// RandomOptions control RandomWeightsWith.
type RandomOptions struct {
	// Seed selects the weights; the same seed and config give the same
	// bits on every platform and Go version.
	Seed uint64
	// Std is the standard deviation of the normal init; 0 means the
	// config's initializer_range (0.02 for BERT).
	Std float64
	// Pooler adds pooler.dense (ignored for DistilBERT).
	Pooler bool
	// PerturbAll also draws biases (normal, Std) and LayerNorm scales
	// (1 + normal, 10·Std) and shifts (normal, Std) instead of 0 and 1, so
	// that a reference comparison exercises every parameter.
	PerturbAll bool
}

// RandomWeights returns a BERT-initialized encoder for cfg under its
// Hugging Face parameter names (no model prefix): normal(0, 0.02) matrices
// and embeddings, zero biases, LayerNorm weight 1 and bias 0, the pad
// row of the word (and RoBERTa position) table zeroed as
// transformers' _init_weights does, and a pooler unless the family has
// none.
func RandomWeights(cfg *Config, seed uint64) Weights {
	return RandomWeightsWith(cfg, RandomOptions{Seed: seed, Pooler: true})
}

// RandomWeightsWith is RandomWeights with options.
func RandomWeightsWith(cfg *Config, opt RandomOptions) Weights {
	std := opt.Std
	if std == 0 {
		std = cfg.InitializerRange
	}
	if std == 0 {
		std = 0.02
	}
	rng := newNormalSource(opt.Seed)
	out := Weights{}
	for _, p := range paramSpecs(cfg, opt.Pooler) {
		t := safetensors.Tensor{Shape: append([]int(nil), p.Shape...)}
		t.Data = make([]float32, t.Len())
		switch {
		case p.Kind == kindNormal:
			for i := range t.Data {
				t.Data[i] = float32(float64(rng.Norm() * std))
			}
		case opt.PerturbAll && p.Kind == kindZeros:
			for i := range t.Data {
				t.Data[i] = float32(float64(rng.Norm() * std))
			}
		case opt.PerturbAll && p.Kind == kindOnes:
			for i := range t.Data {
				t.Data[i] = float32(1 + float64(rng.Norm()*10*std))
			}
		case p.Kind == kindOnes:
			for i := range t.Data {
				t.Data[i] = 1
			}
		}
		out[p.Name] = t
	}
	H := cfg.HiddenSize
	zeroRow := func(name string, row int) {
		t := out[name]
		if row >= 0 && (row+1)*H <= len(t.Data) {
			clear(t.Data[row*H : (row+1)*H])
		}
	}
	zeroRow(wordEmbName, cfg.PadTokenID)
	if cfg.Family() == FamilyRoBERTa {
		zeroRow(posEmbName, cfg.PadTokenID)
	}
	return out
}
