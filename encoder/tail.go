package encoder

import (
	"context"
	"errors"
	"fmt"
	"slices"

	ort "github.com/yalue/onnxruntime_go"
)

// Tail graph interface (models.BuildTail).
const (
	TailInputHidden = "hidden_states"
	TailInputMask   = "attention_mask"
	TailOutput      = "sentence_embedding"
)

// Tail is a loaded tail graph: the top layers of an encoder with their
// pooling, from the hidden state below the split (and the padding mask)
// to one vector per text. A head that trained encoder layers owns one
// (tail.onnx); BaseTail is the encoder's own. Safe for concurrent use.
type Tail struct {
	enc     *Encoder
	session *ort.DynamicAdvancedSession
	output  string
	// pool, for a base tail read at last_hidden_state, applies the
	// encoder's pooling (nil: the output is already pooled).
	pool poolFunc
	// normalize applies the encoder's L2 normalisation (base tails).
	normalize bool
}

// OpenTail loads a tail graph that outputs sentence_embedding, with e's
// threads and device. Its output is used as it is.
func (e *Encoder) OpenTail(graph []byte) (*Tail, error) {
	return e.openTail(graph, TailOutput, nil, false)
}

// OpenBaseTail loads a tail graph made of the encoder's own top layers
// and pools its output the way the encoder pools model.onnx's: a graph
// with last_hidden_state is pooled with the encoder's cls, mean or max
// pooling; otherwise its sentence_embedding is taken (pooler and model
// pooling, whose graphs pool themselves). With the encoder's Normalize,
// the result is L2-normalised. Bottom then base tail gives what Embed
// gives, within float rounding.
func (e *Encoder) OpenBaseTail(graph []byte) (*Tail, error) {
	_, outputs, err := graphIO(graph)
	if err != nil {
		return nil, fmt.Errorf("tail graph: %w", err)
	}
	switch e.info.Pooling {
	case "cls", "mean", "max":
		if !slices.Contains(outputs, "last_hidden_state") {
			return nil, fmt.Errorf("a base tail for %s pooling must output last_hidden_state (it has %v)", e.info.Pooling, outputs)
		}
		return e.openTail(graph, "last_hidden_state", e.pool, e.opts.Normalize)
	}
	return e.openTail(graph, TailOutput, nil, e.opts.Normalize)
}

func (e *Encoder) openTail(graph []byte, output string, pool poolFunc, normalize bool) (*Tail, error) {
	if e.session == nil {
		return nil, errors.New("encoder is closed")
	}
	inputs, outputs, err := graphIO(graph)
	if err != nil {
		return nil, fmt.Errorf("tail graph: %w", err)
	}
	if !slices.Contains(outputs, output) || !slices.Contains(inputs, TailInputHidden) || !slices.Contains(inputs, TailInputMask) || len(inputs) != 2 {
		return nil, fmt.Errorf("tail graph has inputs %v and outputs %v, want inputs %s and %s and the output %s", inputs, outputs, TailInputHidden, TailInputMask, output)
	}
	so, _, err := sessionOptions(e.opts)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(graph, []string{TailInputHidden, TailInputMask}, []string{output}, so)
	if err != nil {
		return nil, fmt.Errorf("creating the ONNX Runtime session for a tail graph: %w", err)
	}
	return &Tail{enc: e, session: s, output: output, pool: pool, normalize: normalize}, nil
}

// Close releases the session.
func (t *Tail) Close() error {
	if t.session == nil {
		return nil
	}
	err := t.session.Destroy()
	t.session = nil
	return err
}

// run feeds a right-padded batch [B, L, H] with the real lengths of its
// rows and returns one vector per row.
func (t *Tail) run(hidden []float32, lens []int, L, H int) ([][]float32, error) {
	if t.session == nil {
		return nil, errors.New("tail is closed")
	}
	B := len(lens)
	mask := make([]int64, B*L)
	for r, n := range lens {
		for j := 0; j < n; j++ {
			mask[r*L+j] = 1
		}
	}
	hs, err := ort.NewTensor(ort.NewShape(int64(B), int64(L), int64(H)), hidden)
	if err != nil {
		return nil, err
	}
	defer hs.Destroy()
	ms, err := ort.NewTensor(ort.NewShape(int64(B), int64(L)), mask)
	if err != nil {
		return nil, err
	}
	defer ms.Destroy()
	outs := []ort.Value{nil}
	if err := t.session.Run([]ort.Value{hs, ms}, outs); err != nil {
		return nil, fmt.Errorf("ONNX Runtime (tail): %w", err)
	}
	defer outs[0].Destroy()
	o, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("tail output %q is not a float32 tensor", t.output)
	}
	shape, data := o.GetShape(), o.GetData()
	vecs := make([][]float32, B)
	switch {
	case t.pool != nil && len(shape) == 3 && int(shape[0]) == B:
		for r, n := range lens {
			vecs[r] = t.pool(data, int(shape[1]), int(shape[2]), r, n)
		}
	case t.pool == nil && len(shape) == 2 && int(shape[0]) == B:
		D := int(shape[1])
		for r := range vecs {
			vecs[r] = slices.Clone(data[r*D : (r+1)*D])
		}
	default:
		return nil, fmt.Errorf("tail output %q has shape %v for a batch of %d", t.output, shape, B)
	}
	if t.normalize {
		for _, v := range vecs {
			Normalize(v)
		}
	}
	return vecs, nil
}

// EmbedTails runs the bottom once over encs and every tail on its
// output: out[t][i] is tail t's vector for encs[i].
func (b *Bottom) EmbedTails(ctx context.Context, encs []Encoding, tails []*Tail) ([][][]float32, error) {
	return b.EmbedNeeds(ctx, encs, tails, nil)
}

// EmbedNeeds is EmbedTails where need(i, t) says whether text i needs tail
// t (nil: every text every tail); a tail runs only on the rows of a batch
// that need it, and out[t][i] is nil where it was not needed.
func (b *Bottom) EmbedNeeds(ctx context.Context, encs []Encoding, tails []*Tail, need func(i, t int) bool) ([][][]float32, error) {
	if b.session == nil {
		return nil, errors.New("bottom is closed")
	}
	e := b.enc
	out := make([][][]float32, len(tails))
	for t := range out {
		out[t] = make([][]float32, len(encs))
	}
	lengths := make([]int, len(encs))
	for i, enc := range encs {
		lengths[i] = len(enc.IDs)
	}
	for _, batch := range PlanBatches(lengths, e.opts.BatchTokens, e.opts.MaxBatch) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var rows []int
		for _, i := range batch.Rows {
			if need == nil {
				rows = append(rows, i)
				continue
			}
			for t := range tails {
				if need(i, t) {
					rows = append(rows, i)
					break
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		batch.Rows = rows
		in, err := e.batchTensors(encs, batch)
		if err != nil {
			return nil, err
		}
		outs := []ort.Value{nil}
		err = b.session.Run(in.values, outs)
		in.destroy()
		if err != nil {
			return nil, fmt.Errorf("ONNX Runtime (bottom): %w", err)
		}
		err = func() error {
			defer outs[0].Destroy()
			h, ok := outs[0].(*ort.Tensor[float32])
			if !ok {
				return fmt.Errorf("bottom output %q is not a float32 tensor", BottomOutput)
			}
			shape, data := h.GetShape(), h.GetData()
			if len(shape) != 3 || int(shape[0]) != len(rows) {
				return fmt.Errorf("bottom output has shape %v for a batch of %d rows", shape, len(rows))
			}
			L, H := int(shape[1]), int(shape[2])
			for t, tail := range tails {
				// The rows of this batch that need tail t.
				var sub []int
				for r, i := range rows {
					if need == nil || need(i, t) {
						sub = append(sub, r)
					}
				}
				if len(sub) == 0 {
					continue
				}
				x := data
				if len(sub) < len(rows) {
					x = make([]float32, len(sub)*L*H)
					for s, r := range sub {
						copy(x[s*L*H:(s+1)*L*H], data[r*L*H:(r+1)*L*H])
					}
				}
				lens := make([]int, len(sub))
				for s, r := range sub {
					lens[s] = lengths[rows[r]]
				}
				vecs, err := tail.run(x, lens, L, H)
				if err != nil {
					return err
				}
				for s, r := range sub {
					out[t][rows[r]] = vecs[s]
				}
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Sequences are per-text hidden states over real tokens (the interface of
// HiddenStates and of package head's Sequences).
type Sequences interface {
	Len() int
	Hidden() int
	Row(i int, dst []float32) ([]float32, int)
}

// EmbedSeqs runs the tail on stored hidden states, in batches of up to
// 64 texts padded to their longest, and returns one vector per text.
func (t *Tail) EmbedSeqs(seqs Sequences) ([][]float32, error) {
	H := seqs.Hidden()
	out := make([][]float32, 0, seqs.Len())
	var row []float32
	for start := 0; start < seqs.Len(); start += 64 {
		end := min(start+64, seqs.Len())
		rows := make([][]float32, 0, end-start)
		lens := make([]int, 0, end-start)
		L := 1
		for i := start; i < end; i++ {
			var T int
			row, T = seqs.Row(i, row)
			rows = append(rows, slices.Clone(row))
			lens = append(lens, T)
			L = max(L, T)
		}
		x := make([]float32, len(rows)*L*H)
		for r, v := range rows {
			copy(x[r*L*H:], v)
		}
		vecs, err := t.run(x, lens, L, H)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// Tokenize encodes texts as the encoder does (truncated to its maximum
// length), for Bottom.EmbedNeeds.
func (e *Encoder) Tokenize(texts []string) []Encoding { return e.tokenize(texts) }
