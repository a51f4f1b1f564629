package main

import (
	"context"
	"fmt"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
)

// headEmbedder embeds texts the way a head expects them: the encoder's
// pooled output for a plain head; for a head that trained encoder layers,
// the bottom of the encoder below its split, then its own tail.onnx.
type headEmbedder struct {
	enc    *encoder.Encoder
	sp     *splitModel
	bottom *encoder.Bottom
	tail   *encoder.Tail
}

func newHeadEmbedder(enc *encoder.Encoder, modelDir, headDir string, m *head.Model) (*headEmbedder, error) {
	h := &headEmbedder{enc: enc}
	if !m.HasTail() {
		return h, nil
	}
	graph, err := readTail(headDir, m)
	if err != nil {
		return nil, err
	}
	h.sp = newSplitModel(enc, modelDir)
	k := m.Meta().Tail.FirstLayer
	if h.bottom, err = h.sp.Bottom(k); err != nil {
		h.Close()
		return nil, fmt.Errorf("head %s trained encoder layers %d..%d: %w", headDir, k, m.Meta().Tail.TotalLayers-1, err)
	}
	if h.tail, err = enc.OpenTail(graph); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Embed returns the head's input for each text.
func (h *headEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if h.tail == nil {
		r, err := h.enc.Embed(ctx, texts)
		if err != nil {
			return nil, err
		}
		return r.Vectors, nil
	}
	out, err := h.bottom.EmbedTails(ctx, h.bottom.Tokenize(texts), []*encoder.Tail{h.tail})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Close releases the tail and bottom sessions.
func (h *headEmbedder) Close() {
	if h.tail != nil {
		h.tail.Close()
	}
	if h.sp != nil {
		h.sp.Close()
	}
}
