package encoder

import (
	"context"
	"errors"
	"fmt"
)

// EmbedIDs embeds token id sequences exactly as given: no special tokens
// are added (include [CLS] … [SEP] yourself, as Tokenizer.Encode returns
// them), token type ids are 0, and a sequence over the maximum length is
// cut to its first MaxLength ids (and counted in Truncated). Every id must
// be in the tokenizer's vocabulary. It is what Text Embeddings Inference
// does with token-id inputs, and it gives the same vector as Embed for
// the ids the tokenizer produced for a text.
func (e *Encoder) EmbedIDs(ctx context.Context, ids [][]int64) (*Result, error) {
	if e.session == nil {
		return nil, errors.New("encoder is closed")
	}
	vocab := 0
	if v, ok := e.tok.(interface{ VocabSize() int }); ok {
		vocab = v.VocabSize()
	}
	res := &Result{Vectors: make([][]float32, 0, len(ids)), TokenCounts: make([]int, 0, len(ids))}
	for start := 0; start < len(ids); start += ChunkRows {
		rows := ids[start:min(start+ChunkRows, len(ids))]
		encs := make([]Encoding, len(rows))
		for i, row := range rows {
			if len(row) == 0 {
				return nil, fmt.Errorf("input %d has no token ids", start+i)
			}
			for j, id := range row {
				if id < 0 || (vocab > 0 && id >= int64(vocab)) {
					return nil, fmt.Errorf("input %d: token id %d is %d, outside the vocabulary of %d ids", start+i, j, id, vocab)
				}
			}
			enc := Encoding{IDs: row}
			if len(row) > e.info.MaxLength {
				enc.IDs, enc.Truncated = row[:e.info.MaxLength], true
			}
			enc.TypeIDs = make([]int64, len(enc.IDs))
			encs[i] = enc
		}
		c := &Result{Vectors: make([][]float32, len(encs)), TokenCounts: make([]int, len(encs))}
		if err := e.embedChunk(ctx, encs, c); err != nil {
			return nil, err
		}
		res.add(c)
	}
	return res, nil
}
