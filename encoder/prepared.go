package encoder

import (
	"fmt"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Prepared holds texts already tokenized and packed into the exact padded
// input tensors Embed would build, so that running them measures ONNX
// Runtime alone: the floor that the end-to-end path is compared against.
type Prepared struct {
	batches      []batchInputs
	Texts        int
	RealTokens   int
	PaddedTokens int
	TokenizeTime time.Duration
}

// Prepare tokenizes and batches texts the way Embed does (same chunks, same
// sort, same token budget) and builds the input tensors.
func (e *Encoder) Prepare(texts []string) (*Prepared, error) {
	p := &Prepared{Texts: len(texts)}
	for start := 0; start < len(texts); start += ChunkRows {
		end := min(start+ChunkRows, len(texts))
		t0 := time.Now()
		encs := e.tokenize(texts[start:end])
		p.TokenizeTime += time.Since(t0)
		lengths := make([]int, len(encs))
		for i, enc := range encs {
			lengths[i] = len(enc.IDs)
			p.RealTokens += len(enc.IDs)
		}
		for _, b := range PlanBatches(lengths, e.opts.BatchTokens, e.opts.MaxBatch) {
			in, err := e.batchTensors(encs, b)
			if err != nil {
				p.Destroy()
				return nil, err
			}
			p.batches = append(p.batches, in)
			p.PaddedTokens += len(b.Rows) * b.Len
		}
	}
	return p, nil
}

// Batches is the number of ONNX Runtime runs RunPrepared makes.
func (p *Prepared) Batches() int { return len(p.batches) }

// RunPrepared runs every prepared batch through the session and discards
// the outputs: session.Run and nothing else.
func (e *Encoder) RunPrepared(p *Prepared) error {
	for _, in := range p.batches {
		outs := []ort.Value{nil}
		if err := e.session.Run(in.values, outs); err != nil {
			return fmt.Errorf("ONNX Runtime: %w", err)
		}
		outs[0].Destroy()
	}
	return nil
}

// Destroy frees the prepared tensors.
func (p *Prepared) Destroy() {
	for _, b := range p.batches {
		b.destroy()
	}
	p.batches = nil
}
