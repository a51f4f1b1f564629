package corpus

import (
	"bytes"
	"io"
	"testing"
)

// seekCases are inputs whose rows must come out the same when reading
// resumes after any of them.
var seekCases = []struct {
	name   string
	format Format
	in     string
}{
	{"tsv with BOM, CRLF, blank lines", FormatTSV, "\ufeffsentence\tlabel\r\ngood film\t1\r\n\r\nbad film\t0\r\nlast one\t1"},
	{"csv with a quoted field over three lines", FormatCSV, "text,label\n\"one\ntwo\nthree\",1\nplain,0\n\"x, \"\"y\"\"\",1\n"},
	{"csv without a final newline", FormatCSV, "\ufefftext,label\nfirst row,1\nsecond row,0"},
	{"jsonl with blank lines", FormatJSONL, "{\"text\":\"a\",\"id\":1}\n\n{\"id\":2,\"text\":\"b\"}\n  \n{\"text\":\"c\"}\n"},
	{"txt with empty lines", FormatText, "one\n\ntwo\r\nthree\n"},
}

func TestResumeAtContinuesAfterAnyRow(t *testing.T) {
	t.Parallel()
	for _, tc := range seekCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := []byte(tc.in)
			r, err := NewReader(bytes.NewReader(data), Options{Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			all, err := r.All()
			if err != nil {
				t.Fatal(err)
			}
			if len(all) < 2 {
				t.Fatalf("only %d rows", len(all))
			}
			if got := all[len(all)-1].Offset; got != int64(len(data)) {
				t.Errorf("last row ends at byte %d, the file has %d", got, len(data))
			}
			for k, row := range all {
				r2, err := NewReader(bytes.NewReader(data), Options{Format: tc.format})
				if err != nil {
					t.Fatal(err)
				}
				if err := r2.ResumeAt(row.Offset, row.EndLine); err != nil {
					t.Fatal(err)
				}
				rest, err := r2.All()
				if err != nil {
					t.Fatalf("after row %d: %v", k, err)
				}
				want := all[k+1:]
				if len(rest) != len(want) {
					t.Fatalf("after row %d (offset %d): %d rows, want %d", k, row.Offset, len(rest), len(want))
				}
				for i := range rest {
					if rest[i] != want[i] {
						t.Errorf("after row %d: got %+v, want %+v", k, rest[i], want[i])
					}
				}
			}
		})
	}
}

func TestResumeAtNeedsASeekableInput(t *testing.T) {
	t.Parallel()
	r, err := NewReader(io.MultiReader(bytes.NewReader([]byte("a\nb\n"))), Options{Format: FormatText})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ResumeAt(2, 1); err == nil {
		t.Fatal("ResumeAt on a pipe-like reader succeeded")
	}
}

// FuzzResumeAt checks on arbitrary input that reading resumed after row k
// gives exactly the rows after k.
func FuzzResumeAt(f *testing.F) {
	for _, tc := range seekCases {
		f.Add([]byte(tc.in), uint8(tc.format-FormatCSV))
	}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		fm := Format(format%4) + FormatCSV
		opts := Options{Format: fm, SniffRows: 4, Header: HeaderPresent}
		r, err := NewReader(bytes.NewReader(data), opts)
		if err != nil {
			return
		}
		var all []Row
		for len(all) < 200 {
			row, err := r.Next()
			if err != nil {
				break
			}
			all = append(all, row)
		}
		for k := 0; k < len(all); k += 1 + len(all)/8 {
			r2, err := NewReader(bytes.NewReader(data), opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := r2.ResumeAt(all[k].Offset, all[k].EndLine); err != nil {
				t.Fatal(err)
			}
			for i := k + 1; i < len(all); i++ {
				row, err := r2.Next()
				if err != nil {
					t.Fatalf("resumed after row %d: row %d: %v", k, i, err)
				}
				if row != all[i] {
					t.Fatalf("resumed after row %d: got %+v, want %+v", k, row, all[i])
				}
			}
		}
	})
}
