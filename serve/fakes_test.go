package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/bertserve/bertserve/head"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDim is the dimension of the fake encoder: long enough to hold the
// test texts byte for byte, so a vector says which text it came from.
const fakeDim = 24

// fakeEmbedder writes each text's bytes into its vector (slot fakeDim-1
// holds the length), so tests can check every vector belongs to its text.
// It records every call.
type fakeEmbedder struct {
	delay      time.Duration
	normalized bool
	maxLen     int
	// quantizedFrom makes it an int8 model quantized from that digest.
	quantizedFrom string

	mu      sync.Mutex
	calls   [][]string
	idCalls [][][]int64
	err     error
	block   chan struct{} // when set, Embed waits for it to close
	onCall  func(texts []string)
}

func newFakeEmbedder() *fakeEmbedder { return &fakeEmbedder{maxLen: 16} }

func encodeText(text string) []float32 {
	v := make([]float32, fakeDim)
	for i := 0; i < len(text) && i < fakeDim-1; i++ {
		v[i] = float32(text[i])
	}
	v[fakeDim-1] = float32(len(text))
	return v
}

func decodeVector(v []float32) string {
	n := int(v[fakeDim-1])
	b := make([]byte, 0, n)
	for i := 0; i < n && i < fakeDim-1; i++ {
		b = append(b, byte(v[i]))
	}
	return string(b)
}

func (f *fakeEmbedder) Embed(ctx context.Context, texts []string) (*Embeddings, error) {
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(texts))
	block, err, onCall := f.block, f.err, f.onCall
	f.mu.Unlock()
	if onCall != nil {
		onCall(texts)
	}
	if block != nil {
		<-block
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if err != nil {
		return nil, err
	}
	res := &Embeddings{Vectors: make([][]float32, len(texts)), TokenCounts: make([]int, len(texts)), InferenceTime: time.Millisecond}
	for i, t := range texts {
		res.Vectors[i] = encodeText(t)
		res.TokenCounts[i] = len(f.Tokenize(t, f.maxLen).IDs)
	}
	if f.normalized {
		res.Vectors = l2normalized(res.Vectors)
	}
	return res, nil
}

// Tokenize splits on spaces: [CLS] words... [SEP], ids 101, 1000+len(word), 102.
func (f *fakeEmbedder) Tokenize(text string, maxLen int) Tokens {
	t := Tokens{IDs: []int64{101}, Tokens: []string{"[CLS]"}, Special: []bool{true}}
	for _, w := range strings.Fields(text) {
		t.IDs = append(t.IDs, int64(1000+len(w)))
		t.Tokens = append(t.Tokens, strings.ToLower(w))
		t.Special = append(t.Special, false)
	}
	if maxLen > 0 && len(t.IDs)+1 > maxLen {
		t.IDs, t.Tokens, t.Special = t.IDs[:maxLen-1], t.Tokens[:maxLen-1], t.Special[:maxLen-1]
		t.Truncated = true
	}
	t.IDs = append(t.IDs, 102)
	t.Tokens = append(t.Tokens, "[SEP]")
	t.Special = append(t.Special, true)
	return t
}

// EmbedIDs writes the ids into the vector (slot fakeDim-1 holds minus the
// count, so an id-embedded vector never looks like a text's).
func (f *fakeEmbedder) EmbedIDs(ctx context.Context, ids [][]int64) (*Embeddings, error) {
	f.mu.Lock()
	f.idCalls = append(f.idCalls, slices.Clone(ids))
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	res := &Embeddings{Vectors: make([][]float32, len(ids)), TokenCounts: make([]int, len(ids))}
	for i, row := range ids {
		v := make([]float32, fakeDim)
		for j := 0; j < len(row) && j < fakeDim-1; j++ {
			v[j] = float32(row[j])
		}
		v[fakeDim-1] = -float32(len(row))
		res.Vectors[i] = v
		res.TokenCounts[i] = len(row)
	}
	if f.normalized {
		res.Vectors = l2normalized(res.Vectors)
	}
	return res, nil
}

func (f *fakeEmbedder) idCallLog() [][][]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.idCalls)
}

func (f *fakeEmbedder) Info() ModelInfo {
	mi := ModelInfo{Name: "fake-encoder", Digest: "sha256:fake", Dim: fakeDim, MaxLength: f.maxLen, VocabSize: 2000,
		Pooling: "mean", Normalized: f.normalized, Device: "cpu", DType: "float32"}
	if f.quantizedFrom != "" {
		mi.DType, mi.QuantizedFrom = "int8", f.quantizedFrom
	}
	return mi
}

func (f *fakeEmbedder) setBlock(ch chan struct{}) {
	f.mu.Lock()
	f.block = ch
	f.mu.Unlock()
}

func (f *fakeEmbedder) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeEmbedder) callLog() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeEmbedder) embeddedTexts() map[string]bool {
	seen := map[string]bool{}
	for _, c := range f.callLog() {
		for _, t := range c {
			seen[t] = true
		}
	}
	return seen
}

// fakeHead puts 0.7 on label labelIndex(text, n) of the text its vector
// encodes and shares the rest evenly, so a test can predict the top label.
type fakeHead struct {
	labels    []string
	dim       int
	normalize bool
	err       error
	info      HeadInfo
	// seen records the vectors PredictProba got (when non-nil).
	mu   sync.Mutex
	seen [][]float32
}

func newFakeHead(labels ...string) *fakeHead {
	return &fakeHead{labels: labels, dim: fakeDim, info: HeadInfo{Kind: "softmax",
		Metrics: map[string]float64{"accuracy": 0.9},
		Curves:  &Curves{Epoch: []int{1, 2}, TrainLoss: []JSONFloat{0.7, 0.5}, ValLoss: []JSONFloat{0.72, 0.6}, ValMetric: []JSONFloat{0.8, 0.9}}}}
}

func labelIndex(text string, n int) int {
	s := 0
	for i := 0; i < len(text); i++ {
		s += int(text[i])
	}
	return s % n
}

func (h *fakeHead) Labels() []string { return h.labels }
func (h *fakeHead) Dim() int         { return h.dim }
func (h *fakeHead) Describe() HeadInfo {
	info := h.info
	info.Normalize = h.normalize
	return info
}

func (h *fakeHead) PredictProba(x [][]float32) ([][]float64, error) {
	if h.err != nil {
		return nil, h.err
	}
	h.mu.Lock()
	h.seen = append(h.seen, x...)
	h.mu.Unlock()
	n := len(h.labels)
	out := make([][]float64, len(x))
	for i, v := range x {
		var text string
		if h.normalize {
			text = fmt.Sprint(vecNorm(v)) // normalised input: no text to read
		} else {
			text = decodeVector(v)
		}
		row := make([]float64, n)
		k := labelIndex(text, n)
		for j := range row {
			row[j] = 0.3 / float64(n-1)
		}
		row[k] = 0.7
		out[i] = row
	}
	return out, nil
}

func vecNorm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// memStore is an in-memory HeadStore.
type memStore struct {
	mu    sync.Mutex
	heads map[string]Head
	saves int
	fail  error
}

func newMemStore() *memStore { return &memStore{heads: map[string]Head{}} }

func (m *memStore) Names() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.heads)), nil
}

func (m *memStore) Load(name string) (Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.heads[name]
	if !ok {
		return nil, fmt.Errorf("no head %q", name)
	}
	return h, nil
}

func (m *memStore) Save(name string, h Head) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.heads[name] = h
	m.saves++
	return nil
}

func (m *memStore) Delete(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.heads[name]; !ok {
		return fmt.Errorf("deleting %q: %w", name, fs.ErrNotExist)
	}
	delete(m.heads, name)
	return nil
}

func (m *memStore) has(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.heads[name]
	return ok
}

// fakeTrainer returns a fakeHead over the data's labels after reporting
// an embedding step and `epochs` epochs (the config's epochs when the
// request set them); gate, when set, is waited on before each epoch so
// tests can hold a job in "training".
type fakeTrainer struct {
	epochs int
	gate   chan struct{}
	mu     sync.Mutex
	got    []*head.Labelled
	cfgs   []head.TrainConfig
}

func (ft *fakeTrainer) train(ctx context.Context, data *head.Labelled, cfg head.TrainConfig, progress func(head.Event)) (Head, error) {
	ft.mu.Lock()
	ft.got = append(ft.got, data)
	ft.cfgs = append(ft.cfgs, cfg)
	ft.mu.Unlock()
	epochs := ft.epochs
	if cfg.Epochs != head.Default().Epochs {
		epochs = cfg.Epochs
	}
	progress(head.Event{Stage: head.StageEmbedding, Done: data.Len(), Total: data.Len()})
	progress(head.Event{Stage: head.StageSplit, TrainRows: data.Len()})
	for e := 1; e <= epochs; e++ {
		if ft.gate != nil {
			select {
			case <-ft.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		progress(head.Event{Stage: head.StageTraining, Epoch: &head.EpochStats{Step: "epoch", Epoch: e, Epochs: epochs,
			TrainLoss: 1 / float64(e), ValLoss: 1.1 / float64(e), HasVal: true, ValMetric: math.NaN(), Metric: "accuracy"}})
	}
	var labels []string
	for _, l := range data.Labels {
		if !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	slices.Sort(labels)
	h := newFakeHead(labels...)
	h.dim = newFakeEmbedder().Info().Dim
	h.normalize = cfg.Normalize
	return h, nil
}

// testServer builds a server around the fakes; mod adjusts the config.
func testServer(t *testing.T, mod func(*Config)) (*Server, *fakeEmbedder) {
	t.Helper()
	emb := newFakeEmbedder()
	cfg := Config{Embedder: emb, Logger: discardLogger(), MaxWait: time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, emb
}

// call sends one request through the handler. body may be a string, []byte
// or anything JSON-encodable; JSON gets its Content-Type set.
func call(t testing.TB, h http.Handler, method, path string, body any, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
		ct = "application/json"
	case []byte:
		r = bytes.NewReader(b)
		ct = "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
		ct = "application/json"
	}
	req := httptest.NewRequest(method, path, r)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
	return v
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// apiError reads an error answer in whichever shape its route family uses
// (TEI, OpenAI or the Open Inference Protocol) and checks the shape.
func apiError(t testing.TB, path string, rec *httptest.ResponseRecorder) (msg string, typ ErrorType) {
	t.Helper()
	switch routeFamily(path) {
	case "openai":
		b := decode[OpenAIErrorBody](t, rec)
		if b.Error.Message == "" || b.Error.Type == "" || b.Message != b.Error.Message || b.Code != rec.Code {
			t.Errorf("%s: OpenAI error body %s is not complete", path, rec.Body)
		}
		return b.Error.Message, b.ErrorType
	case "oip":
		b := decode[OIPErrorBody](t, rec)
		return b.Error, ""
	}
	b := decode[ErrorBody](t, rec)
	return b.Error, b.ErrorType
}

// wantCode is the status a route family answers for an error that TEI
// answers with code: OpenAI's routes say 400 where TEI says 413 or 422.
func wantCode(path string, code int) int {
	if routeFamily(path) == "openai" && (code == 413 || code == 422) {
		return 400
	}
	return code
}
