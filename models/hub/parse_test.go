package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

func TestHTTPErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		code, msg string
		haveToken bool
		want      error
		says      string
	}{
		{401, "GatedRepo", "", false, ErrUnauthorized, "no token was found"},
		{403, "GatedRepo", "", true, ErrUnauthorized, "accepted the model's conditions"},
		{401, "", "", false, ErrUnauthorized, "set HF_TOKEN"},
		{403, "", "", false, ErrUnauthorized, "set HF_TOKEN"},
		{401, "RepoNotFound", "", false, ErrUnauthorized, "does not exist"},
		{404, "RepoNotFound", "", true, ErrNotFound, "no such repo or revision"},
		{404, "RevisionNotFound", "", false, ErrNotFound, "--revision"},
		{404, "EntryNotFound", "", false, ErrNotFound, "no such repo or revision"},
		{404, "", "", false, ErrNotFound, "no such repo or revision"},
		{403, "", "Access to this resource is disabled.", true, ErrDisabled, "no token changes that"},
		{429, "", "", false, ErrRateLimited, "429"},
	}
	for _, tc := range tests {
		p := &puller{endpointHost: "huggingface.co"}
		if tc.haveToken {
			p.token = token{"hf_x", "$HF_TOKEN"}
		}
		resp := &http.Response{StatusCode: tc.status, Status: fmt.Sprint(tc.status, " ", http.StatusText(tc.status)), Header: http.Header{}}
		if tc.code != "" {
			resp.Header.Set("X-Error-Code", tc.code)
		}
		if tc.msg != "" {
			resp.Header.Set("X-Error-Message", tc.msg)
		}
		err := p.httpError(resp)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%d %s %q: got %v, want %v saying %q", tc.status, tc.code, tc.msg, err, tc.want, tc.says)
		}
		if tc.want == ErrDisabled && errors.Is(err, ErrUnauthorized) {
			t.Errorf("a disabled repo is also ErrUnauthorized: %v", err)
		}
	}
	p := &puller{endpointHost: "huggingface.co"}
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		err := p.httpError(&http.Response{StatusCode: status, Header: http.Header{}})
		var se *statusError
		if !errors.As(err, &se) || !se.retryable() {
			t.Errorf("%d: got %v, want a retryable statusError", status, err)
		}
	}
	for _, status := range []int{400, 501} {
		if err := p.httpError(&http.Response{StatusCode: status, Header: http.Header{}}); retryable(t.Context(), err) {
			t.Errorf("%d is retried: %v", status, err)
		}
	}
	cdn := &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Header: http.Header{},
		Request: &http.Request{URL: &url.URL{Host: "cdn-lfs.huggingface.co"}}}
	if err := p.httpError(cdn); err.Error() != "cdn-lfs.huggingface.co answered 500 Internal Server Error" {
		t.Errorf("a CDN's error reads %q, want it to name the CDN", err)
	}
}

func TestContentRangeStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"bytes 100-999/1000", 100, true},
		{"bytes 0-0/1", 0, true},
		{"bytes 5-9/*", 5, true},
		{"bytes */1000", 0, false},
		{"items 1-2/3", 0, false},
		{"bytes -5-9/10", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, ok := contentRangeStart(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("contentRangeStart(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNormalizeETag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`"abc"`:    "abc",
		`W/"abc"`:  "abc",
		` "abc" `:  "abc",
		`abc`:      "abc",
		`W/"a-b"`:  "a-b",
		`""`:       "",
		`"W/x"`:    "W/x",
		`W/"W/x"`:  "W/x",
		"\"12\"\t": "12",
	} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckRepoPath(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"config.json", "onnx/model.onnx", "1_Pooling/config.json", "a..b/c"} {
		if err := checkRepoPath(p); err != nil {
			t.Errorf("checkRepoPath(%q) = %v, want ok", p, err)
		}
	}
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", `a\b`, "./a", "a/", "a\x00b"} {
		if err := checkRepoPath(p); err == nil {
			t.Errorf("checkRepoPath(%q) accepted an unsafe path", p)
		}
	}
}

func TestValidateRepo(t *testing.T) {
	t.Parallel()
	for _, r := range []string{"google-bert/bert-base-chinese", "sentence-transformers/all-MiniLM-L6-v2", "bert-base-uncased", "a/b.c_d"} {
		if err := ValidateRepo(r); err != nil {
			t.Errorf("ValidateRepo(%q) = %v", r, err)
		}
	}
	for _, r := range []string{"", "a/b/c", "/a", "a/", "../x", "a/..", "a b/c", "https://huggingface.co/a/b", "a/b--c"} {
		if err := ValidateRepo(r); err == nil {
			t.Errorf("ValidateRepo(%q) accepted it", r)
		}
	}
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func TestMakePlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]bool
		route string
		get   []string
		index string
		err   string
	}{
		{
			name:  "weights win over an onnx export",
			files: set("onnx/model.onnx", "model.safetensors", "config.json", "tokenizer.json", "1_Pooling/config.json", "README.md", "onnx/model_quantized.onnx"),
			route: routeSafetensors,
			get:   []string{"config.json", "tokenizer.json", "1_Pooling/config.json", "model.safetensors"},
		},
		{
			name:  "onnx export when the weights lack a tokenizer-side config",
			files: set("onnx/model.onnx", "model.safetensors", "tokenizer.json"),
			route: routeONNX,
			get:   []string{"tokenizer.json", "onnx/model.onnx"},
		},
		{
			name:  "onnx with external data",
			files: set("onnx/model.onnx", "onnx/model.onnx_data", "vocab.txt"),
			route: routeONNX,
			get:   []string{"vocab.txt", "onnx/model.onnx", "onnx/model.onnx_data"},
		},
		{
			name:  "top-level model.onnx",
			files: set("model.onnx", "tokenizer.json"),
			route: routeONNX,
			get:   []string{"tokenizer.json", "model.onnx"},
		},
		{
			name:  "single safetensors",
			files: set("config.json", "model.safetensors", "vocab.txt", "pytorch_model.bin", "tf_model.h5"),
			route: routeSafetensors,
			get:   []string{"config.json", "vocab.txt", "model.safetensors"},
		},
		{
			name:  "sharded safetensors",
			files: set("config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "tokenizer.json"),
			route: routeSafetensors,
			get:   []string{"config.json", "tokenizer.json", "model.safetensors.index.json"},
			index: "model.safetensors.index.json",
		},
		{name: "pickle only", files: set("config.json", "pytorch_model.bin", "vocab.txt"), err: "has only pytorch_model.bin"},
		{name: "no weights", files: set("config.json", "vocab.txt"), err: "neither onnx/model.onnx nor model.safetensors"},
		{name: "no config", files: set("model.safetensors", "vocab.txt"), err: "no config.json"},
		{name: "no tokenizer", files: set("config.json", "model.safetensors"), err: "neither tokenizer.json nor vocab.txt"},
		{name: "onnx without tokenizer", files: set("onnx/model.onnx", "config.json"), err: "neither tokenizer.json nor vocab.txt"},
	}
	for _, tc := range tests {
		pl, err := makePlan("x/y", tc.files)
		if tc.err != "" {
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want ErrUnsupported saying %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if pl.route != tc.route || strings.Join(pl.files, ",") != strings.Join(tc.get, ",") || pl.index != tc.index {
			t.Errorf("%s: plan %+v, want route %s files %v index %q", tc.name, pl, tc.route, tc.get, tc.index)
		}
	}
}

func TestParseShardIndex(t *testing.T) {
	t.Parallel()
	files := set("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
	good := `{"metadata":{"total_size":10},"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}`
	shards, err := parseShardIndex([]byte(good), files)
	if err != nil || strings.Join(shards, ",") != "model-00001-of-00002.safetensors,model-00002-of-00002.safetensors" {
		t.Errorf("parseShardIndex = %v, %v", shards, err)
	}
	for _, bad := range []string{
		`{"weight_map":{}}`,
		`{"weight_map":{"a":"model-00003-of-00002.safetensors"}}`,
		`{"weight_map":{"a":"../model-00001-of-00002.safetensors"}}`,
		`{"weight_map":{"a":"pytorch_model.bin"}}`,
		`not json`,
	} {
		if _, err := parseShardIndex([]byte(bad), set("pytorch_model.bin", "model-00001-of-00002.safetensors")); err == nil {
			t.Errorf("parseShardIndex(%s) accepted it", bad)
		}
	}
}

func TestParseRepoInfo(t *testing.T) {
	t.Parallel()
	ri, err := parseRepoInfo(strings.NewReader(`{"id":"a/b","sha":"0123456789abcdef0123456789abcdef01234567",
		"siblings":[{"rfilename":"config.json"},{"rfilename":"1_Pooling/config.json"}],
		"cardData":{"license":["mit","apache-2.0"]},"tags":["license:other"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f := ri.files(); !f["config.json"] || !f["1_Pooling/config.json"] || len(f) != 2 {
		t.Errorf("files = %v", f)
	}
	if l := ri.license(); l != "mit, apache-2.0" {
		t.Errorf("license = %q", l)
	}
	ri, err = parseRepoInfo(strings.NewReader(`{"siblings":[],"tags":["bert","license:apache-2.0"]}`))
	if err != nil || ri.license() != "apache-2.0" {
		t.Errorf("license from tags: %v, %v", ri, err)
	}
	for _, bad := range []string{`<html>`, `{"id":"a/b"}`, `{"siblings":[{"rfilename":"../../etc/passwd"}]}`} {
		if _, err := parseRepoInfo(strings.NewReader(bad)); err == nil {
			t.Errorf("parseRepoInfo(%s) accepted it", bad)
		}
	}
}

func FuzzParseRepoInfo(f *testing.F) {
	f.Add(`{"sha":"x","siblings":[{"rfilename":"a"}],"cardData":{"license":"mit"}}`)
	f.Add(`{"siblings":[{"rfilename":"a/../b"}]}`)
	f.Add(`{"siblings":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		ri, err := parseRepoInfo(strings.NewReader(s))
		if err != nil {
			return
		}
		_ = ri.license()
		for name := range ri.files() {
			if checkRepoPath(name) != nil {
				t.Fatalf("accepted unsafe name %q", name)
			}
		}
	})
}

func FuzzParseShardIndex(f *testing.F) {
	f.Add(`{"weight_map":{"a":"model-00001-of-00002.safetensors"}}`)
	f.Add(`{"weight_map":{"a":"/abs.safetensors"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		shards, err := parseShardIndex([]byte(s), set("model-00001-of-00002.safetensors", "x.safetensors"))
		if err != nil {
			return
		}
		for _, sh := range shards {
			if sh != "model-00001-of-00002.safetensors" && sh != "x.safetensors" {
				t.Fatalf("accepted shard %q not in the repo", sh)
			}
		}
	})
}

func FuzzContentRangeStart(f *testing.F) {
	f.Add("bytes 100-999/1000")
	f.Add("bytes */5")
	f.Fuzz(func(t *testing.T, s string) {
		if v, ok := contentRangeStart(s); ok && v < 0 {
			t.Fatalf("negative start %d from %q", v, s)
		}
	})
}

func TestIsUnreachable(t *testing.T) {
	t.Parallel()
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://huggingface.co/api/models/x/y", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&url.Error{Op: "Get", Err: &net.DNSError{Err: "no such host", Name: "huggingface.co", IsNotFound: true}}, true},
		{dial(syscall.ECONNREFUSED), true},
		{dial(syscall.ENETUNREACH), true},
		{dial(errors.New("i/o timeout")), true},
		{&url.Error{Op: "Get", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}, false},
		{io.ErrUnexpectedEOF, false},
		{errors.New("something else"), false},
	} {
		if got := isUnreachable(tc.err); got != tc.want {
			t.Errorf("isUnreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	err := unreachableError("https://huggingface.co", dial(syscall.ECONNREFUSED))
	if !errors.Is(err, ErrUnreachable) || !strings.HasPrefix(err.Error(), "the Hugging Face hub is unreachable at https://huggingface.co") {
		t.Errorf("unreachableError = %v", err)
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&url.Error{Op: "Get", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}, true},
		{io.ErrUnexpectedEOF, true},
		{errShort, true},
		{errStalled, true},
		{&statusError{status: 503}, true},
		{&statusError{status: 429}, true},
		{&statusError{status: 400}, false},
		{fmt.Errorf("x: %w", ErrChecksum), false},
		{fmt.Errorf("x: %w", ErrUnauthorized), false},
		{errors.New("disk full"), false},
	} {
		if got := retryable(t.Context(), tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if retryable(ctx, io.ErrUnexpectedEOF) {
		t.Error("retryable after cancellation")
	}
}
