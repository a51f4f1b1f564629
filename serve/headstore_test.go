package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// jsonHead saves a fakeHead's labels as labels.json.
func jsonStore(t *testing.T, dir string) *DirStore {
	t.Helper()
	s, err := NewDirStore(DirStoreConfig{
		Dir: dir,
		Load: func(dir string) (Head, error) {
			data, err := os.ReadFile(filepath.Join(dir, "labels.json"))
			if err != nil {
				return nil, err
			}
			var labels []string
			if err := json.Unmarshal(data, &labels); err != nil {
				return nil, err
			}
			return newFakeHead(labels...), nil
		},
		Save: func(dir string, h Head) error {
			if strings.Contains(h.Labels()[0], "fail") {
				return errors.New("cannot save")
			}
			data, _ := json.Marshal(h.Labels())
			return atomicfile.ReplaceDir(dir, func(tmp string) error { // as head.Save does
				return os.WriteFile(filepath.Join(tmp, "labels.json"), data, 0o644)
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDirStore(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "heads")
	s := jsonStore(t, dir)
	if err := s.Save("sentiment", newFakeHead("neg", "pos")); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("topic", newFakeHead("a", "b")); err != nil {
		t.Fatal(err)
	}
	// Replacing keeps one directory, with the new content.
	if err := s.Save("sentiment", newFakeHead("bad", "good")); err != nil {
		t.Fatal(err)
	}
	h, err := s.Load("sentiment")
	if err != nil || strings.Join(h.Labels(), ",") != "bad,good" {
		t.Fatalf("Load after replace: %v %v", h, err)
	}
	// A failed save leaves the previous head and no temporary directory.
	if err := s.Save("sentiment", newFakeHead("fail", "x")); err == nil {
		t.Fatal("Save did not report the failure")
	}
	h, _ = s.Load("sentiment")
	if strings.Join(h.Labels(), ",") != "bad,good" {
		t.Errorf("a failed save changed the head: %v", h.Labels())
	}
	os.MkdirAll(filepath.Join(dir, "not a head!"), 0o755)
	os.WriteFile(filepath.Join(dir, "stray.txt"), nil, 0o644)
	names, err := s.Names()
	if err != nil || !slices.Equal(names, []string{"sentiment", "topic"}) {
		t.Errorf("Names %v %v", names, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
	if err := s.Delete("topic"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("topic"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleting a missing head: %v, want fs.ErrNotExist", err)
	}
	for _, bad := range []string{"../x", "a/b", "..", ".hidden", ""} {
		if err := s.Save(bad, newFakeHead("a", "b")); err == nil {
			t.Errorf("Save(%q) accepted a bad name", bad)
		}
		if _, err := s.Load(bad); err == nil {
			t.Errorf("Load(%q) accepted a bad name", bad)
		}
		if err := s.Delete(bad); err == nil {
			t.Errorf("Delete(%q) accepted a bad name", bad)
		}
	}
}

func TestDirStoreRepairsInterruptedReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := jsonStore(t, dir)
	s.Save("sentiment", newFakeHead("neg", "pos"))
	// A crash after moving the old version aside, before the new one landed.
	os.Rename(filepath.Join(dir, "sentiment"), filepath.Join(dir, ".sentiment.old-abc"))
	os.MkdirAll(filepath.Join(dir, ".sentiment.new-123"), 0o755)
	s2 := jsonStore(t, dir)
	h, err := s2.Load("sentiment")
	if err != nil || strings.Join(h.Labels(), ",") != "neg,pos" {
		t.Fatalf("the previous head was not restored: %v %v", h, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftovers after repair: %v", entries)
	}
}

func TestServerLoadsHeadsFromDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := jsonStore(t, dir)
	store.Save("good", newFakeHead("a", "b"))
	os.MkdirAll(filepath.Join(dir, "broken"), 0o755) // no labels.json
	store.Save("onelabel", newFakeHead("only"))
	s, _ := testServer(t, func(c *Config) { c.Store = store })
	names, err := s.LoadHeads()
	if err != nil || !slices.Equal(names, []string{"good"}) {
		t.Errorf("LoadHeads %v %v: broken heads must be skipped, good ones served", names, err)
	}
}

func TestValidateHeadName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"sentiment": true, "topic-v2": true, "a.b_c": true, "X9": true, strings.Repeat("a", 64): true,
		"": false, ".x": false, "-x": false, "a..b": false, "..": false, "a/b": false, `a\b`: false,
		"a b": false, "é": false, strings.Repeat("a", 65): false, "a\x00": false,
	} {
		if err := ValidateHeadName(name); (err == nil) != ok {
			t.Errorf("ValidateHeadName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func ExampleValidateHeadName() {
	fmt.Println(ValidateHeadName("sentiment-v2"))
	fmt.Println(ValidateHeadName("../etc"))
	// Output:
	// <nil>
	// invalid head name "../etc": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'
}

func TestRegistrySnapshotIsStable(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	r.Put("a", newFakeHead("x", "y"))
	snap := r.Snapshot()
	r.Put("b", newFakeHead("x", "y"))
	r.Remove("a")
	if _, ok := snap["a"]; !ok || len(snap) != 1 {
		t.Errorf("an earlier snapshot changed: %v", snap)
	}
	if !slices.Equal(r.Names(), []string{"b"}) {
		t.Errorf("names %v", r.Names())
	}
	if _, err := r.Put("c", newFakeHead("only")); err == nil {
		t.Error("a one-label head was accepted")
	}
	if r.Remove("zz") {
		t.Error("removing a missing head reported success")
	}
}

// An int8 encoder serves the heads trained on the float32 model it was
// quantized from (and on other int8 variants of it), not other models'
// heads, and /info says int8.
func TestLoadHeadsOnAnInt8Encoder(t *testing.T) {
	t.Parallel()
	mk := func(digest, from string) Head {
		h := newFakeHead("a", "b")
		h.info.EncoderDigest, h.info.EncoderQuantizedFrom, h.info.Pooling = digest, from, "mean"
		return h
	}
	store := newMemStore()
	store.Save("float32-source", mk("sha256:f32", ""))
	store.Save("same-int8", mk("sha256:fake", "sha256:f32"))
	store.Save("other-int8-of-source", mk("sha256:int8b", "sha256:f32"))
	store.Save("other-model", mk("sha256:other", ""))
	store.Save("int8-of-other-model", mk("sha256:int8c", "sha256:other"))
	s, emb := testServer(t, func(c *Config) { c.Store = store })
	emb.quantizedFrom = "sha256:f32"
	s.SetEmbedder(emb)
	names, err := s.LoadHeads()
	if want := []string{"float32-source", "other-int8-of-source", "same-int8"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("loaded %v (%v), want %v", names, err, want)
	}
	if info := decode[InfoResponse](t, call(t, s.Handler(), "GET", "/info", nil)); info.ModelDtype != "int8" || info.ModelQuantizedFrom != "sha256:f32" {
		t.Errorf("/info model_dtype %q model_quantized_from %q", info.ModelDtype, info.ModelQuantizedFrom)
	}
}

func TestLoadHeadsChecksTheEncoder(t *testing.T) {
	t.Parallel()
	mk := func(mod func(h *fakeHead)) Head {
		h := newFakeHead("a", "b")
		h.info.EncoderDigest = "sha256:fake"
		h.info.Pooling = "mean"
		mod(h)
		return h
	}
	store := newMemStore()
	store.Save("ok", mk(func(*fakeHead) {}))
	store.Save("unknown-origin", mk(func(h *fakeHead) { h.info.EncoderDigest = ""; h.info.Pooling = "" }))
	store.Save("other-encoder", mk(func(h *fakeHead) { h.info.EncoderDigest = "sha256:other" }))
	store.Save("other-pooling", mk(func(h *fakeHead) { h.info.Pooling = "cls" }))
	store.Save("other-dim", mk(func(h *fakeHead) { h.dim = 3 }))
	for _, tc := range []struct {
		force      bool
		normalized bool
		want       []string
	}{
		{false, false, []string{"ok", "unknown-origin"}},
		{true, false, []string{"ok", "other-encoder", "other-pooling", "unknown-origin"}},
		{false, true, nil}, // a normalising encoder cannot feed raw-embedding heads
	} {
		s, emb := testServer(t, func(c *Config) { c.Store = store; c.ForceHeads = tc.force })
		emb.normalized = tc.normalized
		s.SetEmbedder(emb)
		names, err := s.LoadHeads()
		if err != nil || !slices.Equal(names, tc.want) {
			t.Errorf("force=%v normalized=%v: loaded %v (%v), want %v", tc.force, tc.normalized, names, err, tc.want)
		}
	}
}
