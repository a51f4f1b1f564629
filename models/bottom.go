package models

import (
	"fmt"

	"github.com/bertserve/bertserve/models/onnx"
)

// BuildBottom assembles the bottom of the encoder that Build writes: the
// embeddings and layers 0..k-1, with the same inputs as the full graph
// and one output, hidden_states [batch, sequence, hidden] = h_k, the
// input of layer k. k = 0 gives the embeddings alone; k must be below the
// layer count (the full graph is Build's). The nodes are those of Build,
// so a bottom followed by the tail of the same weights (ReadTail,
// BuildTail) computes what the full graph computes.
func BuildBottom(cfg *Config, weights Weights, k int) (*Built, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if k < 0 || k >= cfg.NumLayers {
		return nil, fmt.Errorf("the %s encoder has %d layers: a bottom holds layers 0..k-1 with k in 0..%d, got %d", cfg.ModelType, cfg.NumLayers, cfg.NumLayers-1, k)
	}
	ws, err := newWeightSet(weights)
	if err != nil {
		return nil, err
	}
	b := &builder{cfg: cfg, ws: ws, g: onnx.NewGraph(fmt.Sprintf(graphNameFmt, cfg.ModelType) + fmt.Sprintf("_bottom%d", k))}
	g := b.g
	ids := g.Input(InputIDs, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	mask := g.Input(InputMask, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	var types string
	if cfg.HasTokenTypes() {
		types = g.Input(InputTypeIDs, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	}
	h := b.embeddings(ids, types)
	if k > 0 {
		ext := b.extendedMask(mask)
		for i := 0; i < k; i++ {
			h = b.layer(i, h, ext)
		}
	} else {
		// The mask is not needed below layer 0; keep the input so every
		// bottom takes the same inputs, through a node ONNX Runtime drops.
		g.Op("Identity", mask)
	}
	if b.err != nil {
		return nil, b.err
	}
	out := &Built{Inputs: []string{InputIDs, InputMask}, Outputs: []string{OutputBottom}}
	if types != "" {
		out.Inputs = append(out.Inputs, InputTypeIDs)
	}
	g.Output(g.Rename(h, OutputBottom), onnx.Float, onnx.Sym(dimBatch), onnx.Sym(dimSequence), onnx.Dim(int64(cfg.HiddenSize)))
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("building the %s bottom graph: %w", cfg.ModelType, err)
	}
	m := onnx.NewModel(g)
	m.ProducerName = producerString
	m.DocString = fmt.Sprintf("%s encoder bottom: embeddings and layers 0..%d of %d, hidden %d", cfg.ModelType, k-1, cfg.NumLayers, cfg.HiddenSize)
	out.Model = m
	return out, nil
}
