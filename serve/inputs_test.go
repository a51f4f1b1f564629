package serve

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

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
		case 400, 404: // /v1 answers OpenAI's 400 where TEI says 413 or 422
			var e OpenAIErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Message == "" || e.Code != rec.Code ||
				(e.ErrorType != ErrValidation && e.ErrorType != ErrEmpty) {
				t.Fatalf("%d with body %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("unexpected status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
