// Package safetensors reads and writes the safetensors tensor format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header mapping tensor names to dtype, shape and byte
// offsets, then the raw little-endian tensor bytes. Nothing in the format
// executes code on load, which is why bertserve uses it for encoder weights
// and head files.
//
// The package is pure Go with no dependencies so that head/ can use it
// without pulling in ONNX Runtime.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// maxHeader bounds the JSON header so a corrupt length cannot make us
// allocate gigabytes.
const maxHeader = 100 << 20

// Tensor is one named tensor. Data holds float32 values when DType is F32;
// other dtypes (F16, BF16, F64, I64, I32) are converted to float32 on read.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Len returns the number of elements the shape describes.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// File is the parsed content of a safetensors file.
type File struct {
	Tensors  map[string]Tensor
	Metadata map[string]string
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for k := range f.Tensors {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// ReadFile reads and decodes a safetensors file from disk.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	return f, nil
}

// Read decodes a safetensors stream, converting every tensor to float32.
func Read(r io.Reader) (*File, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("reading header length: %w (is this a safetensors file?)", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen == 0 || hlen > maxHeader {
		return nil, fmt.Errorf("header length %d out of range (is this a safetensors file?)", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("header is not JSON: %w", err)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading tensor data: %w", err)
	}
	out := &File{Tensors: map[string]Tensor{}}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &out.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		t, err := decode(name, e, body)
		if err != nil {
			return nil, err
		}
		out.Tensors[name] = t
	}
	return out, nil
}

func dtypeSize(dt string) (int, error) {
	switch dt {
	case "F32", "I32":
		return 4, nil
	case "F16", "BF16":
		return 2, nil
	case "F64", "I64":
		return 8, nil
	}
	return 0, fmt.Errorf("unsupported dtype %q (supported: F32, F16, BF16, F64, I64, I32)", dt)
}

func decode(name string, e headerEntry, body []byte) (Tensor, error) {
	size, err := dtypeSize(e.DType)
	if err != nil {
		return Tensor{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	n := 1
	for _, d := range e.Shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.Shape)
		}
		if d > 0 && n > len(body)/d {
			return Tensor{}, fmt.Errorf("tensor %q: shape %v needs more than the %d data bytes (file truncated?)", name, e.Shape, len(body))
		}
		n *= d
	}
	lo, hi := e.DataOffsets[0], e.DataOffsets[1]
	if lo < 0 || hi < lo || hi > int64(len(body)) {
		return Tensor{}, fmt.Errorf("tensor %q: data offsets [%d,%d] outside the %d data bytes (file truncated?)", name, lo, hi, len(body))
	}
	if hi-lo != int64(n*size) {
		return Tensor{}, fmt.Errorf("tensor %q: %d bytes for shape %v of %s, want %d", name, hi-lo, e.Shape, e.DType, n*size)
	}
	b := body[lo:hi]
	data := make([]float32, n)
	for i := range data {
		switch e.DType {
		case "F32":
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		case "F64":
			data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		case "I32":
			data[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
		case "I64":
			data[i] = float32(int64(binary.LittleEndian.Uint64(b[8*i:])))
		case "BF16":
			data[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		case "F16":
			data[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
	return Tensor{Shape: append([]int(nil), e.Shape...), Data: data}, nil
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		for frac&0x400 == 0 {
			frac <<= 1
			exp--
		}
		exp++
		frac &= 0x3ff
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | uint32(exp+127-15)<<23 | frac<<13)
}

// Write encodes tensors as F32 safetensors with optional string metadata.
// Tensors are laid out in sorted name order so output is deterministic.
func Write(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for k := range tensors {
		if k == "__metadata__" {
			return errors.New(`"__metadata__" is reserved and cannot name a tensor`)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, name := range names {
		t := tensors[name]
		if t.Len() != len(t.Data) {
			return fmt.Errorf("tensor %q: shape %v holds %d values, data has %d", name, t.Shape, t.Len(), len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		n := int64(4 * len(t.Data))
		header[name] = headerEntry{DType: "F32", Shape: shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces to an 8-byte boundary, as the reference
	// implementation does, so the data section is aligned.
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, name := range names {
		for _, v := range tensors[name].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) >= 1<<16 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err = w.Write(buf)
	return err
}

// WriteFile writes tensors atomically (temporary file, then rename).
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}
