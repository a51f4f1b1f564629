package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := map[string]Tensor{
		"b.weight": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"a.bias":   {Shape: []int{3}, Data: []float32{-1, 0, float32(math.Pi)}},
		"scalar":   {Shape: []int{}, Data: []float32{7}},
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || strings.Join(f.Names(), ",") != "a.bias,b.weight,scalar" {
		t.Fatalf("metadata %v names %v", f.Metadata, f.Names())
	}
	for name, want := range in {
		got := f.Tensors[name]
		if len(got.Data) != len(want.Data) || got.Len() != want.Len() {
			t.Fatalf("%s: got %+v", name, got)
		}
		for i := range want.Data {
			if got.Data[i] != want.Data[i] {
				t.Fatalf("%s[%d] = %v, want %v", name, i, got.Data[i], want.Data[i])
			}
		}
	}
}

// TestHalfPrecision decodes F16 and BF16 tensors as checkpoints store them.
func TestHalfPrecision(t *testing.T) {
	t.Parallel()
	header := `{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[6,8]}}`
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(header)))
	buf.WriteString(header)
	for _, h := range []uint16{0x3c00, 0xc000, 0x0001} { // 1, -2, smallest subnormal
		binary.Write(&buf, binary.LittleEndian, h)
	}
	binary.Write(&buf, binary.LittleEndian, uint16(math.Float32bits(1.5)>>16))
	f, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	h := f.Tensors["h"].Data
	if h[0] != 1 || h[1] != -2 || math.Abs(float64(h[2])-5.960464477539063e-08) > 1e-15 {
		t.Fatalf("F16 decoded as %v", h)
	}
	if f.Tensors["b"].Data[0] != 1.5 {
		t.Fatalf("BF16 decoded as %v", f.Tensors["b"].Data)
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	mk := func(header string, data int) []byte {
		var buf bytes.Buffer
		binary.Write(&buf, binary.LittleEndian, uint64(len(header)))
		buf.WriteString(header)
		buf.Write(make([]byte, data))
		return buf.Bytes()
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "header length"},
		{"huge header", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}, "out of range"},
		{"not json", mk("{oops", 0), "not JSON"},
		{"truncated data", mk(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), "truncated"},
		{"size mismatch", mk(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}`, 16), "want 12"},
		{"bad dtype", mk(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), "unsupported dtype"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, map[string]Tensor{"w": {Shape: []int{2}, Data: []float32{1, 2}}}, nil)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		for name, tn := range file.Tensors {
			if tn.Len() != len(tn.Data) {
				t.Fatalf("%s: shape %v but %d values", name, tn.Shape, len(tn.Data))
			}
		}
	})
}
