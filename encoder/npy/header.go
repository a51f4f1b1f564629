package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var (
	descrRe = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	fortRe  = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	shapeRe = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// HeaderInfo is what an .npy header says about the matrix after it.
type HeaderInfo struct {
	Rows, Cols int
	// Float64 is true for '<f8' data (converted to float32 on reading).
	Float64 bool
	// Size is the header's length in bytes: the data starts there.
	Size int64
}

// ValueSize is the number of bytes of one stored value (4 or 8).
func (h HeaderInfo) ValueSize() int {
	if h.Float64 {
		return 8
	}
	return 4
}

// DataSize is the number of data bytes the header announces.
func (h HeaderInfo) DataSize() int64 { return int64(h.Rows) * int64(h.Cols) * int64(h.ValueSize()) }

// decode converts raw little-endian values into dst.
func (h HeaderInfo) decode(raw []byte, dst []float32) {
	if h.Float64 {
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
}

// ReadHeader reads and checks the header of a 2-D float32 or float64 .npy
// stream, leaving r at the first data byte.
func ReadHeader(r io.Reader) (HeaderInfo, error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return HeaderInfo{}, fmt.Errorf("not an .npy file: %w", err)
	}
	if string(pre[:6]) != string(magic) {
		return HeaderInfo{}, errors.New("not an .npy file (bad magic); save embeddings with numpy.save")
	}
	var hlen, size int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return HeaderInfo{}, err
		}
		hlen, size = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return HeaderInfo{}, err
		}
		hlen, size = int(binary.LittleEndian.Uint32(b[:])), 12
	default:
		return HeaderInfo{}, fmt.Errorf("unsupported .npy version %d", pre[6])
	}
	if hlen > 1<<20 {
		return HeaderInfo{}, fmt.Errorf(".npy header of %d bytes is too large", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return HeaderInfo{}, fmt.Errorf("reading .npy header: %w", err)
	}
	h := string(hdr)
	dm, fm, sm := descrRe.FindStringSubmatch(h), fortRe.FindStringSubmatch(h), shapeRe.FindStringSubmatch(h)
	if dm == nil || fm == nil || sm == nil {
		return HeaderInfo{}, fmt.Errorf("malformed .npy header %q", strings.TrimSpace(h))
	}
	if fm[1] == "True" {
		return HeaderInfo{}, errors.New("fortran-ordered .npy is not supported; save with numpy.ascontiguousarray")
	}
	var dims []int
	for _, p := range strings.Split(sm[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return HeaderInfo{}, fmt.Errorf("bad .npy shape %q", sm[1])
		}
		dims = append(dims, d)
	}
	if len(dims) != 2 {
		return HeaderInfo{}, fmt.Errorf(".npy shape (%s) is not 2-D; want [rows, dim]", sm[1])
	}
	info := HeaderInfo{Rows: dims[0], Cols: dims[1], Size: int64(size + hlen)}
	switch dm[1] {
	case "<f4":
	case "<f8":
		info.Float64 = true
	default:
		return HeaderInfo{}, fmt.Errorf(".npy dtype %q is not supported; want float32 ('<f4') or float64 ('<f8')", dm[1])
	}
	if info.Cols > 0 && int64(info.Rows) > math.MaxInt64/8/int64(info.Cols) {
		return HeaderInfo{}, fmt.Errorf(".npy shape (%d, %d) is too large", info.Rows, info.Cols)
	}
	return info, nil
}

// HeaderSize is len(Header(rows, cols)). Header pads to 64 bytes, and the
// digits of any two non-negative ints fit the same 128 bytes, so a file
// begun with Header(0, cols) can have its header rewritten in place once
// the row count is known (PatchHeader).
func HeaderSize(rows, cols int) int { return len(Header(rows, cols)) }

// PatchHeader rewrites the header at the start of f, written earlier by
// Header(anything, cols), for a [rows, cols] float32 matrix. It refuses a
// header of another length, which would overwrite data.
func PatchHeader(f io.WriterAt, rows, cols int) error {
	h := Header(rows, cols)
	if len(h) != HeaderSize(0, cols) {
		return fmt.Errorf("the .npy header for shape (%d, %d) is %d bytes, not %d: cannot rewrite it in place", rows, cols, len(h), HeaderSize(0, cols))
	}
	_, err := f.WriteAt(h, 0)
	return err
}
