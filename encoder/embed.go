package encoder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// ChunkRows is how many texts are tokenized, sorted and batched together.
// While one chunk runs through the model the next is being tokenized, so
// tokenization overlaps inference; sorting within a chunk keeps padding
// waste low without holding a whole corpus of token ids in memory.
const ChunkRows = 2048

// Embed returns the embedding of every text, in input order. Over-long texts
// are truncated (and counted), invalid UTF-8 is replaced (and counted), and
// the empty string is a valid input. An embedding does not depend on which
// other texts share its batch.
func (e *Encoder) Embed(ctx context.Context, texts []string) (*Result, error) {
	res := &Result{Vectors: make([][]float32, 0, len(texts)), TokenCounts: make([]int, 0, len(texts))}
	err := e.EmbedChunks(ctx, texts, func(_ int, c *Result) error {
		res.add(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// add appends chunk c's rows and counters to r.
func (r *Result) add(c *Result) {
	r.Vectors = append(r.Vectors, c.Vectors...)
	r.TokenCounts = append(r.TokenCounts, c.TokenCounts...)
	r.Truncated += c.Truncated
	r.InvalidUTF8 += c.InvalidUTF8
	r.PaddedTokens += c.PaddedTokens
	r.Batches += c.Batches
	r.TokenizeTime += c.TokenizeTime
	r.InferenceTime += c.InferenceTime
}

// EmbedChunks embeds texts ChunkRows at a time and hands each chunk's
// result to fn in input order (start is the index of the chunk's first
// text), so a corpus can be written out as it is embedded. While fn and the
// model work on one chunk, the next is being tokenized. An error from fn
// stops the run and is returned.
func (e *Encoder) EmbedChunks(ctx context.Context, texts []string, fn func(start int, r *Result) error) error {
	if e.session == nil {
		return errors.New("encoder is closed")
	}
	if len(texts) <= ChunkRows {
		// One chunk: no reader goroutine (the server embeds small requests).
		if len(texts) == 0 {
			return nil
		}
		r, err := e.embedTexts(ctx, texts)
		if err != nil {
			return err
		}
		return fn(0, r)
	}
	start := 0
	next := func() ([]string, int, error) {
		if start >= len(texts) {
			return nil, start, io.EOF
		}
		s := start
		start = min(start+ChunkRows, len(texts))
		return texts[s:start], s, nil
	}
	return EmbedStream(ctx, e, next, fn)
}

// embedTexts tokenizes and embeds one chunk in the calling goroutine.
func (e *Encoder) embedTexts(ctx context.Context, texts []string) (*Result, error) {
	t0 := time.Now()
	encs := e.tokenize(texts)
	r := newChunkResult(len(encs), time.Since(t0))
	if err := e.embedChunk(ctx, encs, r); err != nil {
		return nil, err
	}
	return r, nil
}

func newChunkResult(n int, took time.Duration) *Result {
	return &Result{Vectors: make([][]float32, n), TokenCounts: make([]int, n), TokenizeTime: took}
}

// EmbedStream embeds a stream of chunks whose length nobody knows in
// advance: a file read as it goes, stdin, one shard of a corpus. next
// returns the texts of the next chunk and a tag that comes back to fn with
// that chunk's result, in order; it returns io.EOF (possibly with a last
// chunk) at the end, and any other error stops the stream after the texts
// returned with it have been handed to fn, so rows before a bad input line
// are still written. Empty chunks are not handed to fn.
//
// next runs in a goroutine of its own, one chunk ahead: while the model
// works on chunk k and fn writes it, chunk k+1 is being read and
// tokenized. At most three chunks are alive at once (the one fn holds, one
// waiting, one being read), so memory is bounded by the chunk size, not by
// the stream. Chunks are sorted by length and batched within themselves
// (PlanBatches), exactly like EmbedChunks; an embedding does not depend on
// its batch-mates, so how a stream is cut into chunks does not change the
// vectors of models built by bertserve (a chunking that matches another
// run's also matches batch for batch, for any model). If fn fails or ctx is
// cancelled, EmbedStream returns without waiting for a next that is blocked
// (on stdin, say); such a next must give up on its own when ctx is done.
func EmbedStream[T any](ctx context.Context, e *Encoder, next func() ([]string, T, error), fn func(tag T, r *Result) error) error {
	if e.session == nil {
		return errors.New("encoder is closed")
	}
	type chunk struct {
		tag  T
		encs []Encoding
		took time.Duration
		err  error
	}
	chunks := make(chan chunk, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(chunks)
		for {
			texts, tag, err := next()
			c := chunk{tag: tag, err: err}
			if len(texts) > 0 {
				t0 := time.Now()
				c.encs = e.tokenize(texts)
				c.took = time.Since(t0)
			}
			select {
			case chunks <- c:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		if len(c.encs) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			r := newChunkResult(len(c.encs), c.took)
			if err := e.embedChunk(ctx, c.encs, r); err != nil {
				return err
			}
			if err := fn(c.tag, r); err != nil {
				return err
			}
		}
		if c.err == io.EOF {
			break
		}
		if c.err != nil {
			return c.err
		}
	}
	return ctx.Err()
}

func (e *Encoder) tokenize(texts []string) []Encoding {
	encs := make([]Encoding, len(texts))
	for i, t := range texts {
		encs[i] = e.tok.Encode(t, e.info.MaxLength)
	}
	return encs
}

// embedChunk runs one chunk's batches and stores the results in res.
func (e *Encoder) embedChunk(ctx context.Context, encs []Encoding, res *Result) error {
	lengths := make([]int, len(encs))
	for i, enc := range encs {
		lengths[i] = len(enc.IDs)
		res.TokenCounts[i] = len(enc.IDs)
		if enc.Truncated {
			res.Truncated++
		}
		if enc.InvalidUTF8 {
			res.InvalidUTF8++
		}
	}
	for _, b := range PlanBatches(lengths, e.opts.BatchTokens, e.opts.MaxBatch) {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		in, err := e.batchTensors(encs, b)
		if err != nil {
			return err
		}
		vecs, err := e.run(in, encs, b)
		in.destroy()
		if err != nil {
			return err
		}
		res.InferenceTime += time.Since(t0)
		res.Batches++
		res.PaddedTokens += len(b.Rows) * b.Len
		for k, i := range b.Rows {
			if e.info.Normalize {
				Normalize(vecs[k])
			}
			res.Vectors[i] = vecs[k]
		}
	}
	return nil
}

// Batch is a set of rows padded to a common length.
type Batch struct {
	Rows []int // indices into the chunk
	Len  int   // padded length: the longest row
}

// MaxPaddingWaste bounds the padding of one batch: PlanBatches starts a new
// batch rather than let padded/real tokens - 1 exceed it.
const MaxPaddingWaste = 0.06

// PlanBatches sorts rows by length and groups neighbours so that no batch
// exceeds budget padded tokens (rows × longest row) or maxRows rows, and no
// batch wastes more than MaxPaddingWaste of its tokens on padding. A row
// longer than the budget gets a batch of its own.
func PlanBatches(lengths []int, budget, maxRows int) []Batch {
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lengths[order[a]] < lengths[order[b]] })
	var out []Batch
	var cur Batch
	real := 0
	for _, i := range order {
		l := lengths[i]
		if n := len(cur.Rows); n > 0 {
			padded := (n + 1) * l
			if padded > budget || n >= maxRows || float64(padded) > (1+MaxPaddingWaste)*float64(real+l) {
				out = append(out, cur)
				cur, real = Batch{}, 0
			}
		}
		cur.Rows = append(cur.Rows, i)
		cur.Len = l // ascending, so the newest row is the longest
		real += l
	}
	if len(cur.Rows) > 0 {
		out = append(out, cur)
	}
	return out
}

type batchInputs struct {
	values []ort.Value
}

func (b batchInputs) destroy() {
	for _, v := range b.values {
		v.Destroy()
	}
}

// batchTensors pads the batch's rows to b.Len (right padding, mask 0).
func (e *Encoder) batchTensors(encs []Encoding, b Batch) (batchInputs, error) {
	B, L := len(b.Rows), b.Len
	if L == 0 {
		L = 1 // a tokenizer without special tokens can produce empty rows
	}
	ids := make([]int64, B*L)
	mask := make([]int64, B*L)
	var types []int64
	if e.hasTypeIDs {
		types = make([]int64, B*L)
	}
	pad := e.tok.PadID()
	for r, i := range b.Rows {
		enc := encs[i]
		row := ids[r*L : (r+1)*L]
		copy(row, enc.IDs)
		for t := len(enc.IDs); t < L; t++ {
			row[t] = pad
		}
		for t := range enc.IDs {
			mask[r*L+t] = 1
		}
		if types != nil {
			copy(types[r*L:], enc.TypeIDs)
		}
	}
	shape := ort.NewShape(int64(B), int64(L))
	var in batchInputs
	for _, data := range [][]int64{ids, mask, types} {
		if data == nil {
			continue
		}
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			in.destroy()
			return batchInputs{}, fmt.Errorf("creating an input tensor [%d, %d]: %w", B, L, err)
		}
		in.values = append(in.values, t)
	}
	return in, nil
}

// run executes one batch and pools every row.
func (e *Encoder) run(in batchInputs, encs []Encoding, b Batch) ([][]float32, error) {
	outs := []ort.Value{nil}
	if err := e.session.Run(in.values, outs); err != nil {
		return nil, fmt.Errorf("ONNX Runtime: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("model output %q is not a float32 tensor", e.outputs[0])
	}
	shape := t.GetShape()
	data := t.GetData()
	B := len(b.Rows)
	var L, D int
	switch len(shape) {
	case 3:
		L, D = int(shape[1]), int(shape[2])
	case 2:
		D = int(shape[1])
	default:
		return nil, fmt.Errorf("model output %q has shape %v, want [batch, seq, dim] or [batch, dim]", e.outputs[0], shape)
	}
	if int(shape[0]) != B {
		return nil, fmt.Errorf("model output %q has %d rows for a batch of %d", e.outputs[0], shape[0], B)
	}
	vecs := make([][]float32, B)
	for r, i := range b.Rows {
		vecs[r] = e.pool(data, L, D, r, len(encs[i].IDs))
	}
	return vecs, nil
}
