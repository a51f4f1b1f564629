package corpus_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/bertserve/bertserve/encoder/corpus"
)

// A labelled TSV file with a header: the text and label columns are found
// by name, and labels are trimmed.
func Example() {
	in := "label\ttext_a\n1\tthe room was clean\n    0\tnoisy and cold\n"
	r, err := corpus.NewReader(strings.NewReader(in), corpus.Options{Format: corpus.FormatTSV, Labels: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("columns %q, text %q, label %q\n", r.Columns(), r.TextColumn(), r.LabelColumn())
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("line %d: %q -> %s\n", row.Line, row.Text, row.Label)
	}
	// Output:
	// columns ["label" "text_a"], text "text_a", label "label"
	// line 2: "the room was clean" -> 1
	// line 3: "noisy and cold" -> 0
}

// A ragged row is reported with its line number.
func Example_raggedRow() {
	in := "sentence,label\nfine,1\nnot, fine,0\n"
	_, _, err := func() ([]corpus.Row, corpus.Info, error) {
		r, err := corpus.NewReader(strings.NewReader(in), corpus.Options{Format: corpus.FormatCSV, Labels: true})
		if err != nil {
			return nil, corpus.Info{}, err
		}
		rows, err := r.All()
		return rows, r.Info(), err
	}()
	fmt.Println(err)
	// Output:
	// line 3: 3 fields, want 2 as in the header on line 1 (a ragged row: quote fields that contain the delimiter, or fix the row)
}
