package serve

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeTailEmbedder is a fakeEmbedder that also runs tails: tail key's
// output for a text encodes key + ":" + text, so a test can tell which
// computation a head was given.
type fakeTailEmbedder struct {
	*fakeEmbedder
	mu        sync.Mutex
	needCalls [][]Need
}

func (f *fakeTailEmbedder) EmbedNeeds(ctx context.Context, texts []string, needs []Need) (*Embeddings, error) {
	f.mu.Lock()
	f.needCalls = append(f.needCalls, slices.Clone(needs))
	f.mu.Unlock()
	res := &Embeddings{Vectors: make([][]float32, len(texts)), Tails: make([]map[string][]float32, len(texts))}
	for i, t := range texts {
		if needs[i].Base {
			res.Vectors[i] = encodeText(t)
		}
		res.Tails[i] = map[string][]float32{}
		for _, k := range needs[i].Tails {
			res.Tails[i][k] = encodeText(k + ":" + t)
		}
	}
	return res, nil
}

type fakeTailedHead struct {
	*fakeHead
	key string
}

func (h *fakeTailedHead) Tail() string { return h.key }

func TestClassifyTailedHeads(t *testing.T) {
	t.Parallel()
	fe := &fakeTailEmbedder{fakeEmbedder: newFakeEmbedder()}
	s, err := New(Config{Embedder: fe, Logger: discardLogger(), MaxWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	labels := []string{"a", "b", "c", "d", "e"}
	s.Heads().Put("plain", newFakeHead(labels...))
	s.Heads().Put("lora1", &fakeTailedHead{newFakeHead(labels...), "t1"})
	s.Heads().Put("lora1b", &fakeTailedHead{newFakeHead(labels...), "t1"})
	s.Heads().Put("lora2", &fakeTailedHead{newFakeHead(labels...), "t2"})
	h := s.Handler()
	text := "a quiet film"

	// Every head in one request: one encoder call computes the base once
	// and each distinct tail once.
	rec := call(t, h, "POST", "/v1/classify", map[string]any{"inputs": text, "heads": []string{"plain", "lora1", "lora1b", "lora2"}})
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	got := decode[map[string][]LabelScore](t, rec)
	for head, input := range map[string]string{"plain": text, "lora1": "t1:" + text, "lora1b": "t1:" + text, "lora2": "t2:" + text} {
		if want := labels[labelIndex(input, len(labels))]; len(got[head]) != 1 || got[head][0].Label != want {
			t.Errorf("head %s: %+v, want %s (computed on %q)", head, got[head], want, input)
		}
	}
	fe.mu.Lock()
	calls := slices.Clone(fe.needCalls)
	fe.mu.Unlock()
	if len(calls) != 1 || len(calls[0]) != 1 || !calls[0][0].Base || !slices.Equal(calls[0][0].Tails, []string{"t1", "t2"}) {
		t.Errorf("encoder calls with needs %+v, want one call needing the base and tails t1, t2", calls)
	}
	if n := len(fe.callLog()); n != 0 {
		t.Errorf("%d plain Embed calls for a request that needed tails", n)
	}

	// A tailed head alone needs no base output.
	rec = call(t, h, "POST", "/v1/classify", map[string]any{"inputs": []string{text, "another"}, "head": "lora2"})
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	fe.mu.Lock()
	last := fe.needCalls[len(fe.needCalls)-1]
	fe.mu.Unlock()
	if len(last) != 2 || last[0].Base || !slices.Equal(last[0].Tails, []string{"t2"}) {
		t.Errorf("needs %+v, want the tail t2 only", last)
	}
	// A plain head alone keeps the plain path.
	call(t, h, "POST", "/v1/classify", map[string]any{"inputs": text, "head": "plain"})
	if n := len(fe.callLog()); n != 1 {
		t.Errorf("a plain head's request made %d plain Embed calls, want 1", n)
	}
}

// TestBatcherMergesNeeds merges a plain and a tailed request into one
// call that carries each text's need.
func TestBatcherMergesNeeds(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls [][]Need
	b := NewBatcher(BatcherConfig{
		Embed: func(ctx context.Context, texts []string) (*Embeddings, error) {
			t.Error("plain Embed called for a batch that needs tails")
			return nil, nil
		},
		EmbedNeeds: func(ctx context.Context, texts []string, needs []Need) (*Embeddings, error) {
			mu.Lock()
			calls = append(calls, needs)
			mu.Unlock()
			res := &Embeddings{Vectors: make([][]float32, len(texts)), Tails: make([]map[string][]float32, len(texts))}
			for i, t := range texts {
				res.Vectors[i] = encodeText(t)
				res.Tails[i] = map[string][]float32{"k": encodeText("k:" + t)}
			}
			return res, nil
		},
		MaxBatchRequests: 8, MaxWait: 2 * time.Second,
	})
	defer b.Close()
	t1, t2 := b.Expect(), b.Expect()
	var wg sync.WaitGroup
	var r1, r2 *BatchResult
	wg.Add(2)
	go func() {
		defer wg.Done()
		r1, _ = t1.Submit(context.Background(), []string{"x", "y"}, 2)
	}()
	go func() {
		defer wg.Done()
		r2, _ = t2.SubmitNeed(context.Background(), []string{"z"}, 1, Need{Tails: []string{"k"}})
	}()
	wg.Wait()
	if len(calls) != 1 || len(calls[0]) != 3 {
		t.Fatalf("calls %+v, want one merged call of 3 texts", calls)
	}
	if r1 == nil || r2 == nil || decodeVector(r1.Vectors[1]) != "y" || decodeVector(r2.Tails[0]["k"]) != "k:z" {
		t.Fatalf("results %+v %+v", r1, r2)
	}
	tails := 0
	for _, n := range calls[0] {
		if n.hasTails() {
			tails++
		}
	}
	if tails != 1 {
		t.Errorf("needs %+v: want exactly the tailed request's text to need the tail", calls[0])
	}
}

// TestTailedHeadNeedsTailEmbedder refuses a tailed head on an encoder
// that cannot run tails.
func TestTailedHeadNeedsTailEmbedder(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	if err := s.checkHead("x", &fakeTailedHead{newFakeHead("a", "b"), "t"}); err == nil {
		t.Error("a tailed head was accepted by an encoder without tails")
	}
}
