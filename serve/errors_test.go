package serve

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrors checks every documented error: status, error_type, and that
// the message says something useful.
func TestErrors(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, func(c *Config) {
		c.MaxClientBatch = 3
		c.PayloadLimit = 512
		c.AdminToken = "admin-secret"
		c.Store = newMemStore()
		c.Train = (&fakeTrainer{epochs: 1}).train
		c.UploadLimit = 300
	})
	_ = emb
	if _, err := s.Heads().Put("sentiment", newFakeHead("negative", "positive")); err != nil {
		t.Fatal(err)
	}
	admin := []string{"Authorization", "Bearer admin-secret"}
	long := strings.Repeat("word ", 40)
	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		code               int
		typ                ErrorType
		msg                string
	}{
		{"malformed JSON", "POST", "/v1/classify", `{"inputs": "a"`, nil, 400, ErrValidation, "malformed JSON"},
		{"not an object", "POST", "/v1/classify", `[1,2]`, nil, 422, ErrValidation, "JSON object"},
		{"two values", "POST", "/v1/classify", `{"inputs":"a"} {}`, nil, 400, ErrValidation, "more than one"},
		{"empty body", "POST", "/v1/classify", ``, nil, 400, ErrValidation, "empty"},
		{"empty inputs", "POST", "/v1/classify", `{"inputs": []}`, nil, 400, ErrEmpty, "empty"},
		{"empty string", "POST", "/embed", `{"inputs": ["a", ""]}`, nil, 400, ErrEmpty, "input 1 is an empty string"},
		{"empty string openai", "POST", "/v1/embeddings", `{"input": ""}`, nil, 400, ErrEmpty, "input 0 is an empty string"},
		{"empty ids", "POST", "/embed", `{"inputs": [[]]}`, nil, 400, ErrEmpty, "empty list of token ids"},
		{"token ids on classify", "POST", "/v1/classify", `{"inputs": [1, 2]}`, nil, 422, ErrValidation, "not token ids"},
		{"negative token id", "POST", "/embed", `{"inputs": [101, -1]}`, nil, 422, ErrValidation, "token id 1 must be a whole number"},
		{"token id outside the vocabulary", "POST", "/v1/embeddings", `{"input": [[101, 5000]]}`, nil, 422, ErrValidation, "outside the model's vocabulary of 2000"},
		{"missing inputs", "POST", "/v1/classify", `{"head": "sentiment"}`, nil, 422, ErrValidation, "missing"},
		{"inputs an object", "POST", "/embed", `{"inputs": {}}`, nil, 422, ErrValidation, "an object"},
		{"too many inputs", "POST", "/v1/classify", `{"inputs": ["a","b","c","d"]}`, nil, 413, ErrValidation, "--max-client-batch"},
		{"body over limit", "POST", "/embed", `{"inputs": "` + strings.Repeat("x", 600) + `"}`, nil, 413, ErrValidation, "--payload-limit"},
		{"unknown head", "POST", "/v1/classify", `{"inputs": "a", "head": "topic"}`, nil, 404, ErrValidation, `"sentiment"`},
		{"unknown head in heads", "POST", "/v1/classify", `{"inputs": "a", "heads": ["sentiment", "nope"]}`, nil, 404, ErrValidation, `unknown head "nope"`},
		{"head and heads", "POST", "/v1/classify", `{"inputs": "a", "head": "x", "heads": ["y"]}`, nil, 400, ErrValidation, "not both"},
		{"top_k negative", "POST", "/v1/classify", `{"inputs": "a", "top_k": -1}`, nil, 422, ErrValidation, "top_k must be at least 0"},
		{"top_k a string", "POST", "/v1/classify", `{"inputs": "a", "top_k": "all"}`, nil, 422, ErrValidation, "top_k must be a whole number or null"},
		{"null input classify", "POST", "/v1/classify", `{"inputs": ["a", null]}`, nil, 422, ErrValidation, "input 1 (counting from 0) must be a string or a list of token ids, got null"},
		{"null input embed", "POST", "/embed", `{"inputs": [null, "a"]}`, nil, 422, ErrValidation, "input 0 (counting from 0) must be a string or a list of token ids, got null"},
		{"null input openai", "POST", "/v1/embeddings", `{"input": ["a", "b", null]}`, nil, 422, ErrValidation, "input 2 (counting from 0) must be a string or a list of token ids, got null"},
		{"null input tokenize", "POST", "/tokenize", `{"inputs": [null]}`, nil, 422, ErrValidation, "input 0 (counting from 0) must be a string or a list of token ids, got null"},
		{"field of the wrong type", "POST", "/v1/classify", `{"inputs": "a", "heads": "x"}`, nil, 422, ErrValidation, `field "heads" must be a list, got a string`},
		{"truncate not a bool", "POST", "/embed", `{"inputs": "a", "truncate": 1}`, nil, 422, ErrValidation, `field "truncate" must be true or false`},
		{"train examples not a list", "POST", "/v1/heads/x/train", `{"examples": "a,b"}`, admin, 422, ErrValidation, `field "examples" must be a list of {"text": ..., "label": ...} objects, got a string`},
		{"train option of the wrong type", "POST", "/v1/heads/x/train", `{"examples": [{"text": "a", "label": "b"}], "epochs": "5"}`, admin, 422, ErrValidation, `"epochs" must be a whole number, got a string`},
		{"wrong content type", "POST", "/v1/classify", `{"inputs": "a"}`, []string{"Content-Type", "text/plain"}, 415, ErrValidation, "application/json"},
		{"no content type", "POST", "/embed", `{"inputs": "a"}`, []string{"Content-Type", ""}, 415, ErrValidation, "application/json"},
		{"too long without truncate", "POST", "/embed", `{"inputs": "` + long + `", "truncate": false}`, nil, 413, ErrValidation, "truncate"},
		{"too many ids without truncate", "POST", "/embed", `{"inputs": [` + strings.Repeat("7,", 20) + `7], "truncate": false}`, nil, 413, ErrValidation, "21 token ids"},
		{"truncation direction", "POST", "/embed", `{"inputs": "a", "truncation_direction": "up"}`, nil, 422, ErrValidation, `"Left" or "Right"`},
		{"tokenize prompt name", "POST", "/tokenize", `{"inputs": "a", "prompt_name": "query"}`, nil, 422, ErrValidation, "prompt"},
		{"tokenize token ids", "POST", "/tokenize", `{"inputs": [[1, 2]]}`, nil, 422, ErrValidation, "not token ids"},
		{"dimensions zero", "POST", "/embed", `{"inputs": "a", "dimensions": 0}`, nil, 422, ErrValidation, "between 1 and the model's 24"},
		{"function to apply", "POST", "/v1/classify", `{"inputs": "a", "function_to_apply": "relu"}`, nil, 422, ErrValidation, "softmax"},
		{"function to apply in parameters", "POST", "/heads/sentiment", `{"inputs": "a", "parameters": {"function_to_apply": "tanh"}}`, nil, 422, ErrValidation, "sigmoid"},
		{"unknown head endpoint", "POST", "/heads/topic", `{"inputs": "a"}`, nil, 404, ErrValidation, `"sentiment"`},
		{"predict pair", "POST", "/predict", `{"inputs": ["a", "b"]}`, nil, 422, ErrValidation, "sentence pair"},
		{"predict bad batch", "POST", "/predict", `{"inputs": [["a", "b", "c"]]}`, nil, 422, ErrValidation, "a list of 3"},
		{"predict empty", "POST", "/predict", `{"inputs": []}`, nil, 400, ErrEmpty, "empty"},
		{"prompt name", "POST", "/embed", `{"inputs": "a", "prompt_name": "query"}`, nil, 422, ErrValidation, "prompt"},
		{"openai bad format", "POST", "/v1/embeddings", `{"input": "a", "encoding_format": "hex"}`, nil, 400, ErrValidation, "base64"},
		{"openai dimensions", "POST", "/v1/embeddings", `{"input": "a", "dimensions": 99}`, nil, 422, ErrValidation, "24"},
		{"openai too long", "POST", "/v1/embeddings", `{"input": "` + long + `", "truncate": false}`, nil, 413, ErrValidation, "maximum"},
		{"tokenize empty", "POST", "/tokenize", `{"inputs": []}`, nil, 400, ErrEmpty, "empty"},
		{"no route", "GET", "/nope", nil, nil, 404, ErrValidation, "Not Found"},
		{"wrong method", "GET", "/v1/classify", nil, nil, 405, ErrValidation, "Method Not Allowed"},
		{"bad head name", "GET", "/v1/heads/a..b", nil, nil, 400, ErrValidation, "invalid head name"},
		{"escaped slash in head name", "DELETE", "/v1/heads/..%2Fetc", nil, admin, 400, ErrValidation, "invalid head name"},
		{"unknown head detail", "GET", "/v1/heads/topic", nil, nil, 404, ErrValidation, "unknown head"},
		{"delete unknown head", "DELETE", "/v1/heads/topic", nil, admin, 404, ErrValidation, "unknown head"},
		{"admin without token", "DELETE", "/v1/heads/sentiment", nil, nil, 401, ErrValidation, "Authorization: Bearer"},
		{"admin with wrong token", "DELETE", "/v1/heads/sentiment", nil, []string{"Authorization", "Bearer nope-nope"}, 401, ErrValidation, "wrong admin token"},
		{"admin with basic auth", "POST", "/v1/heads/x/train", nil, []string{"Authorization", "Basic YTpi"}, 401, ErrValidation, "missing"},
		{"unknown job", "GET", "/v1/jobs/job-0", nil, nil, 404, ErrValidation, "unknown job"},
		{"cancel unknown job", "DELETE", "/v1/jobs/job-0", nil, admin, 404, ErrValidation, "unknown job"},
		{"train bad name", "POST", "/v1/heads/.x/train", "text,label\na,b\n", admin, 400, ErrValidation, "invalid head name"},
		{"train content type", "POST", "/v1/heads/x/train", "<xml/>", append([]string{"Content-Type", "application/xml"}, admin...), 415, ErrValidation, "text/csv"},
		{"train one class", "POST", "/v1/heads/x/train", "text,label\na,pos\nb,pos\n", append([]string{"Content-Type", "text/csv"}, admin...), 422, ErrValidation, "at least 2"},
		{"train few per class", "POST", "/v1/heads/x/train", "text,label\na,pos\nb,neg\nc,neg\n", append([]string{"Content-Type", "text/csv"}, admin...), 422, ErrValidation, `"pos" (1)`},
		{"train missing column", "POST", "/v1/heads/x/train?text_col=body", "text,label\na,pos\n", append([]string{"Content-Type", "text/csv"}, admin...), 400, ErrValidation, `"body"`},
		{"train ragged", "POST", "/v1/heads/x/train", "text,label\na,pos\nb\n", append([]string{"Content-Type", "text/csv"}, admin...), 400, ErrValidation, "line 3"},
		{"train unknown option", "POST", "/v1/heads/x/train?epoch=3", "text,label\na,pos\n", append([]string{"Content-Type", "text/csv"}, admin...), 400, ErrValidation, `"epoch"`},
		{"train bad option", "POST", "/v1/heads/x/train?epochs=-1", "text,label\na,pos\n", append([]string{"Content-Type", "text/csv"}, admin...), 400, ErrValidation, "epochs"},
		{"train upload limit", "POST", "/v1/heads/x/train", "text,label\n" + strings.Repeat("some text,pos\n", 40), append([]string{"Content-Type", "text/csv"}, admin...), 413, ErrValidation, "--upload-limit"},
		{"train JSON no examples", "POST", "/v1/heads/x/train", `{"examples": []}`, admin, 400, ErrValidation, "examples"},
		{"train JSON bad label", "POST", "/v1/heads/x/train", `{"examples": [{"text": "a", "label": {}}]}`, admin, 400, ErrValidation, "label"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, s.Handler(), tc.method, tc.path, tc.body, tc.headers...)
			if want := wantCode(tc.path, tc.code); rec.Code != want {
				t.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			msg, typ := apiError(t, tc.path, rec)
			if typ != tc.typ {
				t.Errorf("error_type %q, want %q", typ, tc.typ)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not mention %q", msg, tc.msg)
			}
			// The API's own words, never Go's.
			for _, goism := range []string{"serve.", "head.", "[]", "map[", "TrainOptions", "TrainConfig", "float64", "int64", "struct"} {
				if strings.Contains(msg, goism) {
					t.Errorf("error %q shows Go's %q", msg, goism)
				}
			}
			if tc.code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, func(c *Config) { c.Store = newMemStore(); c.Train = (&fakeTrainer{}).train })
	s.Heads().Put("sentiment", newFakeHead("neg", "pos"))
	for _, r := range []struct{ method, path string }{
		{"DELETE", "/v1/heads/sentiment"}, {"POST", "/v1/heads/sentiment/train"}, {"DELETE", "/v1/jobs/job-1"},
	} {
		// Even a request that carries some token is refused: the route is off.
		rec := call(t, s.Handler(), r.method, r.path, nil, "Authorization", "Bearer anything-at-all")
		if rec.Code != http.StatusForbidden {
			t.Fatalf("%s %s: status %d, want 403: %s", r.method, r.path, rec.Code, rec.Body)
		}
		if msg, typ := apiError(t, r.path, rec); typ != ErrValidation || !strings.Contains(msg, "--admin-token") {
			t.Errorf("%s %s: %s %s", r.method, r.path, typ, msg)
		}
	}
	if _, ok := s.Heads().Get("sentiment"); !ok {
		t.Fatal("a disabled admin route deleted the head")
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, func(c *Config) { c.APIKey = "read-key-1"; c.AdminToken = "admin-key-1" })
	s.Heads().Put("sentiment", newFakeHead("neg", "pos"))
	body := `{"inputs": "good"}`
	cases := []struct {
		name, method, path string
		body               any
		auth               string
		code               int
	}{
		{"classify without key", "POST", "/v1/classify", body, "", 401},
		{"classify wrong key", "POST", "/v1/classify", body, "Bearer nope", 401},
		{"classify with key", "POST", "/v1/classify", body, "Bearer read-key-1", 200},
		{"classify with admin token", "POST", "/v1/classify", body, "Bearer admin-key-1", 200},
		{"embed without key", "POST", "/embed", body, "", 401},
		{"info without key", "GET", "/info", nil, "", 401},
		{"heads without key", "GET", "/v1/heads", nil, "", 401},
		{"jobs without key", "GET", "/v1/jobs", nil, "", 401},
		{"health is open", "GET", "/health", nil, "", 200},
		{"ready is open", "GET", "/ready", nil, "", 200},
		{"metrics is open", "GET", "/metrics", nil, "", 200},
		{"page is open", "GET", "/", nil, "", 200},
		{"api key is not admin", "DELETE", "/v1/heads/sentiment", nil, "Bearer read-key-1", 401},
	}
	for _, tc := range cases {
		rec := call(t, s.Handler(), tc.method, tc.path, tc.body, "Authorization", tc.auth)
		if rec.Code != tc.code {
			t.Errorf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.code, rec.Body)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{AdminToken: "short"},
		{AdminToken: "same-token", APIKey: "same-token"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
}

func TestModelNotLoaded(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Heads().Put("sentiment", newFakeHead("neg", "pos"))
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/classify", `{"inputs": "a"}`},
		{"POST", "/embed", `{"inputs": "a"}`},
		{"POST", "/tokenize", `{"inputs": "a"}`},
		{"GET", "/ready", ""},
	} {
		var body any
		if r.body != "" {
			body = r.body
		}
		rec := call(t, s.Handler(), r.method, r.path, body)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: status %d (Retry-After %q), want 503 with Retry-After", r.path, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	if rec := call(t, s.Handler(), "GET", "/health", nil); rec.Code != 200 {
		t.Errorf("/health while loading: %d", rec.Code)
	}
	if err := s.SetEmbedder(newFakeEmbedder()); err != nil {
		t.Fatal(err)
	}
	if rec := call(t, s.Handler(), "GET", "/ready", nil); rec.Code != 200 {
		t.Errorf("/ready after SetEmbedder: %d", rec.Code)
	}
}

func TestBackendErrors(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, nil)
	bad := newFakeHead("a", "b")
	bad.err = errors.New("weights are NaN")
	s.Heads().Put("bad", bad)
	wrongDim := newFakeHead("a", "b")
	wrongDim.dim = 7
	s.Heads().Put("wrongdim", wrongDim)

	// TEI answers 424 Failed Dependency when its model fails.
	rec := call(t, s.Handler(), "POST", "/v1/classify", `{"inputs": "x", "head": "bad"}`)
	if msg, typ := apiError(t, "/v1/classify", rec); rec.Code != 424 || typ != ErrBackend || !strings.Contains(msg, "NaN") {
		t.Errorf("failing head: %d %s %s", rec.Code, typ, msg)
	}
	rec = call(t, s.Handler(), "POST", "/heads/wrongdim", `{"inputs": "x"}`)
	if msg, _ := apiError(t, "/heads/wrongdim", rec); rec.Code != 424 || !strings.Contains(msg, "7-dimensional") {
		t.Errorf("wrong-dimension head: %d %s", rec.Code, msg)
	}
	emb.setErr(errors.New("onnxruntime: out of memory"))
	rec = call(t, s.Handler(), "POST", "/embed", `{"inputs": "x"}`)
	if msg, typ := apiError(t, "/embed", rec); rec.Code != 424 || typ != ErrBackend || !strings.Contains(msg, "out of memory") {
		t.Errorf("failing encoder: %d %s %s", rec.Code, typ, msg)
	}
}

func TestOverloadIs429AtOnce(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, func(c *Config) { c.MaxConcurrentRequests = 2 })
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	emb.onCall = func([]string) { entered <- struct{}{} }
	emb.setBlock(release)
	done := make(chan int, 2)
	for i := range 2 {
		go func() {
			done <- call(t, s.Handler(), "POST", "/embed", map[string]any{"inputs": []string{"held " + string(rune('a'+i))}}).Code
		}()
	}
	<-entered // the first is in the encoder, the second holds the other slot
	waitFor(t, func() bool { return s.limiter.InFlight() == 2 })
	start := time.Now()
	rec := call(t, s.Handler(), "POST", "/embed", `{"inputs": "one too many"}`)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", rec.Code, rec.Body)
	}
	if time.Since(start) > time.Second {
		t.Errorf("429 took %s; it must be immediate", time.Since(start))
	}
	if rec.Header().Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", rec.Header().Get("Retry-After"))
	}
	if b := decode[ErrorBody](t, rec); b.ErrorType != ErrOverloaded {
		t.Errorf("error_type %q", b.ErrorType)
	}
	close(release)
	for range 2 {
		if code := <-done; code != 200 {
			t.Errorf("held request ended %d", code)
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, func(c *Config) { c.RequestTimeout = 150 * time.Millisecond; c.MaxBatchRequests = 1 })
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	emb.onCall = func([]string) { entered <- struct{}{} }
	emb.setBlock(release)

	first := make(chan *ErrorBody, 1)
	var firstCode int
	go func() {
		rec := call(t, s.Handler(), "POST", "/embed", `{"inputs": "in the encoder"}`)
		firstCode = rec.Code
		b := decode[ErrorBody](t, rec)
		first <- &b
	}()
	<-entered
	rec := call(t, s.Handler(), "POST", "/embed", `{"inputs": "still queued"}`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("queued request: status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if b := decode[ErrorBody](t, rec); !strings.Contains(b.Error, "timed out") || b.ErrorType != ErrOverloaded {
		t.Errorf("queued request: %+v", b)
	}
	b := <-first
	if firstCode != http.StatusGatewayTimeout || b.ErrorType != ErrBackend || !strings.Contains(b.Error, "timed out") {
		t.Errorf("request in the encoder: %d %+v, want 504 backend", firstCode, b)
	}
	// Let the encoder go; a later request proves the queue was processed.
	emb.setBlock(nil)
	close(release)
	if rec := call(t, s.Handler(), "POST", "/embed", `{"inputs": "after"}`); rec.Code != 200 {
		t.Fatalf("request after the timeouts: %d %s", rec.Code, rec.Body)
	}
	if emb.embeddedTexts()["still queued"] {
		t.Error("the timed-out queued request still reached the encoder")
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
