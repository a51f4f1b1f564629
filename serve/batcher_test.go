package serve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingEmbed returns an Embed func that writes each text into its
// vector and records the texts of every call.
func recordingEmbed(delay time.Duration) (func(context.Context, []string) (*Embeddings, error), func() [][]string) {
	var mu sync.Mutex
	var calls [][]string
	embed := func(_ context.Context, texts []string) (*Embeddings, error) {
		mu.Lock()
		calls = append(calls, slices.Clone(texts))
		mu.Unlock()
		time.Sleep(delay)
		res := &Embeddings{}
		for _, t := range texts {
			res.Vectors = append(res.Vectors, encodeText(t))
			res.TokenCounts = append(res.TokenCounts, len(t))
		}
		return res, nil
	}
	return embed, func() [][]string { mu.Lock(); defer mu.Unlock(); return slices.Clone(calls) }
}

func TestBatcherMergesAndReturnsEachRequestsOwnVectors(t *testing.T) {
	t.Parallel()
	embed, calls := recordingEmbed(5 * time.Millisecond)
	b := NewBatcher(BatcherConfig{Embed: embed, MaxBatchRequests: 16, MaxBatchTokens: 1 << 20, MaxWait: 20 * time.Millisecond})
	defer b.Close()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			texts := []string{fmt.Sprintf("r%d-a", i), fmt.Sprintf("r%d-b", i), fmt.Sprintf("r%d-c", i)}[:1+i%3]
			res, err := b.Submit(context.Background(), texts, 3*len(texts))
			if err != nil {
				errs <- err
				return
			}
			if len(res.Vectors) != len(texts) {
				errs <- fmt.Errorf("request %d: %d vectors for %d texts", i, len(res.Vectors), len(texts))
				return
			}
			for j, v := range res.Vectors {
				if got := decodeVector(v); got != texts[j] {
					errs <- fmt.Errorf("request %d text %d: got the vector of %q", i, j, got)
				}
			}
			if res.TokenCounts[0] != len(texts[0]) {
				errs <- fmt.Errorf("request %d: token count %d", i, res.TokenCounts[0])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cs := calls()
	if len(cs) >= n/2 {
		t.Errorf("%d encoder calls for %d concurrent requests: the batcher is not merging", len(cs), n)
	}
	total := 0
	for _, c := range cs {
		total += len(c)
	}
	want := 0
	for i := range n {
		want += 1 + i%3
	}
	if total != want {
		t.Errorf("embedded %d texts, sent %d", total, want)
	}
}

func TestBatcherBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		maxReqs, maxToks  int
		textsPerReq, toks int
	}{
		{"requests bound", 4, 1 << 20, 1, 1},
		{"tokens bound", 1000, 10, 1, 3},
		{"unbatched", 1, 1 << 20, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var sizes []int // requests per call are inferred from texts
			embed := func(_ context.Context, texts []string) (*Embeddings, error) {
				mu.Lock()
				sizes = append(sizes, len(texts))
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
				res := &Embeddings{}
				for _, t := range texts {
					res.Vectors = append(res.Vectors, encodeText(t))
				}
				return res, nil
			}
			b := NewBatcher(BatcherConfig{Embed: embed, MaxBatchRequests: tc.maxReqs, MaxBatchTokens: tc.maxToks, MaxWait: 5 * time.Millisecond})
			defer b.Close()
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					texts := make([]string, tc.textsPerReq)
					for j := range texts {
						texts[j] = fmt.Sprintf("%d/%d", i, j)
					}
					if _, err := b.Submit(context.Background(), texts, tc.toks); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			maxReqs := min(tc.maxReqs, tc.maxToks/tc.toks)
			for _, n := range sizes {
				if reqs := n / tc.textsPerReq; reqs > maxReqs {
					t.Errorf("a call held %d requests, bound %d", reqs, maxReqs)
				}
			}
			if tc.maxReqs == 1 && len(sizes) != 40 {
				t.Errorf("unbatched: %d calls for 40 requests", len(sizes))
			}
		})
	}
}

func TestBatcherOversizedRequestRunsAlone(t *testing.T) {
	t.Parallel()
	embed, calls := recordingEmbed(0)
	b := NewBatcher(BatcherConfig{Embed: embed, MaxBatchTokens: 10})
	defer b.Close()
	res, err := b.Submit(context.Background(), []string{"big", "bigger"}, 500)
	if err != nil || len(res.Vectors) != 2 {
		t.Fatalf("%v %v", res, err)
	}
	if cs := calls(); len(cs) != 1 || len(cs[0]) != 2 {
		t.Errorf("calls %v", cs)
	}
}

func TestBatcherFullBatchDoesNotWaitForMaxWait(t *testing.T) {
	t.Parallel()
	embed, calls := recordingEmbed(0)
	b := NewBatcher(BatcherConfig{Embed: embed, MaxBatchRequests: 2, MaxWait: 5 * time.Second})
	defer b.Close()
	start := time.Now()
	tickets := []*Ticket{b.Expect(), b.Expect()}
	var wg sync.WaitGroup
	for i, tk := range tickets {
		wg.Go(func() {
			if _, err := tk.Submit(context.Background(), []string{fmt.Sprint(i)}, 1); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a full batch waited %s", d)
	}
	if cs := calls(); len(cs) != 1 {
		t.Errorf("two announced requests in %d calls, want 1", len(cs))
	}
}

func TestBatcherWaitsOnlyForAnnouncedRequests(t *testing.T) {
	t.Parallel()
	embed, calls := recordingEmbed(0)
	b := NewBatcher(BatcherConfig{Embed: embed, MaxBatchRequests: 8, MaxWait: 5 * time.Second})
	defer b.Close()

	// A lone request leaves at once: nobody is on the way.
	start := time.Now()
	if _, err := b.Submit(context.Background(), []string{"alone"}, 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a lone request waited %s", d)
	}

	// With a request announced, the first one waits for it.
	late := b.Expect()
	first := make(chan error, 1)
	go func() { _, err := b.Submit(context.Background(), []string{"early"}, 1); first <- err }()
	waitFor(t, func() bool { return b.Depth() == 1 }) // "early" is queued or being collected
	time.Sleep(20 * time.Millisecond)
	if n := len(calls()); n != 1 {
		t.Fatalf("%d calls: \"early\" did not wait for the announced request", n)
	}
	start = time.Now()
	if _, err := late.Submit(context.Background(), []string{"late"}, 1); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Once the announced request arrived nobody else was expected: the
	// batch must leave at once, not at MaxWait.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the batch left %s after its last expected request", d)
	}
	cs := calls()
	if len(cs) != 2 || strings.Join(cs[1], ",") != "early,late" {
		t.Errorf("calls %v, want [alone] then [early late]", cs)
	}

	// A withdrawn announcement does not hold a batch beyond MaxWait.
	b2 := NewBatcher(BatcherConfig{Embed: embed, MaxBatchRequests: 8, MaxWait: 50 * time.Millisecond})
	defer b2.Close()
	tk := b2.Expect()
	start = time.Now()
	if _, err := b2.Submit(context.Background(), []string{"x"}, 1); err != nil {
		t.Fatal(err)
	}
	tk.Cancel()
	tk.Cancel() // idempotent
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %s for a request that never came", d)
	}
	if n := b2.expected.Load(); n != 0 {
		t.Errorf("%d announcements left", n)
	}
}

func TestBatcherDropsAbandonedRequests(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	var mu sync.Mutex
	var seen []string
	embed := func(_ context.Context, texts []string) (*Embeddings, error) {
		mu.Lock()
		seen = append(seen, texts...)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		res := &Embeddings{}
		for _, t := range texts {
			res.Vectors = append(res.Vectors, encodeText(t))
		}
		return res, nil
	}
	b := NewBatcher(BatcherConfig{Embed: embed, MaxBatchRequests: 8})
	defer b.Close()

	firstErr := make(chan error, 1)
	ctx1, cancel1 := context.WithCancel(context.Background())
	go func() { _, err := b.Submit(ctx1, []string{"running"}, 1); firstErr <- err }()
	<-entered

	// Queued behind the busy encoder, then abandoned.
	ctx2, cancel2 := context.WithCancel(context.Background())
	secondErr := make(chan error, 1)
	go func() { _, err := b.Submit(ctx2, []string{"abandoned"}, 1); secondErr <- err }()
	waitFor(t, func() bool { return b.Depth() == 1 })
	cancel2()
	var we *WaitError
	if err := <-secondErr; !errors.As(err, &we) || we.Started || !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned request: %v, want a not-started WaitError", err)
	}
	// The running one is abandoned too: it was started.
	cancel1()
	if err := <-firstErr; !errors.As(err, &we) || !we.Started {
		t.Errorf("started request: %v, want a started WaitError", err)
	}
	close(release)

	// A later request proves the worker went past the abandoned one.
	if _, err := b.Submit(context.Background(), []string{"later"}, 1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(seen, "abandoned") {
		t.Errorf("the abandoned request reached the encoder: %v", seen)
	}
	if b.Depth() != 0 {
		t.Errorf("queue depth %d after all requests ended", b.Depth())
	}
}

func TestBatcherErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		embed func(context.Context, []string) (*Embeddings, error)
		want  string
	}{
		{"error", func(context.Context, []string) (*Embeddings, error) { return nil, errors.New("boom") }, "boom"},
		{"panic", func(context.Context, []string) (*Embeddings, error) { panic("kaboom") }, "panicked: kaboom"},
		{"short", func(context.Context, []string) (*Embeddings, error) { return &Embeddings{}, nil }, "0 vectors for"},
		{"nil", func(context.Context, []string) (*Embeddings, error) { return nil, nil }, "0 vectors for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stats []BatchStats
			var mu sync.Mutex
			b := NewBatcher(BatcherConfig{Embed: tc.embed, MaxWait: 10 * time.Millisecond, Observe: func(s BatchStats) {
				mu.Lock()
				stats = append(stats, s)
				mu.Unlock()
			}})
			var wg sync.WaitGroup
			for range 5 {
				wg.Go(func() {
					_, err := b.Submit(context.Background(), []string{"x", "y"}, 2)
					if err == nil || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("err %v, want %q", err, tc.want)
					}
				})
			}
			wg.Wait()
			b.Close() // the worker survived: Close returns
			mu.Lock()
			defer mu.Unlock()
			for _, s := range stats {
				if s.Err == nil {
					t.Error("Observe saw no error")
				}
			}
		})
	}
}

func TestBatcherClose(t *testing.T) {
	t.Parallel()
	embed, _ := recordingEmbed(time.Millisecond)
	b := NewBatcher(BatcherConfig{Embed: embed})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := b.Submit(context.Background(), []string{fmt.Sprint(i)}, 1)
			if err != nil && !errors.Is(err, ErrBatcherClosed) {
				t.Error(err)
			}
		})
	}
	b.Close()
	wg.Wait()
	if _, err := b.Submit(context.Background(), []string{"late"}, 1); !errors.Is(err, ErrBatcherClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	b.Close() // idempotent
	if res, err := b.Submit(context.Background(), nil, 0); err != nil || len(res.Vectors) != 0 {
		t.Errorf("empty submit: %v %v", res, err)
	}
}

func TestBatcherQueueFull(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	embed := func(_ context.Context, texts []string) (*Embeddings, error) {
		entered <- struct{}{}
		<-release
		return &Embeddings{Vectors: make([][]float32, len(texts))}, nil
	}
	b := NewBatcher(BatcherConfig{Embed: embed, QueueSize: 1, MaxBatchRequests: 1})
	defer b.Close()
	errs := make(chan error, 2)
	go func() { _, err := b.Submit(context.Background(), []string{"a"}, 1); errs <- err }()
	<-entered
	go func() { _, err := b.Submit(context.Background(), []string{"b"}, 1); errs <- err }()
	waitFor(t, func() bool { return b.Depth() == 1 })
	if _, err := b.Submit(context.Background(), []string{"c"}, 1); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third submit: %v, want ErrQueueFull", err)
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func ExampleBatcher() {
	embed := func(_ context.Context, texts []string) (*Embeddings, error) {
		res := &Embeddings{}
		for _, t := range texts {
			res.Vectors = append(res.Vectors, []float32{float32(len(t))})
		}
		return res, nil
	}
	b := NewBatcher(BatcherConfig{Embed: embed, MaxBatchTokens: 4096, MaxBatchRequests: 32, MaxWait: 2 * time.Millisecond})
	defer b.Close()
	res, err := b.Submit(context.Background(), []string{"a", "four"}, 6)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Vectors)
	// Output: [[1] [4]]
}
