package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/serve"
)

// countingWriter is a ResponseWriter that keeps only the size of the body,
// so the measurement sees the server's memory, not a recorder's copy.
type countingWriter struct {
	h    http.Header
	n    int
	code int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *countingWriter) WriteHeader(code int)        { w.code = code }

// TestTokenizeMemoryIsBounded sends /tokenize requests of 2 MB (the
// default payload limit) through the real WordPiece tokenizer and
// measures what one costs: the response is bounded by the model's maximum
// length (413, or truncated on request) and so is the memory a request
// allocates; 20 at once leave the heap where it was once collected.
// Measured here: one request allocated 132 MB and answered 26 MB before
// the bound, 38 MB and 35 KB after (the rest is tokenizing the 2 MB text,
// which /embed pays alike).
func TestTokenizeMemoryIsBounded(t *testing.T) {
	vocab := filepath.Join(encoder.CacheDir(), "vocab", "bert-base-uncased", "tokenizer.json")
	if _, err := os.Stat(vocab); err != nil {
		if os.Getenv("BERTSERVE_REQUIRE_ORT") == "1" {
			t.Fatalf("run make setup: %v", err)
		}
		t.Skipf("run make setup: %v", err)
	}
	tok, err := encoder.LoadTokenizer(vocab)
	if err != nil {
		t.Fatal(err)
	}
	be := &encoderBackend{tok: tok, special: map[int64]bool{}, info: serve.ModelInfo{Name: "bert-base-uncased", Dim: 8, MaxLength: 512}}
	for _, id := range tok.Encode("", 0).IDs {
		be.special[id] = true
	}
	srv, err := serve.New(serve.Config{Embedder: be, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	words := strings.Repeat("tokenization of long text ", 1_990_000/26)
	send := func(truncate bool) *countingWriter {
		body, _ := json.Marshal(map[string]any{"inputs": words, "truncate": truncate})
		req := httptest.NewRequest("POST", "/tokenize", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		w := &countingWriter{h: http.Header{}, code: 200}
		h.ServeHTTP(w, req)
		return w
	}
	send(true) // warm the pools
	var ms runtime.MemStats
	for _, truncate := range []bool{false, true} {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		w := send(truncate)
		runtime.ReadMemStats(&ms)
		alloc := ms.TotalAlloc - before
		t.Logf("2 MB /tokenize (truncate %v): status %d, response %d bytes, %.1f MB allocated", truncate, w.code, w.n, float64(alloc)/1e6)
		if w.n > 200_000 {
			t.Errorf("truncate %v: a %d-byte response to one request; it must be bounded by the maximum length", truncate, w.n)
		}
		if alloc > 64e6 { // 132 MB before the bound, 38 MB after
			t.Errorf("truncate %v: one request allocated %.0f MB", truncate, float64(alloc)/1e6)
		}
		if !truncate && w.code != http.StatusRequestEntityTooLarge {
			t.Errorf("an input over the maximum length: status %d, want 413", w.code)
		}
	}
	if raceEnabled {
		return // the concurrent part is a measurement; under -race it takes minutes
	}
	// 20 at once: the peak stays bounded, and the heap returns to where it
	// was once collected.
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var top uint64
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				peak <- top
				return
			default:
			}
			runtime.ReadMemStats(&m)
			top = max(top, m.HeapInuse)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); send(i%2 == 0) }()
	}
	wg.Wait()
	close(stop)
	top := <-peak
	runtime.GC()
	runtime.GC() // the tokenizer's pooled scratch buffers go on the second collection
	runtime.ReadMemStats(&ms)
	t.Logf("20 concurrent 2 MB requests: heap in use %.0f MB before, %.0f MB at the peak, %.0f MB after (collected)",
		float64(base)/1e6, float64(top)/1e6, float64(ms.HeapInuse)/1e6)
	if top > base+20*64e6 {
		t.Errorf("20 requests peaked at %.0f MB of heap", float64(top)/1e6)
	}
	if ms.HeapInuse > base+50e6 {
		t.Errorf("20 requests left %.0f MB on the heap", float64(ms.HeapInuse-base)/1e6)
	}
}
