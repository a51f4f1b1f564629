package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/serve"
)

// servedTails are the tails of the heads being served, by key (the
// digest of tail.onnx), with the bottoms and the encoder's own tails they
// need. Heads that share a tail share its session.
type servedTails struct {
	sp *splitModel

	mu    sync.RWMutex
	tails map[string]*servedTail
	base  map[int]*encoder.Tail // the encoder's own tail below layer k
}

type servedTail struct {
	k    int
	tail *encoder.Tail
}

func newServedTails(enc *encoder.Encoder, modelDir string) *servedTails {
	return &servedTails{sp: newSplitModel(enc, modelDir), tails: map[string]*servedTail{}, base: map[int]*encoder.Tail{}}
}

// register loads a head's tail graph (split below layer k) once per key,
// and the bottom it needs.
func (s *servedTails) register(key string, k int, graph []byte) error {
	s.mu.RLock()
	_, ok := s.tails[key]
	s.mu.RUnlock()
	if ok {
		return nil
	}
	if _, err := s.sp.Bottom(k); err != nil {
		return err
	}
	t, err := s.sp.enc.OpenTail(graph)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tails[key]; ok {
		t.Close()
		return nil
	}
	s.tails[key] = &servedTail{k: k, tail: t}
	return nil
}

// baseTail is the encoder's own tail below layer k, pooled as the
// encoder pools: for texts that a request needs both plain and tailed
// heads for, the bottom is shared and the plain output comes from it.
func (s *servedTails) baseTail(k int) (*encoder.Tail, error) {
	s.mu.RLock()
	t, ok := s.base[k]
	s.mu.RUnlock()
	if ok {
		return t, nil
	}
	enc := s.sp.enc
	pooling := enc.Info().Pooling
	var opt models.TailGraphOptions
	tailPooling := pooling
	switch pooling {
	case "cls", "mean", "max":
		// Pooled by the encoder's own code from last_hidden_state.
		tailPooling, opt.HiddenOutput = "mean", true
	}
	sm, err := s.sp.model()
	if err != nil {
		return nil, err
	}
	tail, err := sm.Tail(k, tailPooling, false)
	if err != nil {
		return nil, err
	}
	g, err := models.BuildTail(tail, opt)
	if err != nil {
		return nil, err
	}
	graph, err := g.Marshal()
	if err != nil {
		return nil, err
	}
	if t, err = enc.OpenBaseTail(graph); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.base[k]; ok {
		t.Close()
		return old, nil
	}
	s.base[k] = t
	return t, nil
}

// Close releases every session.
func (s *servedTails) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tails {
		t.tail.Close()
	}
	for _, t := range s.base {
		t.Close()
	}
	s.tails, s.base = map[string]*servedTail{}, map[int]*encoder.Tail{}
	s.sp.Close()
}

// EmbedNeeds computes, per text, the base output and the tails it needs:
// texts that need only the base go through model.onnx as always; the
// others run the bottom below each split layer once, then every tail of
// that split on just the rows that asked for it, and, for rows that also
// need the base, the encoder's own tail from the same bottom, so no layer
// runs twice for a text.
func (b *encoderBackend) EmbedNeeds(ctx context.Context, texts []string, needs []serve.Need) (*serve.Embeddings, error) {
	st := b.tails
	if st == nil {
		return nil, fmt.Errorf("this server runs no head tails")
	}
	t0 := time.Now()
	res := &serve.Embeddings{Vectors: make([][]float32, len(texts)), Tails: make([]map[string][]float32, len(texts)), TokenCounts: make([]int, len(texts))}
	encs := b.enc.Tokenize(texts)
	tokenizeTime := time.Since(t0)
	for i, e := range encs {
		res.TokenCounts[i] = len(e.IDs)
		res.Tails[i] = map[string][]float32{}
	}
	// The split of each needed tail, and each row's lowest split.
	splitOf := map[string]int{}
	st.mu.RLock()
	for _, n := range needs {
		for _, key := range n.Tails {
			t, ok := st.tails[key]
			if !ok {
				st.mu.RUnlock()
				return nil, fmt.Errorf("no tail %s is loaded", key)
			}
			splitOf[key] = t.k
		}
	}
	st.mu.RUnlock()
	lowest := make([]int, len(texts))
	var plain []int
	for i, n := range needs {
		lowest[i] = -1
		for _, key := range n.Tails {
			if k := splitOf[key]; lowest[i] < 0 || k < lowest[i] {
				lowest[i] = k
			}
		}
		if n.Base && lowest[i] < 0 {
			plain = append(plain, i)
		}
	}
	if len(plain) > 0 {
		sub := make([]string, len(plain))
		for j, i := range plain {
			sub[j] = texts[i]
		}
		r, err := b.enc.Embed(ctx, sub)
		if err != nil {
			return nil, err
		}
		for j, i := range plain {
			res.Vectors[i] = r.Vectors[j]
		}
	}
	ks := map[int]bool{}
	for _, k := range splitOf {
		ks[k] = true
	}
	order := make([]int, 0, len(ks))
	for k := range ks {
		order = append(order, k)
	}
	sort.Ints(order)
	for _, k := range order {
		bottom, err := st.sp.Bottom(k)
		if err != nil {
			return nil, err
		}
		var keys []string
		var tails []*encoder.Tail
		st.mu.RLock()
		for key, kk := range splitOf {
			if kk == k {
				keys = append(keys, key)
				tails = append(tails, st.tails[key].tail)
			}
		}
		st.mu.RUnlock()
		baseIdx := -1
		for i, n := range needs {
			if n.Base && lowest[i] == k {
				bt, err := st.baseTail(k)
				if err != nil {
					return nil, err
				}
				baseIdx = len(tails)
				tails = append(tails, bt)
				break
			}
		}
		var rows []int
		for i, n := range needs {
			for _, key := range n.Tails {
				if splitOf[key] == k {
					rows = append(rows, i)
					break
				}
			}
		}
		sub := make([]encoder.Encoding, len(rows))
		for j, i := range rows {
			sub[j] = encs[i]
		}
		out, err := bottom.EmbedNeeds(ctx, sub, tails, func(j, t int) bool {
			n := needs[rows[j]]
			if t == baseIdx {
				return n.Base && lowest[rows[j]] == k
			}
			return slices.Contains(n.Tails, keys[t])
		})
		if err != nil {
			return nil, err
		}
		for j, i := range rows {
			for t := range tails {
				if out[t][j] == nil {
					continue
				}
				if t == baseIdx {
					res.Vectors[i] = out[t][j]
				} else {
					res.Tails[i][keys[t]] = out[t][j]
				}
			}
		}
	}
	res.TokenizeTime = tokenizeTime
	res.InferenceTime = time.Since(t0) - tokenizeTime
	return res, nil
}
