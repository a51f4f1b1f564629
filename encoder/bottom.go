package encoder

import (
	"context"
	"errors"
	"fmt"
	"slices"

	ort "github.com/yalue/onnxruntime_go"
)

// BottomOutput is the output a bottom graph must have: the hidden state
// below the split layer, [batch, sequence, hidden].
const BottomOutput = "hidden_states"

// Bottom runs the lower layers of the encoder (a bottom graph from
// models/split: the embeddings and layers 0..k-1) on texts tokenized,
// truncated and batched exactly as the Encoder does, and hands out each
// text's hidden states over its real tokens. It is safe for concurrent
// use.
type Bottom struct {
	enc     *Encoder
	session *ort.DynamicAdvancedSession
	hidden  int
}

// OpenBottom loads a bottom graph of e's model into its own ONNX Runtime
// session with e's threads and device. The graph must take the same
// inputs as model.onnx and output hidden_states.
func (e *Encoder) OpenBottom(graph []byte) (*Bottom, error) {
	if e.session == nil {
		return nil, errors.New("encoder is closed")
	}
	inputs, outputs, err := graphIO(graph)
	if err != nil {
		return nil, fmt.Errorf("bottom graph: %w", err)
	}
	if !slices.Contains(outputs, BottomOutput) {
		return nil, fmt.Errorf("bottom graph has outputs %v, want %q", outputs, BottomOutput)
	}
	want := e.inputNames()
	for _, in := range inputs {
		if !slices.Contains(want, in) {
			return nil, fmt.Errorf("bottom graph takes input %q, which the encoder (inputs %v) does not feed", in, want)
		}
	}
	for _, in := range want {
		if !slices.Contains(inputs, in) {
			return nil, fmt.Errorf("bottom graph lacks the model input %q (it takes %v)", in, inputs)
		}
	}
	so, _, err := sessionOptions(e.opts)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(graph, want, []string{BottomOutput}, so)
	if err != nil {
		return nil, fmt.Errorf("creating the ONNX Runtime session for the bottom graph: %w", err)
	}
	b := &Bottom{enc: e, session: s}
	var probe int
	err = b.run(context.Background(), []Encoding{e.tok.Encode("probe", e.info.MaxLength)}, func(_ int, _ []float32, _, h int) error {
		probe = h
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("the bottom graph does not run: %w", err)
	}
	b.hidden = probe
	return b, nil
}

// Hidden is the width of the hidden states.
func (b *Bottom) Hidden() int { return b.hidden }

// Encoder is the encoder whose tokenizer and settings the bottom uses.
func (b *Bottom) Encoder() *Encoder { return b.enc }

// Close releases the session.
func (b *Bottom) Close() error {
	if b.session == nil {
		return nil
	}
	err := b.session.Destroy()
	b.session = nil
	return err
}

// Tokenize encodes texts as the encoder does (truncated to its maximum
// length), for Run and for counting tokens before running.
func (b *Bottom) Tokenize(texts []string) []Encoding { return b.enc.tokenize(texts) }

// Run computes the hidden states of encs in length-sorted batches and
// calls fn once per encoding with its index, its hidden states over its
// real tokens (T×hidden, row-major, valid only during the call) and T.
// Calls come in batch order, not index order. An error from fn stops the
// run.
func (b *Bottom) Run(ctx context.Context, encs []Encoding, fn func(i int, h []float32, T int) error) error {
	return b.run(ctx, encs, func(i int, h []float32, T, _ int) error { return fn(i, h, T) })
}

func (b *Bottom) run(ctx context.Context, encs []Encoding, fn func(i int, h []float32, T, hidden int) error) error {
	if b.session == nil {
		return errors.New("bottom is closed")
	}
	e := b.enc
	lengths := make([]int, len(encs))
	for i, enc := range encs {
		lengths[i] = len(enc.IDs)
	}
	for _, batch := range PlanBatches(lengths, e.opts.BatchTokens, e.opts.MaxBatch) {
		if err := ctx.Err(); err != nil {
			return err
		}
		in, err := e.batchTensors(encs, batch)
		if err != nil {
			return err
		}
		outs := []ort.Value{nil}
		err = b.session.Run(in.values, outs)
		in.destroy()
		if err != nil {
			return fmt.Errorf("ONNX Runtime (bottom): %w", err)
		}
		t, ok := outs[0].(*ort.Tensor[float32])
		if !ok {
			outs[0].Destroy()
			return fmt.Errorf("bottom output %q is not a float32 tensor", BottomOutput)
		}
		shape, data := t.GetShape(), t.GetData()
		if len(shape) != 3 || int(shape[0]) != len(batch.Rows) {
			outs[0].Destroy()
			return fmt.Errorf("bottom output has shape %v for a batch of %d rows, want [batch, sequence, hidden]", shape, len(batch.Rows))
		}
		L, H := int(shape[1]), int(shape[2])
		for r, i := range batch.Rows {
			n := len(encs[i].IDs)
			if err := fn(i, data[r*L*H:(r*L+n)*H], n, H); err != nil {
				outs[0].Destroy()
				return err
			}
		}
		outs[0].Destroy()
	}
	return nil
}
