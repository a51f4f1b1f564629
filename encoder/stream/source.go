package stream

import (
	"context"
	"encoding/json"

	"github.com/bertserve/bertserve/encoder/corpus"
)

// tag travels with a chunk through the encoder and back: which rows the
// texts are and where the input stands after them.
type tag struct {
	// indexes[k] is the row index of text k: its corpus row for a file,
	// its record number (from 0) for a stream.
	indexes []int
	// ids[k] is the "id" value of a JSON Lines record, verbatim (nil when
	// the record had none or the input is not JSON Lines).
	ids []json.RawMessage
	// pos is where reading continues after the chunk (files only).
	pos position
}

// fileSource reads one shard of a corpus file, chunkRows rows a chunk.
type fileSource struct {
	ctx           context.Context
	r             *corpus.Reader
	shard, shards int
	chunkRows     int
	pos           position
}

func (s *fileSource) next() ([]string, *tag, error) {
	t := &tag{}
	texts := make([]string, 0, s.chunkRows)
	for len(texts) < s.chunkRows {
		if err := s.ctx.Err(); err != nil {
			return nil, t, err
		}
		row, err := s.r.Next()
		if err != nil {
			t.pos = s.pos
			return texts, t, err // io.EOF, or a bad row: the rows before it are still written
		}
		idx := s.pos.Rows
		s.pos = position{Offset: row.Offset, Line: row.EndLine, Rows: idx + 1}
		if idx%s.shards != s.shard {
			continue
		}
		texts = append(texts, row.Text)
		t.indexes = append(t.indexes, idx)
	}
	t.pos = s.pos
	return texts, t, nil
}
