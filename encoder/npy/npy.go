// Package npy reads and writes NumPy .npy files holding 2-D float32
// matrices, the embedding file format of bertserve: shape [N, D], row i is
// the embedding of input i, C order, little-endian.
//
// Reading also accepts float64 ('<f8') matrices, converting them, since
// embeddings produced elsewhere (numpy's default dtype) are often float64.
// Writing streams rows, so a corpus larger than memory can be written as
// it is embedded: when the row count is not known in advance, begin with
// Header(0, cols) and rewrite it in place at the end with PatchHeader (the
// header is 128 bytes for any shape). RowReader reads a matrix a row at a
// time. The package is pure Go and usable without ONNX Runtime.
package npy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

var magic = []byte("\x93NUMPY")

// Header returns a version 1.0 .npy header for a float32 [rows, cols]
// matrix, padded so the data starts on a 64-byte boundary.
func Header(rows, cols int) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	total := len(magic) + 2 + 2 + len(dict) + 1
	pad := (64 - total%64) % 64
	dict += strings.Repeat(" ", pad) + "\n"
	out := append([]byte{}, magic...)
	out = append(out, 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(dict)))
	return append(out, dict...)
}

// Write writes a whole matrix given as rows. Every row must have the same
// length.
func Write(w io.Writer, rows [][]float32) error {
	cols := 0
	if len(rows) > 0 {
		cols = len(rows[0])
	}
	for i, r := range rows {
		if len(r) != cols {
			return fmt.Errorf("row %d has %d values, row 0 has %d", i, len(r), cols)
		}
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(Header(len(rows), cols)); err != nil {
		return err
	}
	var b [4]byte
	for _, r := range rows {
		for _, v := range r {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}

// Matrix is a dense row-major float32 matrix read from an .npy file.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// Row returns row i as a slice aliasing Data.
func (m *Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// ReadFile reads an .npy file holding a 2-D float32 or float64 matrix.
func ReadFile(path string) (*Matrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Read decodes an .npy stream holding a 2-D float32 or float64 matrix.
func Read(r io.Reader) (*Matrix, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, err
	}
	rows, cols := h.Rows, h.Cols
	if cols > 0 && rows > math.MaxInt32/cols {
		return nil, fmt.Errorf(".npy shape (%d, %d) is too large", rows, cols)
	}
	n := rows * cols
	size := h.ValueSize()
	raw := make([]byte, n*size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf(".npy data truncated: shape (%d, %d) needs %d bytes: %w", rows, cols, n*size, err)
	}
	data := make([]float32, n)
	h.decode(raw, data)
	return &Matrix{Rows: rows, Cols: cols, Data: data}, nil
}

// StreamWriter writes an .npy file row by row when the row count is known
// up front (as it is for a corpus: one row per input line).
type StreamWriter struct {
	w          *bufio.Writer
	rows, cols int
	written    int
}

// NewStreamWriter writes the header for a [rows, cols] float32 matrix.
func NewStreamWriter(w io.Writer, rows, cols int) (*StreamWriter, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.Write(Header(rows, cols)); err != nil {
		return nil, err
	}
	return &StreamWriter{w: bw, rows: rows, cols: cols}, nil
}

// WriteRow appends one row.
func (s *StreamWriter) WriteRow(r []float32) error {
	if len(r) != s.cols {
		return fmt.Errorf("row %d has %d values, want %d", s.written, len(r), s.cols)
	}
	if s.written >= s.rows {
		return fmt.Errorf("more than the %d rows declared", s.rows)
	}
	var b [4]byte
	for _, v := range r {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		if _, err := s.w.Write(b[:]); err != nil {
			return err
		}
	}
	s.written++
	return nil
}

// Close flushes and checks that every declared row was written.
func (s *StreamWriter) Close() error {
	if s.written != s.rows {
		return fmt.Errorf("wrote %d rows, header declares %d", s.written, s.rows)
	}
	return s.w.Flush()
}
