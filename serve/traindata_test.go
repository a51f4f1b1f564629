package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTrainSet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, data, format, textCol, labelCol string
		max                                   int
		texts, labels                         string // joined with |
		err                                   string
	}{
		{name: "csv", data: "text,label\na,x\n\"b, c\",y\n", texts: "a|b, c", labels: "x|y"},
		{name: "csv crlf and bom", data: "\xef\xbb\xbfsentence,label\r\na,x\r\nb,y\r\n", texts: "a|b", labels: "x|y"},
		{name: "csv label first", data: "label,text_a\n1,a\n0,b\n", texts: "a|b", labels: "1|0"},
		{name: "csv named columns", data: "id,body,stars\n1,a,5\n2,b,1\n", textCol: "body", labelCol: "stars", texts: "a|b", labels: "5|1"},
		{name: "csv case-insensitive header", data: "Text,Label\na,x\n", texts: "a", labels: "x"},
		{name: "csv multiline quoted", data: "text,label\n\"line one\nline two\",x\nb,y\n", texts: "line one\nline two|b", labels: "x|y"},
		{name: "csv blank lines", data: "text,label\na,x\n\nb,y\n", texts: "a|b", labels: "x|y"},
		{name: "tsv bare quotes", data: "sentence\tlabel\nsays \"hi\tx\nb\ty\n", texts: "says \"hi|b", labels: "x|y"},
		{name: "tsv trims label", data: "label\ttext_a\n 1\ta\n0\tb\n", texts: "a|b", labels: "1|0"},
		{name: "jsonl", data: `{"text":"a","label":"x"}` + "\n" + `{"text":"b","label":2}` + "\n" + `{"text":"c","label":true}`, texts: "a|b|c", labels: "x|2|true"},
		{name: "jsonl custom keys", data: `{"q":"a","cat":"x"}`, textCol: "q", labelCol: "cat", texts: "a", labels: "x"},
		{name: "forced format", data: "text\tlabel\na\tx\n", format: FormatCSV, err: "no text column"},
		{name: "empty", data: "", err: "empty"},
		{name: "header only", data: "text,label\n", err: "no examples"},
		{name: "missing text column", data: "body,label\na,x\n", err: `the header has ["body", "label"]`},
		{name: "missing label column", data: "text,kind\na,x\n", err: "no label column"},
		{name: "ragged", data: "text,label\na,x\nb,y,z\n", err: "line 3 has 3 fields"},
		{name: "empty label", data: "text,label\na,\n", err: "line 2: the label is empty"},
		{name: "bad quote", data: "text,label\n\"a,x\n", err: "reading CSV"},
		{name: "jsonl not object", data: `{"text":"a","label":"x"}` + "\n[1]\n", err: "line 2: not a JSON object"},
		{name: "jsonl no label", data: `{"text":"a"}`, err: "line 1: no label field"},
		{name: "jsonl text not string", data: `{"text":1,"label":"x"}`, err: `field "text" must be a string`},
		{name: "jsonl label object", data: `{"text":"a","label":{}}`, err: "a label must be"},
		{name: "invalid utf8", data: "text,label\n\xff,x\n", err: "UTF-8"},
		{name: "too many", data: "text,label\na,x\nb,y\nc,x\n", max: 2, err: "more than 2 examples"},
		{name: "unknown format", data: "x", format: "xml", err: "unknown data format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ParseTrainSet([]byte(tc.data), tc.format, tc.textCol, tc.labelCol, tc.max)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(set.Texts, "|"); got != tc.texts {
				t.Errorf("texts %q, want %q", got, tc.texts)
			}
			if got := strings.Join(set.Labels, "|"); got != tc.labels {
				t.Errorf("labels %q, want %q", got, tc.labels)
			}
		})
	}
	_, err := ParseTrainSet([]byte("text,label\na,x\nb,y\n"), "", "", "", 1)
	if !errors.Is(err, ErrTooManyExamples) {
		t.Errorf("the row limit error must wrap ErrTooManyExamples: %v", err)
	}
}

func TestTrainSetCheck(t *testing.T) {
	t.Parallel()
	set := &TrainSet{Texts: []string{"a", "b", "c"}, Labels: []string{"x", "y", "x"}}
	if err := set.Check(1); err != nil {
		t.Error(err)
	}
	if err := set.Check(2); err == nil || !strings.Contains(err.Error(), `"y" (1)`) {
		t.Errorf("Check(2): %v", err)
	}
	one := &TrainSet{Texts: []string{"a"}, Labels: []string{"x"}}
	if err := one.Check(1); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one class: %v", err)
	}
}

// TestParseRealData reads the project's real labelled sets when present.
func TestParseRealData(t *testing.T) {
	t.Parallel()
	root := "../../shared/data"
	if _, err := os.Stat(root); err != nil {
		t.Skip("../shared/data is absent; real-data parsing not checked")
	}
	for _, tc := range []struct {
		file    string
		rows    int
		classes int
	}{
		{"sst2/dev.tsv", 872, 2},
		{"trec6/test.jsonl", 500, 6},
		{"chnsenticorp/dev.tsv", 1200, 2},
	} {
		data, err := os.ReadFile(filepath.Join(root, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		set, err := ParseTrainSet(data, "", "", "", 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		classes, _ := set.Classes()
		if len(set.Texts) != tc.rows || len(classes) != tc.classes {
			t.Errorf("%s: %d rows, %d classes; want %d, %d", tc.file, len(set.Texts), len(classes), tc.rows, tc.classes)
		}
	}
}

func FuzzParseTrainSet(f *testing.F) {
	for _, seed := range []string{
		"text,label\na,x\nb,y\n", "sentence\tlabel\na\t1\n", `{"text":"a","label":1}`,
		"text,label\n\"a\nb\",x\n", "\xef\xbb\xbf", "a\tb\n\t\n", `{"text":`,
	} {
		f.Add([]byte(seed), "")
	}
	f.Add([]byte("x,y\n1,2\n"), FormatTSV)
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		set, err := ParseTrainSet(data, format, "", "", 1000)
		if err != nil {
			return
		}
		if len(set.Texts) != len(set.Labels) || len(set.Texts) == 0 || len(set.Texts) > 1000 {
			t.Fatalf("%d texts, %d labels", len(set.Texts), len(set.Labels))
		}
		for _, l := range set.Labels {
			if l == "" {
				t.Fatal("empty label accepted")
			}
		}
	})
}

func TestInputsJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		texts  []string
		single bool
		set    bool
		err    string
	}{
		{`"a"`, []string{"a"}, true, true, ""},
		{`["a","b"]`, []string{"a", "b"}, false, true, ""},
		{`[]`, []string{}, false, true, ""},
		{`null`, nil, false, false, ""},
		{`5`, nil, false, false, "a number"},
		{`["a", 5]`, nil, false, false, "input 1 (counting from 0) must be a string"},
		{`{"a":1}`, nil, false, false, "an object"},
	} {
		var in Inputs
		err := json.Unmarshal([]byte(tc.in), &in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || in.Single != tc.single || in.Set != tc.set || fmt.Sprint(in.Texts) != fmt.Sprint(tc.texts) {
			t.Errorf("%s: %+v %v", tc.in, in, err)
		}
	}
}

func FuzzClassifyRequest(f *testing.F) {
	for _, seed := range []string{
		`{"inputs": "a"}`, `{"inputs": ["a", "b"], "heads": ["x"], "top_k": 2}`, `{"inputs": [1]}`,
		`{"inputs": "a", "truncate": false}`, `[`, `{"inputs": null}`, `{"inputs": "\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	s, err := New(Config{Embedder: newFakeEmbedder(), Logger: discardLogger(), MaxWait: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	s.Heads().Put("x", newFakeHead("p", "q"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := call(t, s.Handler(), "POST", "/v1/classify", body)
		switch rec.Code {
		case 200:
			var v any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("200 with invalid JSON: %s", rec.Body)
			}
		case 400, 404, 413:
			var e ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.ErrorType != ErrValidation {
				t.Fatalf("%d with body %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("unexpected status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
