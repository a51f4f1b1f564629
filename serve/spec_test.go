package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The wire formats checked against the published specifications:
// Text Embeddings Inference's OpenAPI document (../shared/specs, read, never
// committed), OpenAI's embeddings API (openAISchemas, from its API
// reference) and the Open Inference Protocol's REST messages (oipSchemas,
// from kserve/open-inference-protocol's REST specification). Every route's
// responses, success and error, are validated against the component
// schemas, over requests that cover each variant of the request schemas
// (which the requests are checked against too).

// specPath is TEI's OpenAPI document: $BERTSERVE_SPECS/tei-openapi.json,
// else ../shared/specs next to the repository.
func specPath() string {
	if d := os.Getenv("BERTSERVE_SPECS"); d != "" {
		return filepath.Join(d, "tei-openapi.json")
	}
	return filepath.Join("..", "..", "shared", "specs", "tei-openapi.json")
}

// requireSpec reads the document, skipping when it is absent unless
// BERTSERVE_REQUIRE_SPECS=1 (CI), where absence fails.
func requireSpec(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(specPath())
	if err != nil {
		msg := fmt.Sprintf("TEI's OpenAPI document is absent (%v): put the shared data at ../shared next to the repository, or set BERTSERVE_SPECS", err)
		if os.Getenv("BERTSERVE_REQUIRE_SPECS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return data
}

// openAPIToJSONSchema rewrites OpenAPI 3.0's nullable into JSON Schema:
// {"type": T, "nullable": true} accepts null too.
func openAPIToJSONSchema(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if k != "nullable" && k != "example" {
				out[k] = openAPIToJSONSchema(val)
			}
		}
		if x["nullable"] == true {
			return map[string]any{"anyOf": []any{out, map[string]any{"type": "null"}}}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = openAPIToJSONSchema(val)
		}
		return out
	}
	return v
}

// openAISchemas are OpenAI's embeddings request, response and error, as
// its API reference documents them (CreateEmbeddingRequest,
// CreateEmbeddingResponse, Error).
const openAISchemas = `{
  "$defs": {
    "request": {"type": "object", "required": ["input", "model"], "properties": {
      "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "integer"}}, {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}]},
      "model": {"type": "string"}, "encoding_format": {"enum": ["float", "base64"]},
      "dimensions": {"type": "integer", "minimum": 1}, "user": {"type": "string"}}},
    "response": {"type": "object", "required": ["object", "data", "model", "usage"], "properties": {
      "object": {"const": "list"},
      "data": {"type": "array", "items": {"type": "object", "required": ["object", "embedding", "index"], "properties": {
        "object": {"const": "embedding"}, "index": {"type": "integer"},
        "embedding": {"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]}}}},
      "model": {"type": "string"},
      "usage": {"type": "object", "required": ["prompt_tokens", "total_tokens"], "properties": {
        "prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}}},
    "error": {"type": "object", "required": ["error"], "properties": {
      "error": {"type": "object", "required": ["message", "type", "param", "code"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}
  }
}`

type specSchemas struct {
	c  *jsonschema.Compiler
	mu sync.Mutex
	m  map[string]*jsonschema.Schema
}

func loadSchemas(t *testing.T) *specSchemas {
	t.Helper()
	var doc any
	if err := json.Unmarshal(requireSpec(t), &doc); err != nil {
		t.Fatalf("%s: %v", specPath(), err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("tei.json", openAPIToJSONSchema(doc)); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"openai.json": openAISchemas, "oip.json": oipSchemas} {
		s, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource(name, s); err != nil {
			t.Fatal(err)
		}
	}
	return &specSchemas{c: c, m: map[string]*jsonschema.Schema{}}
}

// schema compiles "tei.json#/components/schemas/EmbedResponse" and the like.
func (s *specSchemas) schema(t *testing.T, ref string) *jsonschema.Schema {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.m[ref]; ok {
		return sc
	}
	sc, err := s.c.Compile(ref)
	if err != nil {
		t.Fatalf("compiling %s: %v", ref, err)
	}
	s.m[ref] = sc
	return sc
}

func (s *specSchemas) validate(t *testing.T, ref string, body []byte, what string) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: not JSON: %v: %s", what, err, body)
		return
	}
	if err := s.schema(t, ref).Validate(v); err != nil {
		t.Errorf("%s does not conform to %s: %v\nbody: %s", what, ref, err, clipTo(string(body), 600))
	}
}

const (
	tei    = "tei.json#/components/schemas/"
	openai = "openai.json#/$defs/"
)

// specCase is one request and the schemas its request and answer must
// conform to.
type specCase struct {
	method, path, body string
	// request is the spec's request schema the body is an instance of
	// ("" for none: a deliberately invalid request, or a route without one).
	request []string
	code    int
	// response lists the schemas of the answer.
	response []string
}

func TestWireFormatsConformToSpecs(t *testing.T) {
	t.Parallel()
	sc := loadSchemas(t)
	s, _ := testServer(t, func(c *Config) { c.MaxClientBatch = 4 })
	if _, err := s.Heads().Put("sentiment", logitHead{newFakeHead("negative", "positive")}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("word ", 40)
	tooMany := `["a", "b", "c", "d", "e"]`
	teiErr := []string{tei + "ErrorResponse"}
	oaiErr := []string{tei + "OpenAICompatErrorResponse", openai + "error"}
	embed, predict, tokenize := []string{tei + "EmbedRequest"}, []string{tei + "PredictRequest"}, []string{tei + "TokenizeRequest"}
	oaiReq := []string{tei + "OpenAICompatRequest", openai + "request"}
	embedOK, predictOK, oaiOK := []string{tei + "EmbedResponse"}, []string{tei + "PredictResponse"}, []string{tei + "OpenAICompatResponse", openai + "response"}
	cases := []specCase{
		// /embed: every variant of Input, and every option.
		{"POST", "/embed", `{"inputs": "What is Deep Learning?"}`, embed, 200, embedOK},
		{"POST", "/embed", `{"inputs": ["a text", "another one"]}`, embed, 200, embedOK},
		{"POST", "/embed", `{"inputs": [101, 1054, 102]}`, embed, 200, embedOK},
		{"POST", "/embed", `{"inputs": [[101, 1054, 102], [101, 102, 7]]}`, embed, 200, embedOK},
		{"POST", "/embed", `{"inputs": ["a text", [101, 1054, 102]]}`, embed, 200, embedOK},
		{"POST", "/embed", `{"inputs": "a text", "normalize": false, "truncate": true, "truncation_direction": "Left", "dimensions": 8}`, embed, 200, embedOK},
		{"POST", "/embed", `{"inputs": "` + long + `", "truncate": null, "truncation_direction": "Right", "dimensions": null, "prompt_name": null}`, embed, 200, embedOK},
		{"POST", "/embed", `{"inputs": "` + long + `", "truncate": false}`, embed, 413, teiErr},
		{"POST", "/embed", `{"inputs": []}`, nil, 400, teiErr}, // [] matches both of Input's variants: not a valid request
		{"POST", "/embed", `{"inputs": ` + tooMany + `}`, embed, 413, teiErr},
		{"POST", "/embed", `{"inputs": "a", "dimensions": 0}`, embed, 422, teiErr},
		{"POST", "/embed", `{"inputs": "a", "prompt_name": "query"}`, embed, 422, teiErr},
		{"POST", "/embed", `{"inputs": [5000]}`, embed, 422, teiErr},
		{"POST", "/embed", `{"inputs": 5}`, nil, 422, teiErr},
		{"POST", "/embed", `{"inputs": "a"`, nil, 400, teiErr},
		{"POST", "/embed", `{}`, nil, 422, teiErr},
		// /predict: a text, a pair, a batch of both kinds, raw scores.
		{"POST", "/predict", `{"inputs": "What is Deep Learning?"}`, predict, 200, predictOK},
		{"POST", "/predict", `{"inputs": [["a text"], ["another"]], "raw_scores": true, "truncate": true}`, predict, 200, predictOK},
		{"POST", "/predict", `{"inputs": "a", "truncation_direction": "Left", "truncate": null}`, predict, 200, predictOK},
		{"POST", "/predict", `{"inputs": ["a text", "a pair"]}`, predict, 422, teiErr},
		{"POST", "/predict", `{"inputs": [["a"], ["b", "c"]]}`, predict, 422, teiErr},
		{"POST", "/predict", `{"inputs": []}`, nil, 400, teiErr},
		// /tokenize.
		{"POST", "/tokenize", `{"inputs": "Hello, World!"}`, tokenize, 200, []string{tei + "TokenizeResponse"}},
		{"POST", "/tokenize", `{"inputs": ["a b", "Crème brûlée"], "add_special_tokens": false, "prompt_name": null}`, tokenize, 200, []string{tei + "TokenizeResponse"}},
		{"POST", "/tokenize", `{"inputs": "a", "prompt_name": "query"}`, tokenize, 422, teiErr},
		{"POST", "/tokenize", `{"inputs": []}`, tokenize, 400, teiErr},
		{"POST", "/tokenize", `{"inputs": ` + tooMany + `}`, tokenize, 413, teiErr},
		// OpenAI, at /v1/embeddings and /embeddings.
		{"POST", "/v1/embeddings", `{"input": "a text", "model": "default"}`, oaiReq, 200, oaiOK},
		{"POST", "/embeddings", `{"input": ["a", "b"], "model": "default", "encoding_format": "base64"}`, oaiReq, 200, oaiOK},
		{"POST", "/v1/embeddings", `{"input": [101, 1054, 102], "model": "m", "encoding_format": "float", "dimensions": 6, "user": "u"}`, oaiReq, 200, oaiOK},
		{"POST", "/v1/embeddings", `{"input": [[101, 1054, 102], [101, 102]], "model": "m"}`, oaiReq, 200, oaiOK},
		{"POST", "/v1/embeddings", `{"input": "", "model": "m"}`, oaiReq, 400, oaiErr},
		{"POST", "/v1/embeddings", `{"input": ` + tooMany + `, "model": "m"}`, oaiReq, 400, oaiErr},
		{"POST", "/v1/embeddings", `{"input": "a", "model": "m", "dimensions": 99}`, oaiReq, 400, oaiErr},
		{"POST", "/v1/embeddings", `{"input": "a", "encoding_format": "hex"}`, nil, 400, oaiErr},
		{"POST", "/v1/embeddings", `{"input": "a"`, nil, 400, oaiErr},
		// Hugging Face Inference and TEI's root: PredictResponse's batch form.
		{"POST", "/", `{"inputs": "a text"}`, []string{tei + "PredictRequest", tei + "EmbedRequest"}, 200, predictOK},
		{"POST", "/heads/sentiment", `{"inputs": ["a", "b"], "parameters": {"top_k": 1}}`, nil, 200, predictOK},
		{"POST", "/heads/nope", `{"inputs": "a"}`, nil, 404, teiErr},
		// /info, /health.
		{"GET", "/info", "", nil, 200, []string{tei + "Info"}},
		{"GET", "/nope", "", nil, 404, teiErr},
	}
	for _, tc := range cases {
		what := fmt.Sprintf("%s %s %s", tc.method, tc.path, clipTo(tc.body, 80))
		for _, ref := range tc.request {
			sc.validate(t, ref, []byte(tc.body), "request "+what)
		}
		var body any
		if tc.body != "" {
			body = tc.body
		}
		rec := call(t, s.Handler(), tc.method, tc.path, body)
		if rec.Code != tc.code {
			t.Errorf("%s: status %d, want %d: %s", what, rec.Code, tc.code, rec.Body)
			continue
		}
		for _, ref := range tc.response {
			sc.validate(t, ref, rec.Body.Bytes(), fmt.Sprintf("%d answer of %s", rec.Code, what))
		}
	}

	// The same routes without a model: 503, and /health's 503 body.
	loading, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer loading.Close()
	for _, path := range []string{"/embed", "/predict", "/tokenize"} {
		rec := call(t, loading.Handler(), "POST", path, `{"inputs": "a"}`)
		if rec.Code != 503 {
			t.Errorf("%s while loading: %d", path, rec.Code)
		}
		sc.validate(t, tei+"ErrorResponse", rec.Body.Bytes(), path+" while loading")
	}
	rec := call(t, loading.Handler(), "POST", "/v1/embeddings", `{"input": "a"}`)
	for _, ref := range oaiErr {
		sc.validate(t, ref, rec.Body.Bytes(), "/v1/embeddings while loading")
	}
	_ = httptest.NewRecorder
}
