package head

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder/corpus"
)

// TestReadLabelled covers the one reader of labelled data (files and
// uploads alike): formats, column detection, label names and errors.
func TestReadLabelled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, data            string
		format                corpus.Format
		textCol, labelCol     string
		names                 map[string]string
		max                   int
		texts, labels, errmsg string // texts and labels joined with |
	}{
		{name: "csv", data: "text,label\na b,x\n\"b, c\",y\n", texts: "a b|b, c", labels: "x|y"},
		{name: "csv crlf and bom", data: "\xef\xbb\xbfsentence,label\r\na,x\r\nb,y\r\n", texts: "a|b", labels: "x|y"},
		{name: "csv label first", data: "label,text_a\n1,a\n0,b\n", texts: "a|b", labels: "1|0"},
		{name: "csv named columns", data: "id,body,stars\n1,a,5\n2,b,1\n", textCol: "body", labelCol: "stars", texts: "a|b", labels: "5|1"},
		{name: "csv case-insensitive header", data: "Text,Label\na,x\n", texts: "a", labels: "x"},
		{name: "csv multiline quoted", data: "text,label\n\"line one\nline two\",x\nb,y\n", texts: "line one\nline two|b", labels: "x|y"},
		{name: "review before text_a", data: "review,text_a,label\nr1,t1,x\nr2,t2,y\n", texts: "r1|r2", labels: "x|y"},
		{name: "sentiment column", data: "text,sentiment\na,pos\nb,neg\n", texts: "a|b", labels: "pos|neg"},
		{name: "tsv bare quotes", data: "sentence\tlabel\nsays \"hi\tx\nb\ty\n", texts: "says \"hi|b", labels: "x|y"},
		{name: "tsv trims label", data: "label\ttext_a\n 1\ta\n0\tb\n", texts: "a|b", labels: "1|0"},
		{name: "jsonl", data: `{"text":"a","label":"x"}` + "\n" + `{"text":"b","label":2}` + "\n" + `{"text":"c","label":true}`, texts: "a|b|c", labels: "x|2|true"},
		{name: "jsonl custom keys", data: `{"q":"a","cat":"x"}`, textCol: "q", labelCol: "cat", texts: "a", labels: "x"},
		{name: "label names", data: "text,label\na,0\nb,1\n", names: map[string]string{"0": "neg", "1": "pos"}, texts: "a|b", labels: "neg|pos"},
		{name: "forced format", data: "text\tlabel\na\tx\n", format: corpus.FormatCSV, errmsg: "column"},
		{name: "empty", data: "", errmsg: "empty"},
		{name: "header only", data: "text,label\n", errmsg: "only a header"},
		{name: "missing text column", data: "text,label\na,x\n", textCol: "body", errmsg: `columns found: "text", "label"`},
		{name: "ragged", data: "text,label\na,x\nb,y,z\n", errmsg: "line 3: 3 fields"},
		{name: "empty label", data: "text,label\na b,\nc d,y\n", errmsg: "line 2: empty label"},
		{name: "jsonl not object", data: `{"text":"a","label":"x"}` + "\n[1]\n", errmsg: "line 2: not a JSON object"},
		{name: "jsonl label object", data: `{"text":"a","label":{}}`, errmsg: `field "label" is an object`},
		{name: "invalid utf8", data: "text,label\n\xff,x\n", errmsg: "UTF-8"},
		{name: "too many", data: "text,label\na,x\nb,y\nc,x\n", max: 2, errmsg: "more than 2 rows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ReadLabelled(strings.NewReader(tc.data), "upload", tc.format,
				ReadOptions{TextColumn: tc.textCol, LabelColumn: tc.labelCol, LabelNames: tc.names, MaxRows: tc.max})
			if tc.errmsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errmsg) {
					t.Fatalf("err %v, want %q", err, tc.errmsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(l.Texts, "|"); got != tc.texts {
				t.Errorf("texts %q, want %q", got, tc.texts)
			}
			if got := strings.Join(l.Labels, "|"); got != tc.labels {
				t.Errorf("labels %q, want %q", got, tc.labels)
			}
		})
	}
	_, err := ReadLabelled(strings.NewReader("text,label\na,x\nb,y\n"), "upload", corpus.FormatAuto, ReadOptions{MaxRows: 1})
	if !errors.Is(err, ErrTooManyRows) {
		t.Errorf("the row limit error must wrap ErrTooManyRows: %v", err)
	}
	_, err = ReadLabelled(strings.NewReader(`{"text":"a","label":null}`), "upload", corpus.FormatJSONL,
		ReadOptions{RowName: func(line int) string { return "examples[" + string(rune('0'+line-1)) + "]" }})
	if err == nil || !strings.Contains(err.Error(), "examples[0]") {
		t.Errorf("RowName: %v", err)
	}
}

// TestReadLabelledFileIsTheUploadReader: a file read by path (the CLI)
// and the same bytes read as an upload (the server, format sniffed) give
// the same rows.
func TestReadLabelledFileIsTheUploadReader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"a.csv":   "review,text_a,label\nr1 is long,t1,x\nr2 is long,t2,y\n",
		"b.tsv":   "label\tsentence\n1\tgood film\n0\tbad film\n",
		"c.jsonl": `{"text":"a","label":1}` + "\n" + `{"text":"b","label":0}` + "\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := ReadLabelledFile(path, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		upload, err := ReadLabelled(strings.NewReader(data), "upload", corpus.FormatAuto, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(file.Texts, "|") != strings.Join(upload.Texts, "|") || strings.Join(file.Labels, "|") != strings.Join(upload.Labels, "|") {
			t.Errorf("%s: the file gives %q %q, the upload %q %q", name, file.Texts, file.Labels, upload.Texts, upload.Labels)
		}
	}
}

func TestLabelledCheck(t *testing.T) {
	t.Parallel()
	l := &Labelled{Texts: []string{"a", "b", "c"}, Labels: []string{"x", "y", "x"}}
	if err := l.Check(1); err != nil {
		t.Error(err)
	}
	if err := l.Check(2); err == nil || !strings.Contains(err.Error(), `"y" (1)`) {
		t.Errorf("Check(2): %v", err)
	}
	one := &Labelled{Texts: []string{"a"}, Labels: []string{"x"}}
	if err := one.Check(1); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one class: %v", err)
	}
}

// TestReadLabelledRealData reads the project's real labelled sets when present.
func TestReadLabelledRealData(t *testing.T) {
	t.Parallel()
	root := "../../shared/data"
	if _, err := os.Stat(root); err != nil {
		t.Skip("../shared/data is absent; real-data reading not checked")
	}
	for _, tc := range []struct {
		file          string
		rows, classes int
	}{
		{"sst2/dev.tsv", 872, 2},
		{"trec6/test.jsonl", 500, 6},
		{"chnsenticorp/dev.tsv", 1200, 2},
	} {
		l, err := ReadLabelledFile(filepath.Join(root, tc.file), ReadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		classes, _ := l.Classes()
		if l.Len() != tc.rows || len(classes) != tc.classes {
			t.Errorf("%s: %d rows, %d classes; want %d, %d", tc.file, l.Len(), len(classes), tc.rows, tc.classes)
		}
	}
}

func FuzzReadLabelled(f *testing.F) {
	for _, seed := range []string{
		"text,label\na,x\nb,y\n", "sentence\tlabel\na\t1\n", `{"text":"a","label":1}`,
		"text,label\n\"a\nb\",x\n", "\xef\xbb\xbf", "a\tb\n\t\n", `{"text":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ReadLabelled(strings.NewReader(string(data)), "fuzz", corpus.FormatAuto, ReadOptions{MaxRows: 1000})
		if err != nil {
			return
		}
		if len(l.Texts) != len(l.Labels) || len(l.Texts) > 1000 {
			t.Fatalf("%d texts, %d labels", len(l.Texts), len(l.Labels))
		}
		for _, lb := range l.Labels {
			if lb == "" {
				t.Fatal("empty label accepted")
			}
		}
	})
}
