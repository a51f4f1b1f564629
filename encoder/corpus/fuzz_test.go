package corpus

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzReader feeds arbitrary bytes to every format: the reader must never
// panic, rows must come in increasing line order with valid UTF-8 text,
// and after an error the reader must stay failed.
func FuzzReader(f *testing.F) {
	seeds := []string{
		"sentence\tlabel\ngood\t1\nbad\t0\n",
		"label,text\n1,\"quoted, \"\"text\"\"\"\n0,plain\n",
		"{\"text\":\"a\",\"label\":1}\n{\"label\":\"x\",\"text\":\"b\"}\n",
		"\ufefftext\r\nline one\r\n\r\nline two",
		"a,b\n1\n",
		"{\"text\": null}\n",
		"\"unterminated,1\n",
	}
	for _, s := range seeds {
		for fm := FormatCSV; fm <= FormatText; fm++ {
			f.Add([]byte(s), uint8(fm), true)
			f.Add([]byte(s), uint8(fm), false)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, format uint8, labels bool) {
		fm := Format(format%4) + FormatCSV
		r, err := NewReader(bytes.NewReader(data), Options{Format: fm, Labels: labels, SniffRows: 8})
		if err != nil {
			return
		}
		last := 0
		for i := 0; i < 10000; i++ {
			row, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if _, err2 := r.Next(); err2 == nil {
					t.Fatal("reader recovered after an error")
				}
				return
			}
			if row.Line <= last {
				t.Fatalf("line %d after line %d", row.Line, last)
			}
			last = row.Line
			if !utf8.ValidString(row.Text) {
				t.Fatalf("invalid UTF-8 text %q", row.Text)
			}
			if labels && row.Label == "" {
				t.Fatal("empty label returned")
			}
		}
	})
}
