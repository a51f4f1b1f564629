package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func liveServer(t *testing.T, s *Server) (*httptest.Server, *http.Client) {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}
	t.Cleanup(tr.CloseIdleConnections)
	return ts, &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func postJSON(ctx context.Context, c *http.Client, url string, body any) (int, []byte, error) {
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestConcurrentRequestsGetTheirOwnResults fires hundreds of concurrent
// requests with distinct texts through a real HTTP server and checks that
// every vector and every label belongs to the request that asked.
func TestConcurrentRequestsGetTheirOwnResults(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, func(c *Config) { c.MaxWait = 2 * time.Millisecond; c.MaxBatchRequests = 64 })
	emb.delay = 2 * time.Millisecond
	labels := []string{"l0", "l1", "l2", "l3", "l4"}
	s.Heads().Put("topic", newFakeHead(labels...))
	ts, client := liveServer(t, s)

	const clients = 300
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			texts := []string{fmt.Sprintf("c%d first", i), fmt.Sprintf("c%d second", i), fmt.Sprintf("c%d 3", i)}[:1+i%3]
			code, body, err := postJSON(context.Background(), client, ts.URL+"/embed", map[string]any{"inputs": texts, "normalize": false})
			if err != nil || code != 200 {
				errs <- fmt.Errorf("client %d /embed: %d %s %v", i, code, body, err)
				return
			}
			var vecs [][]float32
			if err := json.Unmarshal(body, &vecs); err != nil || len(vecs) != len(texts) {
				errs <- fmt.Errorf("client %d: %d vectors for %d texts (%v)", i, len(vecs), len(texts), err)
				return
			}
			for j, v := range vecs {
				if got := decodeVector(v); got != texts[j] {
					errs <- fmt.Errorf("client %d text %d: got the vector of %q, want %q", i, j, got, texts[j])
					return
				}
			}
			code, body, err = postJSON(context.Background(), client, ts.URL+"/v1/classify", map[string]any{"inputs": texts})
			if err != nil || code != 200 {
				errs <- fmt.Errorf("client %d /v1/classify: %d %s %v", i, code, body, err)
				return
			}
			var rows []LabelScore // the pipeline's one {label, score} per input
			if err := json.Unmarshal(body, &rows); err != nil || len(rows) != len(texts) {
				errs <- fmt.Errorf("client %d: %d rows for %d texts (%v)", i, len(rows), len(texts), err)
				return
			}
			for j, row := range rows {
				if want := labels[labelIndex(texts[j], len(labels))]; row.Label != want {
					errs <- fmt.Errorf("client %d text %d: label %s, want %s", i, j, row.Label, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	biggest := 0
	for _, c := range emb.callLog() {
		biggest = max(biggest, len(c))
	}
	if biggest < 4 {
		t.Errorf("largest encoder call held %d texts: concurrent requests were not merged", biggest)
	}
	t.Logf("%d encoder calls for %d requests, largest %d texts", len(emb.callLog()), 2*clients, biggest)
}

// TestHeadSwapUnderLoad swaps a head between two versions with different
// labels while requests run; no response may mix the versions.
func TestHeadSwapUnderLoad(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	old := newFakeHead("old-a", "old-b", "old-c")
	neu := newFakeHead("new-a", "new-b", "new-c")
	s.Heads().Put("swap", old)
	s.Heads().Put("other", newFakeHead("x", "y"))
	ts, client := liveServer(t, s)

	stop := make(chan struct{})
	var swaps sync.WaitGroup
	swaps.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			h := Head(old)
			if i%2 == 1 {
				h = neu
			}
			if _, err := s.Heads().Put("swap", h); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	versions := map[string]int{}
	for i := range 100 {
		wg.Go(func() {
			for k := range 5 {
				inputs := []string{fmt.Sprintf("q%d-%d a", i, k), fmt.Sprintf("q%d-%d b", i, k), "c"}
				code, body, err := postJSON(context.Background(), client, ts.URL+"/v1/classify",
					map[string]any{"inputs": inputs, "heads": []string{"swap", "other"}, "top_k": 3})
				if err != nil || code != 200 {
					t.Errorf("%d %s %v", code, body, err)
					return
				}
				var resp map[string][][]LabelScore
				if err := json.Unmarshal(body, &resp); err != nil {
					t.Error(err)
					return
				}
				seen := map[string]bool{}
				for _, row := range resp["swap"] {
					for _, ls := range row {
						seen[strings.SplitN(ls.Label, "-", 2)[0]] = true
					}
				}
				if len(seen) != 1 {
					t.Errorf("one response mixed head versions: %v", resp["swap"])
				}
				mu.Lock()
				for v := range seen {
					versions[v]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	swaps.Wait()
	t.Logf("responses by head version: %v", versions)
}

// TestDisconnectedClientIsDropped: a client that hangs up while its
// request waits behind a busy encoder never costs encoder time.
func TestDisconnectedClientIsDropped(t *testing.T) {
	t.Parallel()
	s, emb := testServer(t, func(c *Config) { c.MaxBatchRequests = 1 })
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	emb.onCall = func([]string) { entered <- struct{}{} }
	emb.setBlock(release)
	ts, client := liveServer(t, s)

	first := make(chan int, 1)
	go func() {
		code, _, _ := postJSON(context.Background(), client, ts.URL+"/embed", map[string]any{"inputs": "busy"})
		first <- code
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, _, err := postJSON(ctx, client, ts.URL+"/embed", map[string]any{"inputs": "gone"})
		gone <- err
	}()
	waitFor(t, func() bool { return s.batcher.Depth() == 1 })
	cancel()
	<-gone
	// The server notices the closed connection and abandons the request.
	waitFor(t, func() bool {
		return strings.Contains(metricsText(t, s), `bertserve_requests_total{route="/embed",method="POST",code="499"} 1`)
	})
	emb.setBlock(nil)
	close(release)
	if code := <-first; code != 200 {
		t.Errorf("first request: %d", code)
	}
	if code, body, err := postJSON(context.Background(), client, ts.URL+"/embed", map[string]any{"inputs": "after"}); code != 200 {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if emb.embeddedTexts()["gone"] {
		t.Error("the disconnected client's text was embedded")
	}
}

func metricsText(t testing.TB, s *Server) string {
	return call(t, s.Handler(), "GET", "/metrics", nil).Body.String()
}

// TestGracefulShutdown: Shutdown lets the request in flight finish, then
// refuses new connections, and cancels running training jobs.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	trainer := &fakeTrainer{epochs: 100, gate: make(chan struct{})}
	s, emb := testServer(t, func(c *Config) {
		c.Store = newMemStore()
		c.Train = trainer.train
		c.AdminToken = "admin-token"
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second}

	// A training job held in "training".
	req, _ := http.NewRequest("POST", url+"/v1/heads/sent/train", strings.NewReader("text,label\na,x\nb,x\nc,y\nd,y\n"))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("train: %v %v", resp, err)
	}
	var acc TrainAccepted
	json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	j, _ := s.jobs.get(acc.ID)
	waitFor(t, func() bool { return j.state() == JobTraining })

	// An inference request in flight.
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	emb.onCall = func([]string) { entered <- struct{}{} }
	emb.setBlock(release)
	inflight := make(chan int, 1)
	go func() {
		code, _, _ := postJSON(context.Background(), client, url+"/embed", map[string]any{"inputs": "in flight"})
		inflight <- code
	}()
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	// New connections are refused once the listener is closed.
	waitFor(t, func() bool {
		_, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		return err != nil
	})
	close(release)
	if code := <-inflight; code != 200 {
		t.Errorf("in-flight request ended %d, want 200", code)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v after a graceful shutdown", err)
	}
	if st := j.state(); st != JobCanceled {
		t.Errorf("training job %s after shutdown, want canceled", st)
	}
	if s.cfg.Store.(*memStore).has("sent") {
		t.Error("a cancelled job saved its head")
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t, nil)
	s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("Serve after Shutdown left the listener open")
	}
}
