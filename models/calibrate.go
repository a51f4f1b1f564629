package models

import (
	"fmt"
	"math"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models/internal/orttest"
)

// calibBatch is how many sequences one calibration run pads together.
const calibBatch = 16

// Calibrate runs the float32 encoder of cfg and weights in ONNX Runtime
// (loaded from libPath, "" for the usual search) on seqs, token id
// sequences with [CLS]/[SEP] as the tokenizer writes them, and returns
// for every input an int8 build quantizes (layer.N.qkv,
// layer.N.attention_output, layer.N.intermediate, layer.N.output) the
// largest |value| of each channel over the real tokens: the
// BuildOptions.Calibration an int8 build smooths its inputs with.
func Calibrate(cfg *Config, weights Weights, seqs [][]int64, libPath string) (map[string][]float32, error) {
	if len(seqs) == 0 {
		return nil, fmt.Errorf("calibration needs at least one token sequence")
	}
	probe, err := BuildWith(cfg, weights, BuildOptions{DType: DTypeInt8, calibrate: true})
	if err != nil {
		return nil, err
	}
	if err := encoder.InitRuntime(libPath); err != nil {
		return nil, err
	}
	model, err := probe.Model.Marshal()
	if err != nil {
		return nil, err
	}
	sites := probe.calibSites
	outs := make([]string, len(sites))
	for i, s := range sites {
		outs[i] = probe.calibOut[s]
	}
	sess, err := orttest.NewSession(model, probe.Inputs, outs, &orttest.Options{Threads: 2})
	if err != nil {
		return nil, fmt.Errorf("calibration graph: %w", err)
	}
	defer sess.Close()
	amax := map[string][]float32{}
	for start := 0; start < len(seqs); start += calibBatch {
		batch := seqs[start:min(start+calibBatch, len(seqs))]
		T := 0
		for _, s := range batch {
			T = max(T, len(s))
		}
		if T == 0 {
			continue
		}
		B := len(batch)
		ids, mask := make([]int64, B*T), make([]int64, B*T)
		for r, s := range batch {
			for t, id := range s {
				if id < 0 || id >= int64(cfg.VocabSize) {
					return nil, fmt.Errorf("calibration token id %d is outside the vocabulary of %d", id, cfg.VocabSize)
				}
				ids[r*T+t], mask[r*T+t] = id, 1
			}
			for t := len(s); t < T; t++ {
				ids[r*T+t] = int64(cfg.PadTokenID)
			}
		}
		shape := []int64{int64(B), int64(T)}
		var inputs []orttest.Input
		for _, name := range probe.Inputs {
			data := ids
			switch name {
			case InputMask:
				data = mask
			case InputTypeIDs:
				data = make([]int64, B*T)
			}
			inputs = append(inputs, orttest.Input{Name: name, Shape: shape, Int64: data})
		}
		res, err := sess.Run(inputs)
		if err != nil {
			return nil, fmt.Errorf("running the calibration graph: %w", err)
		}
		for i, site := range sites {
			o := res[outs[i]]
			if len(o.Shape) != 2 || o.Shape[0] != int64(B*T) {
				return nil, fmt.Errorf("calibration output %s has shape %v, want [%d, channels]", site, o.Shape, B*T)
			}
			K := int(o.Shape[1])
			m := amax[site]
			if m == nil {
				m = make([]float32, K)
				amax[site] = m
			}
			for r := 0; r < B*T; r++ {
				if mask[r] == 0 {
					continue
				}
				for j, v := range o.Data[r*K : (r+1)*K] {
					m[j] = max(m[j], float32(math.Abs(float64(v))))
				}
			}
		}
	}
	return amax, nil
}
