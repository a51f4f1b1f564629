package serve

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestClassifyShapes(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, nil)
	labels := []string{"a", "b", "c"}
	s.Heads().Put("topic", newFakeHead(labels...))
	h := s.Handler()

	// One head loaded: it is the default; one input: a flat list.
	rec := call(t, h, "POST", "/v1/classify", `{"inputs": "hello world"}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	one := decode[[]LabelScore](t, rec)
	want := labels[labelIndex("hello world", 3)]
	if len(one) != 1 || one[0].Label != want || math.Abs(one[0].Score-0.7) > 1e-9 {
		t.Errorf("single input: %+v, want [{%s 0.7}]", one, want)
	}
	for _, hdr := range []string{"x-compute-time", "x-queue-time", "x-inference-time", "x-tokenization-time", "x-compute-tokens", "x-compute-characters"} {
		if _, err := strconv.Atoi(rec.Header().Get(hdr)); err != nil {
			t.Errorf("header %s = %q, want an integer", hdr, rec.Header().Get(hdr))
		}
	}
	if got := rec.Header().Get("x-compute-tokens"); got != "4" { // [CLS] hello world [SEP]
		t.Errorf("x-compute-tokens %s, want 4", got)
	}

	// A list of inputs: a list of lists, in input order, top_k sorted.
	texts := []string{"first", "second one", "3rd"}
	s.Heads().Put("sentiment", newFakeHead("neg", "pos"))
	rec = call(t, h, "POST", "/v1/classify", map[string]any{"inputs": texts, "head": "topic", "top_k": 2})
	batch := decode[[][]LabelScore](t, rec)
	if len(batch) != 3 {
		t.Fatalf("batch: %+v", batch)
	}
	for i, row := range batch {
		if len(row) != 2 || row[0].Label != labels[labelIndex(texts[i], 3)] || row[0].Score < row[1].Score {
			t.Errorf("input %d: %+v", i, row)
		}
	}

	// Several heads: an object keyed by head; top_k beyond the labels gives all.
	rec = call(t, h, "POST", "/v1/classify", map[string]any{"inputs": "x", "heads": []string{"topic", "sentiment"}, "top_k": 10})
	multi := decode[map[string][]LabelScore](t, rec)
	if len(multi) != 2 || len(multi["topic"]) != 3 || len(multi["sentiment"]) != 2 {
		t.Fatalf("multi-head: %+v", multi)
	}
	sum := 0.0
	for _, ls := range multi["topic"] {
		sum += ls.Score
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("all scores of a head sum to %g, want 1", sum)
	}
	// The texts were embedded once for both heads.
	calls := emb.callLog()
	if last := calls[len(calls)-1]; len(last) != 1 || last[0] != "x" {
		t.Errorf("last encoder call %q, want one call with [x]", last)
	}

	// "heads" with one name still answers keyed; without top_k a batch
	// gets one {label, score} per input, as the pipeline.
	rec = call(t, h, "POST", "/v1/classify", map[string]any{"inputs": []string{"x", "yz"}, "heads": []string{"sentiment"}})
	keyed := decode[map[string][]LabelScore](t, rec)
	if got := keyed["sentiment"]; len(got) != 2 || got[0].Label != []string{"neg", "pos"}[labelIndex("x", 2)] || got[0].Score != 0.7 {
		t.Errorf("keyed single head: %+v", keyed)
	}

	// Several heads loaded and none named: say which exist.
	rec = call(t, h, "POST", "/v1/classify", `{"inputs": "x"}`)
	if msg, _ := apiError(t, "/v1/classify", rec); rec.Code != 400 || !strings.Contains(msg, `"sentiment"`) {
		t.Errorf("ambiguous head: %d %s", rec.Code, msg)
	}
}

func TestClassifyNormalizesForHeadsThatWantIt(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	raw := newFakeHead("a", "b")
	unit := newFakeHead("a", "b")
	unit.normalize = true
	s.Heads().Put("raw", raw)
	s.Heads().Put("unit", unit)
	rec := call(t, s.Handler(), "POST", "/v1/classify", `{"inputs": ["some text", "more"], "heads": ["raw", "unit"]}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	for _, v := range unit.seen {
		if math.Abs(vecNorm(v)-1) > 1e-5 {
			t.Errorf("normalising head got a vector of norm %g", vecNorm(v))
		}
	}
	for _, v := range raw.seen {
		if decodeVector(v) == "" || math.Abs(vecNorm(v)-1) < 1e-3 {
			t.Errorf("raw head got a normalised vector")
		}
	}
	if len(unit.seen) != 2 || len(raw.seen) != 2 {
		t.Errorf("heads saw %d and %d rows, want 2 each", len(unit.seen), len(raw.seen))
	}
}

func TestClassifyNoHeads(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	rec := call(t, s.Handler(), "POST", "/v1/classify", `{"inputs": "x"}`)
	if msg, _ := apiError(t, "/v1/classify", rec); rec.Code != 404 || !strings.Contains(msg, "bertserve train") {
		t.Errorf("%d %s", rec.Code, msg)
	}
}

func TestEmbed(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	h := s.Handler()
	rec := call(t, h, "POST", "/embed", `{"inputs": "abc"}`)
	vecs := decode[[][]float32](t, rec)
	if len(vecs) != 1 || len(vecs[0]) != fakeDim || math.Abs(vecNorm(vecs[0])-1) > 1e-5 {
		t.Fatalf("default /embed must normalise: %v", vecs)
	}
	rec = call(t, h, "POST", "/embed", `{"inputs": ["abc", "de f"], "normalize": false}`)
	vecs = decode[[][]float32](t, rec)
	if len(vecs) != 2 || decodeVector(vecs[0]) != "abc" || decodeVector(vecs[1]) != "de f" {
		t.Fatalf("raw /embed: %v", vecs)
	}
	long := strings.Repeat("w ", 30)
	for _, body := range []map[string]any{{"inputs": long, "truncate": true}, {"inputs": long}} {
		rec = call(t, h, "POST", "/embed", body)
		if rec.Code != 200 || rec.Header().Get("x-compute-tokens") != "16" {
			t.Errorf("%v: %d, x-compute-tokens %s (want 200, 16: truncated, by default too)", body, rec.Code, rec.Header().Get("x-compute-tokens"))
		}
	}
	// x-compute-characters counts characters, as TEI, not bytes.
	rec = call(t, h, "POST", "/embed", `{"inputs": ["héllo", "日本"]}`)
	if got := rec.Header().Get("x-compute-characters"); got != "7" {
		t.Errorf("x-compute-characters %s, want 7", got)
	}
}

func TestEmbedWithNormalizingEncoder(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, nil)
	emb.normalized = true
	s.SetEmbedder(emb)
	rec := call(t, s.Handler(), "POST", "/embed", `{"inputs": "abc"}`)
	if v := decode[[][]float32](t, rec); math.Abs(vecNorm(v[0])-1) > 1e-5 {
		t.Errorf("norm %g", vecNorm(v[0]))
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	h := s.Handler()
	rec := call(t, h, "POST", "/v1/embeddings", `{"input": ["one two", "three"], "model": "my-model"}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	type floatResp struct {
		Object string `json:"object"`
		Data   []struct {
			Object    string    `json:"object"`
			Embedding []float32 `json:"embedding"`
			Index     int       `json:"index"`
		} `json:"data"`
		Model string      `json:"model"`
		Usage OpenAIUsage `json:"usage"`
	}
	fr := decode[floatResp](t, rec)
	if fr.Object != "list" || fr.Model != "my-model" || len(fr.Data) != 2 || fr.Data[1].Index != 1 || fr.Data[0].Object != "embedding" {
		t.Fatalf("response: %+v", fr)
	}
	if fr.Usage.PromptTokens != 7 || fr.Usage.TotalTokens != 7 { // 4 + 3
		t.Errorf("usage %+v, want 7 tokens", fr.Usage)
	}
	if math.Abs(vecNorm(fr.Data[0].Embedding)-1) > 1e-5 {
		t.Errorf("OpenAI embeddings are normalised; norm %g", vecNorm(fr.Data[0].Embedding))
	}

	rec = call(t, h, "POST", "/v1/embeddings", `{"input": "one two", "encoding_format": "base64"}`)
	type b64Resp struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
	}
	br := decode[b64Resp](t, rec)
	raw, err := base64.StdEncoding.DecodeString(br.Data[0].Embedding)
	if err != nil || len(raw) != 4*fakeDim {
		t.Fatalf("base64: %v, %d bytes", err, len(raw))
	}
	for i := range fakeDim {
		got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		if got != fr.Data[0].Embedding[i] {
			t.Fatalf("base64 value %d = %g, float format gave %g", i, got, fr.Data[0].Embedding[i])
		}
	}
	if br.Model != "fake-encoder" {
		t.Errorf("model defaults to the encoder's name, got %q", br.Model)
	}
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	rec := call(t, s.Handler(), "POST", "/tokenize", `{"inputs": "Hello world"}`)
	toks := decode[[][]map[string]any](t, rec)
	if len(toks) != 1 || len(toks[0]) != 4 {
		t.Fatalf("%s", rec.Body)
	}
	first, second := toks[0][0], toks[0][1]
	if first["text"] != "[CLS]" || first["special"] != true || first["id"] != 101.0 {
		t.Errorf("first token %v", first)
	}
	// TEI: the slice of the input and its byte offsets; null for specials.
	if second["text"] != "Hello" || second["special"] != false || second["start"] != 0.0 || second["stop"] != 5.0 {
		t.Errorf("second token %v", second)
	}
	if v, ok := first["stop"]; !ok || v != nil {
		t.Error("a special token's stop field must be present and null")
	}
	rec = call(t, s.Handler(), "POST", "/tokenize", `{"inputs": ["a b", "c"], "add_special_tokens": false}`)
	plain := decode[[][]SimpleToken](t, rec)
	if len(plain) != 2 || len(plain[0]) != 2 || len(plain[1]) != 1 || plain[1][0].Text != "c" {
		t.Errorf("without special tokens: %+v", plain)
	}
	// /tokenize bounds an input like /embed: over the model's maximum
	// length it is a 413, unless "truncate": true cuts it there.
	rec = call(t, s.Handler(), "POST", "/tokenize", map[string]any{"inputs": strings.Repeat("w ", 30)})
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "truncate") {
		t.Errorf("an input over the maximum: %d %s", rec.Code, rec.Body)
	}
	rec = call(t, s.Handler(), "POST", "/tokenize", map[string]any{"inputs": strings.Repeat("w ", 30), "truncate": true})
	if long := decode[[][]SimpleToken](t, rec); len(long[0]) != 16 {
		t.Errorf("a truncated long input gave %d tokens, want the maximum 16", len(long[0]))
	}
}

func TestInfoHealthReadyPage(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, func(c *Config) { c.MaxBatchTokens = 1000; c.MaxBatchRequests = 7; c.Version = "1.2.3" })
	s.Heads().Put("sentiment", newFakeHead("neg", "pos"))
	h := s.Handler()
	info := decode[map[string]any](t, call(t, h, "GET", "/info", nil))
	for k, want := range map[string]any{"model_id": "fake-encoder", "dim": 24.0, "max_input_length": 16.0, "pooling": "mean",
		"max_batch_tokens": 1000.0, "max_batch_requests": 7.0, "version": "1.2.3", "ready": true, "admin_enabled": false} {
		if info[k] != want {
			t.Errorf("/info %s = %v, want %v", k, info[k], want)
		}
	}
	if heads, _ := info["heads"].([]any); len(heads) != 1 || heads[0] != "sentiment" {
		t.Errorf("/info heads = %v", info["heads"])
	}
	if rec := call(t, h, "GET", "/health", nil); rec.Code != 200 {
		t.Errorf("/health %d", rec.Code)
	}
	if rec := call(t, h, "GET", "/ready", nil); rec.Code != 200 {
		t.Errorf("/ready %d", rec.Code)
	}
	rec := call(t, h, "GET", "/", nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(rec.Body.String(), `id="classify"`) {
		t.Errorf("page: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, ext := range []string{"http://", "https://", "//cdn"} {
		if strings.Contains(strings.ReplaceAll(rec.Body.String(), "http://www.w3.org/2000/svg", ""), ext) {
			t.Errorf("the page refers to an external asset (%s)", ext)
		}
	}
}

func TestHeadRoutes(t *testing.T) {
	t.Parallel()
	store := newMemStore()
	s, _ := testServer(t, func(c *Config) { c.Store = store; c.AdminToken = "admin-token" })
	for _, n := range []string{"topic", "sentiment"} {
		h := newFakeHead("x", "y")
		store.Save(n, h)
		s.Heads().Put(n, h)
	}
	h := s.Handler()
	list := decode[HeadList](t, call(t, h, "GET", "/v1/heads", nil))
	if len(list.Heads) != 2 || list.Heads[0].Name != "sentiment" || list.Heads[1].Name != "topic" {
		t.Fatalf("list: %+v", list)
	}
	one := decode[map[string]any](t, call(t, h, "GET", "/v1/heads/topic", nil))
	if one["name"] != "topic" || one["dim"] != 24.0 || one["kind"] != "softmax" {
		t.Errorf("detail: %v", one)
	}
	if m, _ := one["metrics"].(map[string]any); m["accuracy"] != 0.9 {
		t.Errorf("metrics: %v", one["metrics"])
	}
	if c, _ := one["curves"].(map[string]any); len(c["train_loss"].([]any)) != 2 {
		t.Errorf("curves: %v", one["curves"])
	}
	rec := call(t, h, "DELETE", "/v1/heads/topic", nil, "Authorization", "Bearer admin-token")
	if rec.Code != 200 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if _, ok := s.Heads().Get("topic"); ok || store.has("topic") {
		t.Error("deleted head is still served or stored")
	}
	if rec := call(t, h, "GET", "/v1/heads/topic", nil); rec.Code != http.StatusNotFound {
		t.Errorf("deleted head detail: %d", rec.Code)
	}
}
