package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"testing"
	"time"

	"github.com/bertserve/bertserve/encoder/corpus"
)

func TestAppendFloat32MatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	vals := []float32{0, -0.0, 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1.5e-10, 3.4028235e38, 1e21, 9.9e20, 1.17549435e-38, 1.4e-45, 123456.789, -0.000123}
	for i := 0; i < 2000; i++ {
		vals = append(vals, math.Float32frombits(uint32(i)*2654435761))
	}
	for _, v := range vals {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		want, _ := json.Marshal(v)
		got, err := appendFloat32(nil, v)
		if err != nil || string(got) != string(want) {
			t.Fatalf("%v (bits %08x): got %s, encoding/json %s", v, math.Float32bits(v), got, want)
		}
	}
	if _, err := appendFloat32(nil, float32(math.NaN())); err == nil {
		t.Fatal("NaN was written as JSON")
	}
}

func FuzzAppendFloat32(f *testing.F) {
	f.Add(uint32(0x3f800000))
	f.Fuzz(func(t *testing.T, bits uint32) {
		v := math.Float32frombits(bits)
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return
		}
		want, _ := json.Marshal(v)
		got, _ := appendFloat32(nil, v)
		if string(got) != string(want) {
			t.Fatalf("%v: got %s, encoding/json %s", v, got, want)
		}
	})
}

// FuzzLineSource feeds arbitrary bytes to the stream reader: it must not
// panic or hang, must give each record a distinct increasing index, and in
// skip mode must end with EOF.
func FuzzLineSource(f *testing.F) {
	for _, s := range []string{
		"{\"id\":1,\"text\":\"a\"}\n\n{\"text\":2}\n",
		"plain\n\nlines\r\n",
		"\ufeff{\"text\":\"bom\"}",
		"{\"text\": \"\\ud800\"}\n{]\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		format := []corpus.Format{corpus.FormatAuto, corpus.FormatJSONL, corpus.FormatText}[int(mode)%3]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		src := newLineSource(ctx, bytes.NewReader(data), lineOptions{format: format, textKey: "text", idKey: "id", skip: true, log: io.Discard, chunkRows: 4, idle: time.Hour})
		last := -1
		for {
			texts, tg, err := src.next()
			for _, i := range tg.indexes {
				if i <= last {
					t.Fatalf("index %d after %d", i, last)
				}
				last = i
			}
			if len(texts) != len(tg.indexes) || len(texts) != len(tg.ids) {
				t.Fatal("texts and tags out of step")
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("skip mode failed: %v", err)
			}
		}
		if lines := bytes.Count(data, []byte("\n")) + 1; last >= lines {
			t.Fatalf("%d records from %d lines", last+1, lines)
		}
	})
}

func TestReadLineBounds(t *testing.T) {
	t.Parallel()
	br := bufio.NewReaderSize(bytes.NewReader([]byte("a\r\n"+string(bytes.Repeat([]byte("y"), MaxLineBytes))+"\n"+string(bytes.Repeat([]byte("z"), MaxLineBytes+1))+"\nend")), 16)
	for _, want := range []struct {
		n       int
		tooLong bool
	}{{1, false}, {MaxLineBytes, false}, {0, true}, {3, false}} {
		b, tooLong, err := readLine(br)
		if err != nil || len(b) != want.n || tooLong != want.tooLong {
			t.Fatalf("got %d bytes, tooLong %v, %v; want %d, %v", len(b), tooLong, err, want.n, want.tooLong)
		}
	}
	if _, _, err := readLine(br); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}
