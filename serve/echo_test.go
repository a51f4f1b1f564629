package serve

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTopKAllLabels: top_k 0 and null both return every label, as
// predict --top-k 0 and a Hugging Face pipeline's top_k=None do; absent
// returns one.
func TestTopKAllLabels(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	s.Heads().Put("topic", newFakeHead("a", "b", "c"))
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"inputs": "x"}`, 1},
		{`{"inputs": "x", "top_k": 0}`, 3},
		{`{"inputs": "x", "top_k": null}`, 3},
		{`{"inputs": "x", "top_k": 2}`, 2},
		{`{"inputs": "x", "top_k": 7}`, 3},
	} {
		rec := call(t, s.Handler(), "POST", "/v1/classify", tc.body)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.body, rec.Code, rec.Body)
		}
		if got := decode[[]LabelScore](t, rec); len(got) != tc.want {
			t.Errorf("%s: %d labels, want %d: %+v", tc.body, len(got), tc.want, got)
		}
	}
}

// lockedBuffer is a log sink safe for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEchoedValuesAreBounded: a huge value a client sends comes back in
// neither the error body nor the log beyond a bounded prefix, on any route.
func TestEchoedValuesAreBounded(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	s, _ := testServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.AdminToken = "admin-secret"
		c.Store = newMemStore()
		c.Train = (&fakeTrainer{epochs: 1}).train
		c.UploadLimit = 4 << 20
	})
	s.Heads().Put("sentiment", newFakeHead("neg", "pos"))
	huge := strings.Repeat("h", 1<<20)
	admin := []string{"Authorization", "Bearer admin-secret"}
	for _, tc := range []struct {
		method, path string
		body         any
		headers      []string
	}{
		{"POST", "/v1/classify", `{"inputs": "a", "head": "` + huge + `"}`, nil},
		{"POST", "/v1/classify", `{"inputs": "a", "heads": ["` + huge + `"]}`, nil},
		{"GET", "/v1/heads/" + huge, nil, nil},
		{"GET", "/v1/jobs/" + huge, nil, nil},
		{"POST", "/v1/classify", `{"inputs": "a"}`, []string{"Content-Type", huge}},
		{"POST", "/v1/heads/x/train?" + huge + "=1", "text,label\na,b\n", append([]string{"Content-Type", "text/csv"}, admin...)},
		{"POST", "/v1/heads/x/train", "text,label\na," + huge + "\n", append([]string{"Content-Type", "text/csv"}, admin...)},
	} {
		before := len(logs.String())
		rec := call(t, s.Handler(), tc.method, tc.path, tc.body, tc.headers...)
		if rec.Code < 400 {
			t.Fatalf("%s %.40s: status %d", tc.method, tc.path, rec.Code)
		}
		if n := rec.Body.Len(); n > 4096 {
			t.Errorf("%s %.40s: a %d-byte error body echoes the input: %.200s", tc.method, tc.path, n, rec.Body)
		}
		if n := len(logs.String()) - before; n > 8192 {
			t.Errorf("%s %.40s: %d bytes of log for one request", tc.method, tc.path, n)
		}
	}
}

// TestOverloadLogIsRateLimited: requests refused with 429 are counted in
// one line per interval, not logged one by one at info.
func TestOverloadLogIsRateLimited(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	block := make(chan struct{})
	s, emb := testServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		c.MaxConcurrentRequests = 1
	})
	emb.setBlock(block)
	done := make(chan struct{})
	go func() {
		defer close(done)
		call(t, s.Handler(), "POST", "/embed", `{"inputs": "slow"}`)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.limiter.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	refused := 0
	for i := 0; i < 200; i++ {
		if rec := call(t, s.Handler(), "POST", "/embed", `{"inputs": "x"}`); rec.Code == http.StatusTooManyRequests {
			refused++
		}
	}
	close(block)
	<-done
	if refused != 200 {
		t.Fatalf("%d of 200 refused, want all", refused)
	}
	out := logs.String()
	if n := strings.Count(out, "status=429"); n > 0 {
		t.Errorf("%d request lines for 429s at info level, want none:\n%.500s", n, out)
	}
	if n := strings.Count(out, "overloaded"); n != 1 {
		t.Errorf("%d overload lines for 200 refusals in well under the interval, want 1:\n%.500s", n, out)
	}
}

func TestReadyWhileLoadingIsNotAnError(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 3; i++ {
		if rec := call(t, s.Handler(), "GET", "/ready", nil); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("/ready while loading: %d", rec.Code)
		}
	}
	if out := logs.String(); out != "" {
		t.Errorf("/ready's 503 while the model loads is logged at info or above:\n%s", out)
	}
}

// TestShutdownSaysOnlyWhatHappened: with no training job, an expired
// shutdown deadline yields no "jobs did not stop" error or warning.
func TestShutdownSaysOnlyWhatHappened(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	s, _ := testServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Store = newMemStore()
		c.Train = (&fakeTrainer{epochs: 1}).train
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline is already gone, as after a slow HTTP shutdown
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with nothing running: %v", err)
	}
	if out := logs.String(); strings.Contains(out, "did not stop") || strings.Contains(out, "level=WARN") {
		t.Errorf("the log claims what did not happen:\n%s", out)
	}
}
