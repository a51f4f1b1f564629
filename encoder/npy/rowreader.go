package npy

import (
	"bufio"
	"fmt"
	"io"
)

// RowReader reads an .npy matrix one row at a time, so matrices larger
// than memory (shards being merged) can be streamed.
type RowReader struct {
	HeaderInfo
	r    *bufio.Reader
	raw  []byte
	read int
}

// NewRowReader reads the header from r; Next returns the rows.
func NewRowReader(r io.Reader) (*RowReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	h, err := ReadHeader(br)
	if err != nil {
		return nil, err
	}
	return &RowReader{HeaderInfo: h, r: br, raw: make([]byte, h.Cols*h.ValueSize())}, nil
}

// Next fills dst (len Cols) with the next row; io.EOF after the last one.
func (rr *RowReader) Next(dst []float32) error {
	if len(dst) != rr.Cols {
		return fmt.Errorf("row buffer of %d values for a matrix of %d columns", len(dst), rr.Cols)
	}
	if rr.read >= rr.Rows {
		return io.EOF
	}
	if _, err := io.ReadFull(rr.r, rr.raw); err != nil {
		return fmt.Errorf(".npy data truncated at row %d of %d: %w", rr.read, rr.Rows, err)
	}
	rr.decode(rr.raw, dst)
	rr.read++
	return nil
}

// NextRaw returns the next row's stored bytes (little-endian float32 or
// float64, as HeaderInfo.Float64 says), valid until the next call.
func (rr *RowReader) NextRaw() ([]byte, error) {
	if rr.read >= rr.Rows {
		return nil, io.EOF
	}
	if _, err := io.ReadFull(rr.r, rr.raw); err != nil {
		return nil, fmt.Errorf(".npy data truncated at row %d of %d: %w", rr.read, rr.Rows, err)
	}
	rr.read++
	return rr.raw, nil
}
