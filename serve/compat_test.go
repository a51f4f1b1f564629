package serve

import (
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// logitHead is a fakeHead with logits: log p + 1, so its softmax is the
// fake's probabilities and its raw scores differ from log p.
type logitHead struct{ *fakeHead }

func (h logitHead) PredictLogits(x [][]float32) ([][]float64, error) {
	p, err := h.PredictProba(x)
	for _, row := range p {
		for j := range row {
			row[j] = math.Log(row[j]) + 1
		}
	}
	return p, err
}

// TestPipelineShapes: /v1/classify answers as the transformers
// text-classification pipeline, in its top_k forms and in the Inference
// API's {"parameters": ...} form.
func TestPipelineShapes(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	s.Heads().Put("topic", newFakeHead("a", "b", "c"))
	h := s.Handler()
	texts := []string{"first", "second one"}
	best := func(text string) string { return []string{"a", "b", "c"}[labelIndex(text, 3)] }

	rec := call(t, h, "POST", "/v1/classify", map[string]any{"inputs": texts})
	if flat := decode[[]LabelScore](t, rec); len(flat) != 2 || flat[0].Label != best(texts[0]) || flat[1].Label != best(texts[1]) {
		t.Errorf("batch without top_k: one dict per input, got %s", rec.Body)
	}
	rec = call(t, h, "POST", "/v1/classify", map[string]any{"inputs": texts[0]})
	if one := decode[[]LabelScore](t, rec); len(one) != 1 || one[0].Label != best(texts[0]) {
		t.Errorf("one text without top_k: [{...}], got %s", rec.Body)
	}
	for _, body := range []string{
		`{"inputs": ["first", "second one"], "top_k": 1}`,
		`{"inputs": ["first", "second one"], "parameters": {"top_k": 1}}`,
	} {
		rec = call(t, h, "POST", "/v1/classify", body)
		if rows := decode[[][]LabelScore](t, rec); len(rows) != 2 || len(rows[0]) != 1 || rows[1][0].Label != best(texts[1]) {
			t.Errorf("%s: a list per input, got %s", body, rec.Body)
		}
	}
	rec = call(t, h, "POST", "/v1/classify", `{"inputs": "first", "top_k": null}`)
	if all := decode[[]LabelScore](t, rec); len(all) != 3 || all[0].Score < all[1].Score {
		t.Errorf("top_k null: all labels, best first, got %s", rec.Body)
	}
	// A top-level field wins over parameters.
	rec = call(t, h, "POST", "/v1/classify", `{"inputs": "first", "top_k": 2, "parameters": {"top_k": 3}}`)
	if got := decode[[]LabelScore](t, rec); len(got) != 2 {
		t.Errorf("top-level top_k must win: %s", rec.Body)
	}
}

// TestFunctionToApply: softmax (default), sigmoid and none, from the head's
// logits when it has them, else from log-probabilities.
func TestFunctionToApply(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	s.Heads().Put("plain", newFakeHead("a", "b"))
	s.Heads().Put("logits", logitHead{newFakeHead("a", "b")})
	for _, tc := range []struct {
		head, fn string
		want     float64
	}{
		{"logits", "softmax", 0.7},
		{"logits", "", 0.7},
		{"logits", "none", math.Log(0.7) + 1},
		{"logits", "NONE", math.Log(0.7) + 1},
		{"logits", "sigmoid", 1 / (1 + math.Exp(-(math.Log(0.7) + 1)))},
		{"plain", "none", math.Log(0.7)},
		{"plain", "sigmoid", 1 / (1 + math.Exp(-math.Log(0.7)))},
	} {
		rec := call(t, s.Handler(), "POST", "/v1/classify", map[string]any{"inputs": "x", "head": tc.head, "function_to_apply": tc.fn})
		got := decode[[]LabelScore](t, rec)
		if len(got) != 1 || math.Abs(got[0].Score-tc.want) > 1e-9 {
			t.Errorf("%s %q: %s, want score %g", tc.head, tc.fn, rec.Body, tc.want)
		}
	}
}

// TestRootAndHeadEndpoints: POST / classifies with the default head (or the
// only one) and embeds otherwise; /heads/{name} classifies with that head;
// both answer [[{label, score}, ...]] per input with all labels by default.
func TestRootAndHeadEndpoints(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	h := s.Handler()

	// No heads: feature extraction, as TEI /embed.
	rec := call(t, h, "POST", "/", `{"inputs": "abc", "normalize": false}`)
	if v := decode[[][]float32](t, rec); rec.Code != 200 || len(v) != 1 || decodeVector(v[0]) != "abc" {
		t.Fatalf("POST / without heads: %d %s", rec.Code, rec.Body)
	}
	if info := decode[InfoResponse](t, call(t, h, "GET", "/info", nil)); info.Task != TaskFeatureExtraction || info.ModelType["embedding"] == nil {
		t.Errorf("/info task %q model_type %v", info.Task, info.ModelType)
	}
	// huggingface_hub sends feature-extraction options at the top level,
	// the Inference API in "parameters".
	rec = call(t, h, "POST", "/", `{"inputs": ["abc", "de"], "parameters": {"dimensions": 4}}`)
	if v := decode[[][]float32](t, rec); len(v) != 2 || len(v[0]) != 4 || math.Abs(vecNorm(v[0])-1) > 1e-5 {
		t.Errorf("parameters.dimensions: %s", rec.Body)
	}

	s.Heads().Put("sentiment", logitHead{newFakeHead("neg", "pos")})
	best := func(text string) string { return []string{"neg", "pos"}[labelIndex(text, 2)] }
	for _, path := range []string{"/", "/invocations", "/heads/sentiment"} {
		rec = call(t, h, "POST", path, `{"inputs": "great"}`)
		rows := decode[[][]LabelScore](t, rec)
		if rec.Code != 200 || len(rows) != 1 || len(rows[0]) != 2 || rows[0][0].Label != best("great") || rows[0][0].Score < rows[0][1].Score {
			t.Errorf("%s one text: %d %s", path, rec.Code, rec.Body)
		}
		rec = call(t, h, "POST", path, `{"inputs": ["great", "awful!"], "parameters": {"top_k": 1}}`)
		rows = decode[[][]LabelScore](t, rec)
		if len(rows) != 2 || len(rows[1]) != 1 || rows[1][0].Label != best("awful!") {
			t.Errorf("%s batch, top_k 1: %s", path, rec.Body)
		}
		rec = call(t, h, "POST", path, `{"inputs": "great", "parameters": {"function_to_apply": "none"}}`)
		if rows = decode[[][]LabelScore](t, rec); math.Abs(rows[0][0].Score-(math.Log(0.7)+1)) > 1e-9 {
			t.Errorf("%s function_to_apply none: %s", path, rec.Body)
		}
	}
	info := decode[InfoResponse](t, call(t, h, "GET", "/info", nil))
	cls, _ := info.ModelType["classifier"].(map[string]any)
	if info.Task != TaskTextClassification || info.DefaultHead != "sentiment" || cls == nil {
		t.Errorf("/info with one head: task %q head %q model_type %v", info.Task, info.DefaultHead, info.ModelType)
	}

	// Two heads and no default: POST / embeds again; /heads/{name} still
	// classifies; /predict says what to do.
	s.Heads().Put("topic", newFakeHead("a", "b", "c"))
	if rec = call(t, h, "POST", "/", `{"inputs": "abc"}`); len(decode[[][]float32](t, rec)[0]) != fakeDim {
		t.Errorf("POST / with two heads: %s", rec.Body)
	}
	if rec = call(t, h, "POST", "/heads/topic", `{"inputs": "abc"}`); len(decode[[][]LabelScore](t, rec)[0]) != 3 {
		t.Errorf("/heads/topic: %s", rec.Body)
	}
	rec = call(t, h, "POST", "/predict", `{"inputs": "abc"}`)
	if msg, _ := apiError(t, "/predict", rec); rec.Code != 424 || !strings.Contains(msg, "--default-head") {
		t.Errorf("/predict with two heads: %d %s", rec.Code, msg)
	}
}

// TestDefaultHead: --default-head picks the head of POST /, /predict and a
// /v1/classify without one.
func TestDefaultHead(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, func(c *Config) { c.DefaultHead = "topic" })
	h := s.Handler()
	rec := call(t, h, "POST", "/", `{"inputs": "abc"}`)
	if msg, _ := apiError(t, "/", rec); rec.Code != 424 || !strings.Contains(msg, `default head "topic"`) {
		t.Errorf("default head not loaded: %d %s", rec.Code, msg)
	}
	s.Heads().Put("topic", newFakeHead("a", "b", "c"))
	s.Heads().Put("sentiment", newFakeHead("neg", "pos"))
	for _, path := range []string{"/", "/predict", "/v1/classify"} {
		rec = call(t, h, "POST", path, `{"inputs": "abc", "top_k": null}`)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"label":"c"`) {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// TestPredict: TEI's /predict on the default head: every label best first,
// flat for one input (a text or a pair), a list per input for a batch.
func TestPredict(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	s.Heads().Put("topic", logitHead{newFakeHead("a", "b", "c")})
	h := s.Handler()
	rec := call(t, h, "POST", "/predict", `{"inputs": "abc"}`)
	one := decode[[]LabelScore](t, rec)
	if len(one) != 3 || one[0].Score != 0.7 || one[0].Label != []string{"a", "b", "c"}[labelIndex("abc", 3)] {
		t.Errorf("one text: %s", rec.Body)
	}
	for _, body := range []string{`{"inputs": [["abc"], ["de"]]}`, `{"inputs": ["abc", "de", "f"]}`} {
		rec = call(t, h, "POST", "/predict", body)
		if rows := decode[[][]LabelScore](t, rec); rec.Code != 200 || len(rows) < 2 || len(rows[1]) != 3 {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	rec = call(t, h, "POST", "/predict", `{"inputs": "abc", "raw_scores": true}`)
	if raw := decode[[]LabelScore](t, rec); math.Abs(raw[0].Score-(math.Log(0.7)+1)) > 1e-9 {
		t.Errorf("raw_scores: %s", rec.Body)
	}
}

// TestTokenIDInputs: /embed and /v1/embeddings take token ids (TEI's
// InputType, OpenAI's token arrays), alone or mixed with texts, through
// the TokenEmbedder; left truncation goes the same way.
func TestTokenIDInputs(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, nil)
	h := s.Handler()
	rec := call(t, h, "POST", "/embed", `{"inputs": [101, 7, 8, 102], "normalize": false}`)
	v := decode[[][]float32](t, rec)
	if rec.Code != 200 || len(v) != 1 || v[0][1] != 7 || v[0][fakeDim-1] != -4 {
		t.Fatalf("one input of ids: %d %s", rec.Code, rec.Body)
	}
	rec = call(t, h, "POST", "/v1/embeddings", `{"input": [[101, 9, 102], "a b"]}`)
	if r := decode[OpenAIEmbeddingsResponse](t, rec); rec.Code != 200 || len(r.Data) != 2 || r.Usage.PromptTokens != 7 {
		t.Fatalf("mixed batch: %d %s", rec.Code, rec.Body)
	}
	last := emb.idCallLog()[len(emb.idCallLog())-1]
	if !slices.Equal(last[0], []int64{101, 9, 102}) || !slices.Equal(last[1], []int64{101, 1001, 1001, 102}) {
		t.Errorf("mixed batch went to the encoder as %v: the text must go as its own ids", last)
	}
	// truncation_direction Left keeps the end: [CLS] last 14 words [SEP].
	words := make([]string, 20)
	for i := range words {
		words[i] = strings.Repeat("w", i%9+1)
	}
	rec = call(t, h, "POST", "/embed", map[string]any{"inputs": strings.Join(words, " "), "truncation_direction": "Left"})
	if rec.Code != 200 {
		t.Fatalf("left truncation: %d %s", rec.Code, rec.Body)
	}
	last = emb.idCallLog()[len(emb.idCallLog())-1]
	want := []int64{101}
	for _, w := range words[6:] {
		want = append(want, int64(1000+len(w)))
	}
	want = append(want, 102)
	if !slices.Equal(last[0], want) {
		t.Errorf("left truncation sent %v, want %v", last[0], want)
	}
}

// TestDimensions: TEI's and OpenAI's dimensions keep the first values and
// renormalise.
func TestDimensions(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	h := s.Handler()
	rec := call(t, h, "POST", "/embed", `{"inputs": "abcdef", "dimensions": 3}`)
	v := decode[[][]float32](t, rec)
	if len(v[0]) != 3 || math.Abs(vecNorm(v[0])-1) > 1e-6 || math.Abs(float64(v[0][0]/v[0][2])-97.0/99) > 1e-6 { // 'a'/'c'
		t.Errorf("/embed dimensions 3: %v", v)
	}
	rec = call(t, h, "POST", "/embed", `{"inputs": "abcdef", "dimensions": 3, "normalize": false}`)
	if v := decode[[][]float32](t, rec); v[0][0] != 'a' {
		t.Errorf("without normalize the values are the model's: %v", v)
	}
	rec = call(t, h, "POST", "/v1/embeddings", `{"input": "abcdef", "dimensions": 5}`)
	r := decode[struct {
		Data []struct{ Embedding []float32 }
	}](t, rec)
	if len(r.Data[0].Embedding) != 5 || math.Abs(vecNorm(r.Data[0].Embedding)-1) > 1e-6 {
		t.Errorf("/v1/embeddings dimensions 5: %s", rec.Body)
	}
}

// TestAutoTruncate: on by default (counted), off with NoAutoTruncate,
// where over-long inputs are 413 (400 on /v1) unless truncate is sent.
func TestAutoTruncate(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("w ", 40)
	on, _ := testServer(t, nil)
	if rec := call(t, on.Handler(), "POST", "/v1/embeddings", map[string]any{"input": long}); rec.Code != 200 {
		t.Errorf("auto-truncate on: %d %s", rec.Code, rec.Body)
	}
	if m := call(t, on.Handler(), "GET", "/metrics", nil).Body.String(); !strings.Contains(m, "bertserve_truncated_inputs_total 1") {
		t.Errorf("the truncation was not counted")
	}
	off, _ := testServer(t, func(c *Config) { c.NoAutoTruncate = true })
	for path, code := range map[string]int{"/embed": 413, "/v1/embeddings": 400, "/predict": 413} {
		body := map[string]any{"inputs": long, "input": long}
		off.Heads().Put("x", newFakeHead("a", "b"))
		if rec := call(t, off.Handler(), "POST", path, body); rec.Code != code {
			t.Errorf("%s with auto-truncate off: %d, want %d", path, rec.Code, code)
		}
		body["truncate"] = true
		if rec := call(t, off.Handler(), "POST", path, body); rec.Code != 200 {
			t.Errorf("%s with truncate: %d %s", path, rec.Code, rec.Body)
		}
	}
	if info := decode[InfoResponse](t, call(t, off.Handler(), "GET", "/info", nil)); info.AutoTruncate {
		t.Error("/info says auto_truncate with it off")
	}
}

// TestTEIRouteDetails: HEAD /health, the /embeddings alias of an OpenAI
// SDK whose base URL is the root, /info's required TEI fields, and
// /tokenize's truncation extension.
func TestTEIRouteDetails(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	h := s.Handler()
	for _, path := range []string{"/health", "/ready"} {
		if rec := call(t, h, "HEAD", path, nil); rec.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, rec.Code)
		}
	}
	if rec := call(t, h, "POST", "/embeddings", `{"input": "abc"}`); rec.Code != 200 || decode[OpenAIEmbeddingsResponse](t, rec).Object != "list" {
		t.Errorf("/embeddings: %d %s", rec.Code, rec.Body)
	}
	info := decode[map[string]any](t, call(t, h, "GET", "/info", nil))
	for _, field := range []string{"model_id", "model_dtype", "served_model_name", "model_type", "max_concurrent_requests",
		"max_input_length", "max_batch_tokens", "max_client_batch_size", "auto_truncate", "tokenization_workers", "version"} {
		if _, ok := info[field]; !ok {
			t.Errorf("/info lacks TEI's required %q", field)
		}
	}
	long := strings.Repeat("ab ", 30)
	for _, tc := range []struct {
		body  map[string]any
		first string
	}{
		{map[string]any{"inputs": long, "truncate": true}, "ab"},
		{map[string]any{"inputs": "x " + long, "truncate": true, "truncation_direction": "left"}, "ab"},
		{map[string]any{"inputs": "x " + long, "truncate": true}, "x"},
	} {
		toks := decode[[][]SimpleToken](t, call(t, h, "POST", "/tokenize", tc.body))
		if len(toks[0]) != 16 || toks[0][1].Text != tc.first || toks[0][15].Text != "[SEP]" {
			t.Errorf("/tokenize %v: %d tokens, second %q", tc.body["truncation_direction"], len(toks[0]), toks[0][1].Text)
		}
	}
}
