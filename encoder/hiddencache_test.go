package encoder_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
)

func randomStates(r *rand.Rand, T, H int) []float32 {
	h := make([]float32, T*H)
	for i := range h {
		h[i] = float32(r.NormFloat64() * 3)
	}
	return h
}

func TestHiddenCacheRoundTrip(t *testing.T) {
	t.Parallel()
	for _, dtype := range []string{encoder.HiddenFloat16, encoder.HiddenFloat32} {
		t.Run(dtype, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			info := encoder.Info{Digest: strings.Repeat("ab", 32), MaxLength: 128}
			const H = 8
			c, err := encoder.OpenHiddenCache(dir, info, 3, H, dtype)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			texts := []string{"a", "bb", "", "dddd", "ünïcode"}
			want := map[string][]float32{}
			for i, text := range texts {
				h := randomStates(r, i+1, H)
				want[text] = h
				if err := c.Put(text, h, i+1); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			// Reopen: the index is rebuilt from the file.
			c, err = encoder.OpenHiddenCache(dir, info, 3, H, dtype)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Len() != len(texts) {
				t.Fatalf("reopened cache holds %d texts, want %d", c.Len(), len(texts))
			}
			order := []string{"dddd", "a", "dddd", "", "ünïcode", "bb"}
			v, err := c.View(order)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			if v.Len() != len(order) || v.Hidden() != H {
				t.Fatalf("view: %d texts of width %d", v.Len(), v.Hidden())
			}
			tol := 0.0
			if dtype == encoder.HiddenFloat16 {
				tol = 1.0 / 1024 // float16 keeps 11 significant bits
			}
			var buf []float32
			for i, text := range order {
				var T int
				buf, T = v.Row(i, buf)
				w := want[text]
				if T*H != len(w) || len(buf) != len(w) || v.Tokens(i) != T {
					t.Fatalf("row %d (%q): T=%d, %d values, want %d", i, text, T, len(buf), len(w))
				}
				for j := range w {
					if d := math.Abs(float64(buf[j] - w[j])); d > tol*math.Abs(float64(w[j]))+1e-7 {
						t.Fatalf("row %d (%q) value %d: %g, stored %g", i, text, j, buf[j], w[j])
					}
				}
			}
			if _, err := c.View([]string{"missing"}); err == nil || !strings.Contains(err.Error(), "no entry for text 0") {
				t.Errorf("a missing text: %v", err)
			}
		})
	}
}

// TestHiddenCachePartialRecord checks that a run killed mid-write leaves a
// cache that reopens with its whole records and accepts new ones.
func TestHiddenCachePartialRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	info := encoder.Info{Digest: strings.Repeat("cd", 32), MaxLength: 64}
	c, err := encoder.OpenHiddenCache(dir, info, 1, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put("whole", make([]float32, 8), 2); err != nil {
		t.Fatal(err)
	}
	path := c.Path()
	c.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 40)) // a record header claiming 0 tokens, then junk
	f.Write([]byte{1, 2, 3})
	f.Close()
	st, _ := os.Stat(path)
	f, _ = os.OpenFile(path, os.O_WRONLY, 0)
	f.Truncate(st.Size() - 1) // the last record is now cut short
	f.Close()
	c, err = encoder.OpenHiddenCache(dir, info, 1, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Has("whole") {
		t.Fatal("the whole record was lost")
	}
	if err := c.Put("next", []float32{1, 2, 3, 4}, 1); err != nil {
		t.Fatal(err)
	}
	v, err := c.View([]string{"next", "whole"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if row, T := v.Row(0, nil); T != 1 || row[3] != 4 {
		t.Errorf("the record after a partial one reads back as %v (T=%d)", row, T)
	}
}

func TestHiddenCacheFormatMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	info := encoder.Info{Digest: strings.Repeat("ef", 32), MaxLength: 32}
	c, err := encoder.OpenHiddenCache(dir, info, 0, 4, encoder.HiddenFloat32)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The same file (name) read with another width: refused with what to do.
	if _, err := encoder.OpenHiddenCache(dir, info, 0, 6, encoder.HiddenFloat32); err == nil || !strings.Contains(err.Error(), "delete the file") {
		t.Errorf("width mismatch: %v", err)
	}
	if _, err := encoder.OpenHiddenCache(dir, info, 0, 4, "bfloat16"); err == nil || !strings.Contains(err.Error(), "storage type") {
		t.Errorf("unknown type: %v", err)
	}
}

// TestHiddenCacheSharedFile has two handles (as two processes would) append
// to one file: each sees the other's records after its own next write.
func TestHiddenCacheSharedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	info := encoder.Info{Digest: strings.Repeat("12", 32), MaxLength: 32}
	a, err := encoder.OpenHiddenCache(dir, info, 2, 3, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := encoder.OpenHiddenCache(dir, info, 2, 3, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Put("from a", []float32{1, 2, 3}, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("from b", []float32{4, 5, 6, 7, 8, 9}, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.Put("from a again", []float32{0, 0, 1}, 1); err != nil {
		t.Fatal(err)
	}
	v, err := a.View([]string{"from a", "from b", "from a again"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if row, T := v.Row(1, nil); T != 2 || row[5] != 9 {
		t.Errorf("b's record read through a: %v T=%d", row, T)
	}
	if row, _ := v.Row(0, nil); row[2] != 3 {
		t.Errorf("a's first record was overwritten: %v", row)
	}
}

// tinySplit builds tiny-bert's bottom below layer 1 from the weights of
// tinyModel and opens it on the tiny model's encoder.
func tinySplit(t *testing.T) (*encoder.Encoder, *encoder.Bottom) {
	t.Helper()
	dir := tinyModel(t)
	cfg, err := models.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := models.BuildBottom(cfg, models.RandomWeights(cfg, 7), 1)
	if err != nil {
		t.Fatal(err)
	}
	graph, err := b.Model.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	enc := open(t, encoder.Options{ModelDir: dir, Threads: 1, BatchTokens: 64})
	bottom, err := enc.OpenBottom(graph)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bottom.Close() })
	return enc, bottom
}

func TestFillHidden(t *testing.T) {
	enc, bottom := tinySplit(t)
	if bottom.Hidden() != 32 {
		t.Fatalf("tiny-bert's bottom is %d wide, want 32", bottom.Hidden())
	}
	dir := t.TempDir()
	c, err := encoder.OpenHiddenCache(dir, enc.Info(), 1, bottom.Hidden(), encoder.HiddenFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	texts := []string{"a gorgeous, witty, seductive movie.", "dull", "a gorgeous, witty, seductive movie.", "", strings.Repeat("very long text ", 40)}
	var plan encoder.HiddenPlan
	v, st, err := encoder.FillHidden(context.Background(), bottom, c, texts, encoder.FillOptions{
		Plan: func(p encoder.HiddenPlan) error { plan = p; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if plan.Compute != 4 || plan.Unique != 4 || plan.Cached != 0 || st.Truncated != 0 {
		t.Errorf("plan %+v: want 4 unique texts to compute", plan)
	}
	if plan.Bytes <= 0 || plan.Free <= 0 {
		t.Errorf("plan %+v: want a size estimate and the free space", plan)
	}
	// Every row equals the bottom run on that text alone.
	encs := bottom.Tokenize(texts)
	var buf []float32
	for i := range texts {
		var T int
		buf, T = v.Row(i, buf)
		if T != len(encs[i].IDs) {
			t.Fatalf("text %d: %d cached tokens, the tokenizer gives %d", i, T, len(encs[i].IDs))
		}
		err := bottom.Run(context.Background(), encs[i:i+1], func(_ int, h []float32, T2 int) error {
			for j := range h {
				if math.Abs(float64(h[j]-buf[j])) > 1e-6 {
					t.Fatalf("text %d value %d: cached %g, computed alone %g", i, j, buf[j], h[j])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A second fill finds everything in the cache and runs nothing.
	v2, st2, err := encoder.FillHidden(context.Background(), bottom, c, texts[:2], encoder.FillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v2.Close()
	if st2.Compute != 0 || st2.Cached != 2 || st2.Batches != 0 {
		t.Errorf("second fill: %+v, want no work", st2.HiddenPlan)
	}
	if c.DType() != encoder.HiddenFloat32 || c.Len() != 4 {
		t.Errorf("cache holds %d texts as %s", c.Len(), c.DType())
	}
}

func TestFillHiddenDiskFull(t *testing.T) {
	enc, bottom := tinySplit(t)
	c, err := encoder.OpenHiddenCache(t.TempDir(), enc.Info(), 1, bottom.Hidden(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, err = encoder.FillHidden(context.Background(), bottom, c, []string{"some text"}, encoder.FillOptions{Reserve: 1 << 62})
	var full *encoder.DiskFullError
	if !errors.As(err, &full) || !strings.Contains(err.Error(), "--cache-dir") {
		t.Fatalf("want a DiskFullError naming --cache-dir, got %v", err)
	}
	if c.Len() != 0 {
		t.Error("a refused fill wrote to the cache")
	}
}

// TestHiddenStatesConcurrentReaders reads rows from many goroutines (run
// under -race).
func TestHiddenStatesConcurrentReaders(t *testing.T) {
	t.Parallel()
	info := encoder.Info{Digest: strings.Repeat("77", 32), MaxLength: 16}
	c, err := encoder.OpenHiddenCache(t.TempDir(), info, 0, 16, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(3, 4))
	var texts []string
	for i := 0; i < 50; i++ {
		texts = append(texts, strings.Repeat("x", i))
		if err := c.Put(texts[i], randomStates(r, 1+i%7, 16), 1+i%7); err != nil {
			t.Fatal(err)
		}
	}
	v, err := c.View(texts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	first := make([][]float32, len(texts))
	for i := range texts {
		first[i], _ = v.Row(i, nil)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []float32
			for k := 0; k < 200; k++ {
				i := (k*7 + g) % len(texts)
				buf, _ = v.Row(i, buf)
				if buf[len(buf)-1] != first[i][len(first[i])-1] {
					t.Errorf("row %d differs between readers", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzHiddenCacheOpen feeds arbitrary bytes as a cache file: opening and
// reading every indexed text must fail cleanly or succeed, never panic.
func FuzzHiddenCacheOpen(f *testing.F) {
	info := encoder.Info{Digest: strings.Repeat("99", 32), MaxLength: 8}
	seed := t2bytes(f, info)
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte("BSHIDDEN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, encoder.HiddenCacheName(info, 0, "")), data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := encoder.OpenHiddenCache(dir, info, 0, 2, "")
		if err != nil {
			return
		}
		defer c.Close()
		for _, text := range []string{"a", "b"} {
			if !c.Has(text) {
				continue
			}
			v, err := c.View([]string{text})
			if err != nil {
				t.Fatal(err)
			}
			v.Row(0, nil)
			v.Close()
		}
	})
}

// t2bytes is a valid cache file holding "a" and "b".
func t2bytes(f *testing.F, info encoder.Info) []byte {
	dir := f.TempDir()
	c, err := encoder.OpenHiddenCache(dir, info, 0, 2, "")
	if err != nil {
		f.Fatal(err)
	}
	c.Put("a", []float32{1, 2}, 1)
	c.Put("b", []float32{1, 2, 3, 4}, 2)
	c.Close()
	data, err := os.ReadFile(c.Path())
	if err != nil {
		f.Fatal(err)
	}
	return data
}
