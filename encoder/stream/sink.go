package stream

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/npy"
)

// sink writes rows in order.
type sink interface {
	// write appends one row.
	write(index int, id json.RawMessage, v []float32) error
	// endChunk is called after each chunk (a stream flushes there).
	endChunk() error
	// durable makes every row written so far durable and returns the
	// output's length, for a checkpoint.
	durable(rows int) (int64, error)
	// finish completes the output under its final name.
	finish(rows int) error
	// abort stops: a partial output is kept for resuming, a temporary one
	// removed.
	abort()
}

// outFile is the file a file sink writes: resumable partial data, or a
// temporary file renamed on completion.
type outFile interface {
	file() *os.File
	commit() error
	abort()
}

type partialOut struct{ p *atomicfile.Partial }

func (o partialOut) file() *os.File { return o.p.File() }
func (o partialOut) commit() error  { return o.p.Commit() }
func (o partialOut) abort()         { o.p.Close() }

type tempOut struct{ f *atomicfile.File }

func (o tempOut) file() *os.File { return o.f.File }
func (o tempOut) commit() error  { return o.f.Commit() }
func (o tempOut) abort()         { o.f.Abort() }

// npySink writes float32 rows after a header that is rewritten in place
// with the row count at every checkpoint and at the end, so the partial
// file is itself a valid .npy of its durable rows.
type npySink struct {
	out  outFile
	bw   *bufio.Writer
	dim  int
	size int64
	raw  []byte
}

// newNPYSink starts writing at size bytes (0: a fresh file).
func newNPYSink(out outFile, dim int, size int64) (*npySink, error) {
	s := &npySink{out: out, bw: bufio.NewWriterSize(out.file(), 1<<20), dim: dim, size: size, raw: make([]byte, 0, 4*dim)}
	if size == 0 {
		h := npy.Header(0, dim)
		if _, err := s.bw.Write(h); err != nil {
			return nil, err
		}
		s.size = int64(len(h))
	}
	return s, nil
}

func (s *npySink) write(_ int, _ json.RawMessage, v []float32) error {
	if len(v) != s.dim {
		return fmt.Errorf("an embedding of %d values, want %d", len(v), s.dim)
	}
	s.raw = s.raw[:0]
	for _, x := range v {
		s.raw = binary.LittleEndian.AppendUint32(s.raw, math.Float32bits(x))
	}
	n, err := s.bw.Write(s.raw)
	s.size += int64(n)
	return err
}

func (s *npySink) endChunk() error { return nil }

func (s *npySink) durable(rows int) (int64, error) {
	if err := s.bw.Flush(); err != nil {
		return 0, err
	}
	f := s.out.file()
	if err := npy.PatchHeader(f, rows, s.dim); err != nil {
		return 0, err
	}
	return s.size, f.Sync()
}

func (s *npySink) finish(rows int) error {
	if _, err := s.durable(rows); err != nil {
		s.out.abort()
		return err
	}
	return s.out.commit()
}

func (s *npySink) abort() { s.bw.Flush(); s.out.abort() }

// jsonlSink writes JSON Lines to a file or a stream.
type jsonlSink struct {
	out   outFile // nil for a stream
	w     io.Writer
	bw    *bufio.Writer
	enc   Encoding
	size  int64
	line  []byte
	raw   []byte
	flush bool // flush after each chunk (a stream)
}

func newJSONLSink(out outFile, stream io.Writer, enc Encoding, size int64) *jsonlSink {
	s := &jsonlSink{out: out, enc: enc, size: size}
	if out != nil {
		s.w = out.file()
	} else {
		s.w, s.flush = stream, true
	}
	s.bw = bufio.NewWriterSize(s.w, 1<<20)
	return s
}

func (s *jsonlSink) write(index int, id json.RawMessage, v []float32) error {
	var err error
	s.line, s.raw, err = appendRow(s.line[:0], index, id, v, s.enc, s.raw)
	if err != nil {
		return err
	}
	n, err := s.bw.Write(s.line)
	s.size += int64(n)
	return err
}

func (s *jsonlSink) endChunk() error {
	if s.flush {
		return s.bw.Flush()
	}
	return nil
}

func (s *jsonlSink) durable(int) (int64, error) {
	if err := s.bw.Flush(); err != nil {
		return 0, err
	}
	if s.out == nil {
		return s.size, nil
	}
	return s.size, s.out.file().Sync()
}

func (s *jsonlSink) finish(rows int) error {
	if _, err := s.durable(rows); err != nil {
		if s.out != nil {
			s.out.abort()
		}
		return err
	}
	if s.out == nil {
		return nil
	}
	return s.out.commit()
}

func (s *jsonlSink) abort() {
	s.bw.Flush()
	if s.out != nil {
		s.out.abort()
	}
}
