package corpus

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readString(t *testing.T, format Format, in string, opts Options) ([]Row, Info, error) {
	t.Helper()
	opts.Format = format
	r, err := NewReader(strings.NewReader(in), opts)
	if err != nil {
		return nil, Info{}, err
	}
	rows, err := r.All()
	return rows, r.Info(), err
}

func TestReadFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		format    Format
		in        string
		opts      Options
		texts     []string
		labels    []string
		lines     []int
		textCol   string
		labelCol  string
		hasHeader bool
	}{
		{name: "tsv header", format: FormatTSV, in: "sentence\tlabel\ngood film \t1\nbad \"film\t0\n",
			opts: Options{Labels: true}, texts: []string{"good film ", `bad "film`}, labels: []string{"1", "0"},
			lines: []int{2, 3}, textCol: "sentence", labelCol: "label", hasHeader: true},
		{name: "tsv label first, padded label", format: FormatTSV, in: "label\ttext_a\n    0\t很好\n1\t不好\n",
			opts: Options{Labels: true}, texts: []string{"很好", "不好"}, labels: []string{"0", "1"},
			lines: []int{2, 3}, textCol: "text_a", labelCol: "label", hasHeader: true},
		{name: "tsv no header", format: FormatTSV, in: "So there is no way for me to plug it in.\t0\nGood case, Excellent value.\t1\n",
			opts: Options{Labels: true}, texts: []string{"So there is no way for me to plug it in.", "Good case, Excellent value."},
			labels: []string{"0", "1"}, lines: []int{1, 2}, textCol: "1", labelCol: "2"},
		{name: "tsv no header class names", format: FormatTSV, in: "Stocks rally as oil falls on Monday\tBusiness\nTeam wins the cup after extra time\tSports\n",
			opts: Options{Labels: true}, texts: []string{"Stocks rally as oil falls on Monday", "Team wins the cup after extra time"},
			labels: []string{"Business", "Sports"}, lines: []int{1, 2}, textCol: "1", labelCol: "2"},
		{name: "csv quoted multiline, BOM, CRLF", format: FormatCSV, in: "\ufefflabel,text,is_valid\r\nnegative,\"Un-bleeping-believable, \"\"no\"\"\r\nreally\",False\r\npositive,Great,True\r\n",
			opts: Options{Labels: true}, texts: []string{"Un-bleeping-believable, \"no\"\nreally", "Great"}, labels: []string{"negative", "positive"},
			lines: []int{2, 4}, textCol: "text", labelCol: "label", hasHeader: true},
		{name: "csv label priority over cat", format: FormatCSV, in: "cat,label,review\n书籍,1,做父母一定要有刘墉这样的心态\n",
			opts: Options{Labels: true}, texts: []string{"做父母一定要有刘墉这样的心态"}, labels: []string{"1"}, lines: []int{2},
			textCol: "review", labelCol: "label", hasHeader: true},
		{name: "csv explicit columns by position", format: FormatCSV, in: "a,b\nx y z,7\n",
			opts: Options{Labels: true, TextColumn: "1", LabelColumn: "B"}, texts: []string{"x y z"}, labels: []string{"7"}, lines: []int{2},
			textCol: "a", labelCol: "b", hasHeader: true},
		{name: "csv unknown header names detected by numeric column", format: FormatCSV, in: "words,score\nthe plot was thin,3\nlovely,5\n",
			opts: Options{Labels: true, LabelColumn: "score"}, texts: []string{"the plot was thin", "lovely"}, labels: []string{"3", "5"}, lines: []int{2, 3},
			textCol: "words", labelCol: "score", hasHeader: true},
		{name: "jsonl keys and integer labels", format: FormatJSONL, in: "{\"text\": \"How far is it ?\", \"label\": 5}\n\n{\"label\": 0, \"text\": \"Who?\", \"extra\": [1]}\r\n",
			opts: Options{Labels: true}, texts: []string{"How far is it ?", "Who?"}, labels: []string{"5", "0"}, lines: []int{1, 3},
			textCol: "text", labelCol: "label", hasHeader: true},
		{name: "jsonl text only", format: FormatJSONL, in: "{\"id\": 1, \"question\": \"What is a ZIP code ?\"}\n",
			texts: []string{"What is a ZIP code ?"}, lines: []int{1}, textCol: "question", hasHeader: true},
		{name: "txt keeps blank lines, CRLF", format: FormatText, in: "one\r\n\r\nthree",
			texts: []string{"one", "", "three"}, lines: []int{1, 2, 3}, textCol: "text"},
		{name: "header forced absent", format: FormatCSV, in: "text\nhello\n", opts: Options{Header: HeaderAbsent},
			texts: []string{"text", "hello"}, lines: []int{1, 2}, textCol: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, info, err := readString(t, tc.format, tc.in, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tc.texts) {
				t.Fatalf("got %d rows %+v, want %d", len(rows), rows, len(tc.texts))
			}
			for i, r := range rows {
				if r.Text != tc.texts[i] || r.Line != tc.lines[i] {
					t.Errorf("row %d = %q line %d, want %q line %d", i, r.Text, r.Line, tc.texts[i], tc.lines[i])
				}
				if tc.labels != nil && r.Label != tc.labels[i] {
					t.Errorf("row %d label %q, want %q", i, r.Label, tc.labels[i])
				}
			}
			if info.TextColumn != tc.textCol || info.LabelColumn != tc.labelCol || info.HasHeader != tc.hasHeader {
				t.Errorf("info %+v, want text %q label %q header %v", info, tc.textCol, tc.labelCol, tc.hasHeader)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format Format
		in     string
		opts   Options
		want   []string // substrings of the error
	}{
		{"ragged tsv names the line", FormatTSV, "sentence\tlabel\na\t1\nb\t0\textra\n", Options{Labels: true}, []string{"line 3", "3 fields, want 2", "header on line 1"}},
		{"ragged csv names the line", FormatCSV, "text,label\n\"a, b\",1\nc,d,0\n", Options{Labels: true}, []string{"line 3", "3 fields"}},
		{"missing text column lists columns", FormatTSV, "sentence\tlabel\na\t1\n", Options{TextColumn: "review"}, []string{`column "review" not found`, `"sentence", "label"`}},
		{"missing label column lists columns", FormatCSV, "review,stars_text\nnice one here,good\n", Options{Labels: true}, []string{"no label column", `"review", "stars_text"`}},
		{"empty", FormatCSV, "", Options{}, []string{"no rows"}},
		{"header only", FormatTSV, "sentence\tlabel\n", Options{Labels: true}, []string{"no rows", "only a header"}},
		{"txt has no labels", FormatText, "a\n", Options{Labels: true}, []string{"no labels"}},
		{"jsonl null text", FormatJSONL, "{\"text\":\"a\",\"label\":1}\n{\"text\":null,\"label\":1}\n", Options{Labels: true}, []string{"line 2", `"text" is null`}},
		{"jsonl missing key", FormatJSONL, "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\"}\n", Options{Labels: true}, []string{"line 2", `"label" is no such key`}},
		{"jsonl not an object", FormatJSONL, "[1,2]\n", Options{}, []string{"line 1", "not a JSON object"}},
		{"jsonl broken", FormatJSONL, "{\"text\": \"a\"\n", Options{}, []string{"line 1", "not JSON"}},
		{"latin-1 text", FormatTSV, "sentence\tlabel\ncaf\xe9 au lait\t1\n", Options{Labels: true}, []string{"line 2", "UTF-8", "iconv"}},
		{"empty label", FormatTSV, "sentence\tlabel\nfine\t \n", Options{Labels: true}, []string{"line 2", "empty label"}},
		{"same column twice", FormatTSV, "sentence\tlabel\na b\t1\n", Options{Labels: true, TextColumn: "label", LabelColumn: "label"}, []string{"both column"}},
		{"no auto format", FormatAuto, "x\n", Options{}, []string{"name csv, tsv"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := readString(t, tc.format, tc.in, tc.opts)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEmptyIsErrEmpty(t *testing.T) {
	t.Parallel()
	_, _, err := readString(t, FormatJSONL, "\n\n", Options{})
	if !errors.Is(err, ErrEmpty) {
		t.Fatalf("got %v, want ErrEmpty", err)
	}
}

func TestStreamingSniffsOnlyAFewRows(t *testing.T) {
	t.Parallel()
	// A reader that fails after the sniffed rows proves that NewReader
	// does not read the whole input up front.
	var b strings.Builder
	b.WriteString("text\n")
	for i := 0; i < 10; i++ {
		b.WriteString("row of text\n")
	}
	in := io.MultiReader(strings.NewReader(b.String()), failingReader{})
	r, err := NewReader(in, Options{Format: FormatTSV, SniffRows: 4})
	if err != nil {
		t.Fatalf("NewReader read too far: %v", err)
	}
	n := 0
	for {
		_, err := r.Next()
		if err != nil {
			if !strings.Contains(err.Error(), "boom") {
				t.Fatalf("unexpected error %v", err)
			}
			break
		}
		n++
	}
	if n != 10 {
		t.Fatalf("read %d rows before the failure, want 10", n)
	}
	if _, err := r.Next(); err == nil {
		t.Fatal("a failed Reader must stay failed")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestOpenByExtension(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "d.jsonl")
	if err := os.WriteFile(p, []byte(`{"text":"hi there","label":"a"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, info, err := ReadAll(p, Options{Labels: true})
	if err != nil || len(rows) != 1 || info.Format != FormatJSONL || rows[0].Label != "a" {
		t.Fatalf("got %v %+v %v", rows, info, err)
	}
	_, _, err = ReadAll(filepath.Join(dir, "d.parquet"), Options{})
	if err == nil || !strings.Contains(err.Error(), "extension") {
		t.Fatalf("want an extension error, got %v", err)
	}
	_, _, err = ReadAll(filepath.Join(dir, "missing.csv"), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want ErrNotExist, got %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{"csv": FormatCSV, "TSV": FormatTSV, "ndjson": FormatJSONL, "text": FormatText, "": FormatAuto} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", in, got, err, want)
		}
		if want != FormatAuto && got.String() == "" {
			t.Errorf("empty String for %v", got)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("want an error for xml")
	}
}
