package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/safetensors"
	modelsplit "github.com/bertserve/bertserve/models/split"
)

// tailFile is the tail graph a head with trained encoder layers holds.
const tailFile = "tail.onnx"

// splitModel is the model directory opened for splitting, with the bottom
// sessions built so far (one per split layer). It is safe for concurrent
// use.
type splitModel struct {
	enc *encoder.Encoder
	dir string

	mu      sync.Mutex
	sm      *modelsplit.Model
	bottoms map[int]*encoder.Bottom
	checked map[int]bool
}

func newSplitModel(enc *encoder.Encoder, dir string) *splitModel {
	return &splitModel{enc: enc, dir: dir, bottoms: map[int]*encoder.Bottom{}, checked: map[int]bool{}}
}

// model opens the weights once.
func (s *splitModel) model() (*modelsplit.Model, error) {
	if s.sm != nil {
		return s.sm, nil
	}
	sm, err := modelsplit.Open(s.dir)
	if err != nil {
		return nil, err
	}
	s.sm = sm
	return sm, nil
}

// Bottom returns the bottom session below layer k.
func (s *splitModel) Bottom(k int) (*encoder.Bottom, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.bottoms[k]; ok {
		return b, nil
	}
	sm, err := s.model()
	if err != nil {
		return nil, err
	}
	g, err := sm.Bottom(k)
	if err != nil {
		return nil, err
	}
	data, err := g.Marshal()
	if err != nil {
		return nil, err
	}
	b, err := s.enc.OpenBottom(data)
	if err != nil {
		return nil, err
	}
	s.bottoms[k] = b
	return b, nil
}

// Tail returns the encoder's own tail below layer k as the encoder pools.
func (s *splitModel) Tail(k int) (*models.Tail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, err := s.model()
	if err != nil {
		return nil, err
	}
	info := s.enc.Info()
	return sm.Tail(k, info.Pooling, info.Normalize)
}

// Close releases the bottom sessions.
func (s *splitModel) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, b := range s.bottoms {
		b.Close()
		delete(s.bottoms, k)
	}
}

// checkSplit runs a few texts through bottom k and the encoder's own tail
// (ONNX) and compares with model.onnx, so weights that do not belong to
// model.onnx are caught before any training.
func (s *splitModel) checkSplit(ctx context.Context, k int) error {
	s.mu.Lock()
	done := s.checked[k]
	s.mu.Unlock()
	if done {
		return nil
	}
	probe := []string{"a gorgeous , witty , seductive movie .", "what a waste of two hours", "这部电影很好看"}
	want, err := s.enc.Embed(ctx, probe)
	if err != nil {
		return err
	}
	tail, err := s.Tail(k)
	if err != nil {
		return err
	}
	tg, err := models.BuildTail(tail, models.TailGraphOptions{})
	if err != nil {
		return err
	}
	graph, err := tg.Marshal()
	if err != nil {
		return err
	}
	tr, err := s.enc.OpenTail(graph)
	if err != nil {
		return err
	}
	defer tr.Close()
	b, err := s.Bottom(k)
	if err != nil {
		return err
	}
	got, err := b.EmbedTails(ctx, b.Tokenize(probe), []*encoder.Tail{tr})
	if err != nil {
		return err
	}
	worst := 0.0
	for i, v := range want.Vectors {
		for j, x := range v {
			worst = max(worst, math.Abs(float64(x)-float64(got[0][i][j])))
		}
	}
	if worst > 1e-4 {
		return fmt.Errorf("the weights in %s do not give what its model.onnx gives (largest difference %.3g over %d probe texts): model.safetensors and model.onnx do not belong together; re-import the model", s.dir, worst, len(probe))
	}
	s.mu.Lock()
	s.checked[k] = true
	s.mu.Unlock()
	return nil
}

// headTail converts canonical tail weights to head's form, with the
// model's dropout rates.
func headTail(t *models.Tail, hiddenDrop, attnDrop float64) (*head.TailWeights, error) {
	s := t.Spec
	if s.Pooler != "" {
		return nil, fmt.Errorf("this encoder's pooled output goes through a %s pooler layer, which bertserve cannot train yet; use --pooling cls or --pooling mean (USE-lite always pools that way: train it with --tune none)", s.Pooler)
	}
	w := &head.TailWeights{
		Spec: head.TailSpec{
			Layout: s.Layout, Hidden: s.Hidden, Heads: s.Heads, Intermediate: s.Intermediate, LayerNormEps: s.LayerNormEps,
			Activation: s.Activation, FirstLayer: s.FirstLayer, NumLayers: s.NumLayers, TotalLayers: s.TotalLayers,
			Pooling: s.Pooling, Normalize: s.Normalize, FinalLayerNorm: s.FinalLayerNorm,
			HiddenDropout: hiddenDrop, AttentionDropout: attnDrop,
		},
		Layers: make([]map[string][]float32, s.NumLayers),
	}
	for j := range w.Layers {
		w.Layers[j] = map[string][]float32{}
		for _, name := range models.TailLayerTensors {
			w.Layers[j][name] = t.Tensors[models.TailLayerName(j, name)].Data
		}
	}
	if s.FinalLayerNorm {
		w.Final = map[string][]float32{
			"final.LayerNorm.weight": t.Tensors[models.TailFinalLNWeight].Data,
			"final.LayerNorm.bias":   t.Tensors[models.TailFinalLNBias].Data,
		}
	}
	return w, w.Validate()
}

// modelTail converts head's merged tail back to canonical weights.
func modelTail(w *head.TailWeights) *models.Tail {
	s := w.Spec
	t := &models.Tail{
		Spec: models.TailSpec{
			Layout: s.Layout, Hidden: s.Hidden, Heads: s.Heads, Intermediate: s.Intermediate, LayerNormEps: s.LayerNormEps,
			Activation: s.Activation, FirstLayer: s.FirstLayer, NumLayers: s.NumLayers, TotalLayers: s.TotalLayers,
			Pooling: s.Pooling, Normalize: s.Normalize, FinalLayerNorm: s.FinalLayerNorm,
		},
		Tensors: map[string]safetensors.Tensor{},
	}
	for j, l := range w.Layers {
		for name, data := range l {
			n := models.TailLayerName(j, name)
			t.Tensors[n] = safetensors.Tensor{Shape: t.Spec.Shape(n), Data: data}
		}
	}
	for name, data := range w.Final {
		t.Tensors[name] = safetensors.Tensor{Shape: t.Spec.Shape(name), Data: data}
	}
	return t
}

// dropouts reads a model's dropout rates from config.json (BERT names,
// DistilBERT's dropout / attention_dropout), 0.1 where it says nothing.
func dropouts(dir string) (hidden, attention float64) {
	hidden, attention = 0.1, 0.1
	raw, err := os.ReadFile(filepath.Join(dir, models.ConfigFile))
	if err != nil {
		return
	}
	var c struct {
		Hidden    *float64 `json:"hidden_dropout_prob"`
		Attention *float64 `json:"attention_probs_dropout_prob"`
		Dropout   *float64 `json:"dropout"`
		AttnDrop  *float64 `json:"attention_dropout"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return
	}
	for _, p := range []struct {
		dst *float64
		src []*float64
	}{{&hidden, []*float64{c.Hidden, c.Dropout}}, {&attention, []*float64{c.Attention, c.AttnDrop}}} {
		for _, v := range p.src {
			if v != nil && *v >= 0 && *v < 1 {
				*p.dst = *v
				break
			}
		}
	}
	return
}

// tuneSource fills head.TailSource: the encoder's own top layers, and the
// hidden states below them through the hidden-state cache.
type tuneSource struct {
	sp       *splitModel
	cacheDir string
	dtype    string
	noCache  bool
	log      io.Writer

	mu    sync.Mutex
	views []*encoder.HiddenStates
	tmp   []string
}

func (s *tuneSource) source() *head.TailSource {
	return &head.TailSource{Base: s.base, Hidden: s.hidden}
}

func (s *tuneSource) base(n int) (*head.TailWeights, error) {
	sm, err := s.sp.model()
	if err != nil {
		return nil, err
	}
	k, err := sm.SplitLayer(n)
	if err != nil {
		return nil, err
	}
	t, err := s.sp.Tail(k)
	if err != nil {
		return nil, err
	}
	hd, ad := dropouts(s.sp.dir)
	return headTail(t, hd, ad)
}

func (s *tuneSource) hidden(ctx context.Context, texts []string, k int) (head.Sequences, error) {
	if err := s.sp.checkSplit(ctx, k); err != nil {
		return nil, err
	}
	b, err := s.sp.Bottom(k)
	if err != nil {
		return nil, err
	}
	dir := s.cacheDir
	if dir == "" {
		dir = filepath.Join(encoder.CacheDir(), "hidden")
	}
	if s.noCache {
		if dir, err = os.MkdirTemp("", "bertserve-hidden-"); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.tmp = append(s.tmp, dir)
		s.mu.Unlock()
	}
	c, err := encoder.OpenHiddenCache(dir, s.sp.enc.Info(), k, b.Hidden(), s.dtype)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	t0 := time.Now()
	view, st, err := encoder.FillHidden(ctx, b, c, texts, encoder.FillOptions{
		Plan: func(p encoder.HiddenPlan) error {
			if p.Compute == 0 {
				return nil
			}
			free := ""
			if p.Free >= 0 {
				free = fmt.Sprintf(", %s free", encoder.FormatBytes(p.Free))
			}
			fmt.Fprintf(s.log, "hidden states below layer %d: running the bottom on %d texts (%d tokens, %d truncated); the cache grows by %s (%s) in %s%s\n",
				k, p.Compute, p.Tokens, p.Truncated, encoder.FormatBytes(p.Bytes), p.DType, c.Path(), free)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.views = append(s.views, view)
	s.mu.Unlock()
	if st.Compute == 0 {
		fmt.Fprintf(s.log, "all %d hidden states below layer %d came from the cache: no encoder work\n", len(texts), k)
	} else if st.Compute > 0 {
		fmt.Fprintf(s.log, "computed %d hidden states below layer %d in %.1fs (%d from the cache)\n", st.Compute, k, time.Since(t0).Seconds(), st.Cached)
	}
	return view, nil
}

// firstView is the first hidden states handed out (nil before any).
func (s *tuneSource) firstView() head.Sequences {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.views) == 0 {
		return nil
	}
	return s.views[0]
}

// Close releases the views and removes temporary caches.
func (s *tuneSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.views {
		v.Close()
	}
	s.views = nil
	for _, d := range s.tmp {
		os.RemoveAll(d)
	}
	s.tmp = nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// readTail reads a tailed head's tail.onnx and checks its digest.
func readTail(dir string, m *head.Model) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, tailFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("head %s owns encoder layers but has no %s: retrain it", dir, tailFile)
		}
		return nil, err
	}
	if got, want := sha256Hex(data), m.Meta().Tail.TailDigest; want != "" && !strings.EqualFold(want, got) {
		return nil, fmt.Errorf("%s has sha256 %s but head.json records %s: the head directory was changed or damaged; retrain it", filepath.Join(dir, tailFile), got, want)
	}
	return data, nil
}
