package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rows := [][]float32{{1, 2, 3}, {4, 5, 6}}
	var b bytes.Buffer
	if err := Write(&b, rows); err != nil {
		t.Fatal(err)
	}
	if (len(Header(2, 3)))%64 != 0 {
		t.Fatalf("header not 64-byte aligned")
	}
	m, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 2 || m.Cols != 3 || m.Row(1)[2] != 6 {
		t.Fatalf("got %+v", m)
	}
}

func TestStreamWriterCountsRows(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	sw, _ := NewStreamWriter(&b, 2, 2)
	sw.WriteRow([]float32{1, 2})
	if err := sw.Close(); err == nil {
		t.Fatal("want error for a missing row")
	}
	if err := sw.WriteRow([]float32{1}); err == nil {
		t.Fatal("want error for a short row")
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	Write(&b, [][]float32{{1, 2}})
	f.Add(b.Bytes())
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'shape': (1,)}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data))
		if err == nil && len(m.Data) != m.Rows*m.Cols {
			t.Fatalf("inconsistent matrix %d x %d with %d values", m.Rows, m.Cols, len(m.Data))
		}
	})
}

func TestHeaderSizeIsFixed(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]int{{0, 1}, {0, 384}, {1, 768}, {60614, 512}, {1 << 40, 4096}, {math.MaxInt, math.MaxInt}} {
		if n := HeaderSize(c[0], c[1]); n != 128 {
			t.Errorf("HeaderSize(%d, %d) = %d, want 128", c[0], c[1], n)
		}
	}
}

func TestPatchHeaderAndRowReader(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.npy")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Begun as an empty matrix, as when the row count is not known yet.
	f.Write(Header(0, 2))
	for _, v := range []float32{1, 2, 3, 4, 5, 6} {
		binary.Write(f, binary.LittleEndian, v)
	}
	if err := PatchHeader(f, 3, 2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 3 || m.Row(2)[1] != 6 {
		t.Fatalf("patched file reads as %+v", m)
	}
	f, _ = os.Open(path)
	defer f.Close()
	rr, err := NewRowReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Size != 128 || rr.DataSize() != 24 {
		t.Fatalf("header %+v", rr.HeaderInfo)
	}
	row := make([]float32, 2)
	var got []float32
	for {
		err := rr.Next(row)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, row...)
	}
	if fmt.Sprint(got) != "[1 2 3 4 5 6]" {
		t.Fatalf("rows %v", got)
	}
}

func TestRowReaderTruncated(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	Write(&b, [][]float32{{1, 2}, {3, 4}})
	rr, err := NewRowReader(bytes.NewReader(b.Bytes()[:b.Len()-3]))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float32, 2)
	if err := rr.Next(row); err != nil {
		t.Fatal(err)
	}
	if err := rr.Next(row); err == nil || !strings.Contains(err.Error(), "truncated at row 1 of 2") {
		t.Fatalf("want a truncation error naming row 1, got %v", err)
	}
}
