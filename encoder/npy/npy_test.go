package npy

import (
	"bytes"
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
