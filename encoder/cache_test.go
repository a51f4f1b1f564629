package encoder

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestCacheRoundTripAndPartialRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	info := Info{Digest: "abc", Pooling: "cls", MaxLength: 128, Dim: 3}
	c, err := OpenCache(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put([]string{"a", "b", "a"}, [][]float32{{1, 2, 3}, {4, 5, 6}, {1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (duplicates stored once)", c.Len())
	}
	if err := c.Put([]string{"x"}, [][]float32{{1}}); err == nil {
		t.Fatal("want an error for a vector of the wrong dim")
	}
	c.Close()

	// Simulate a run killed mid-record: a few stray bytes at the end.
	path := filepath.Join(dir, CacheKey(info)+".bin")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{1, 2, 3, 4, 5})
	f.Close()

	c, err = OpenCache(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, ok, err := c.Get("b")
	if err != nil || !ok || v[0] != 4 || v[2] != 6 {
		t.Fatalf("Get(b) = %v %v %v", v, ok, err)
	}
	if _, ok, _ := c.Get("missing"); ok {
		t.Fatal("Get(missing) found something")
	}
	if err := c.Put([]string{"c"}, [][]float32{{7, 8, 9}}); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := c.Get("c"); !ok || v[1] != 8 {
		t.Fatalf("Get(c) after overwriting the partial record = %v %v", v, ok)
	}
	// A different configuration gets a different file.
	other := info
	other.Normalize = true
	if CacheKey(other) == CacheKey(info) {
		t.Fatal("normalize must change the cache key")
	}
}

// Two openers of one cache file stand for two processes (a CLI train
// beside another, or beside a server's training job): each must pick up
// what the other appended instead of writing over it, and a third opener
// must read every record back intact.
func TestCacheSharedByTwoWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	info := Info{Digest: "shared", Pooling: "mean", MaxLength: 64, Dim: 2}
	a, err := OpenCache(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenCache(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := map[string][]float32{}
	for i := 0; i < 20; i++ {
		w := a
		if i%2 == 1 {
			w = b
		}
		text := fmt.Sprintf("text %d", i)
		vec := []float32{float32(i), float32(-i)}
		want[text] = vec
		if err := w.Put([]string{text}, [][]float32{vec}); err != nil {
			t.Fatal(err)
		}
	}
	// b also learned a's records while writing; a new reader sees all.
	if v, ok, _ := b.Get("text 18"); !ok || v[0] != 18 {
		t.Errorf("b.Get(text 18) = %v %v, want the record a appended", v, ok)
	}
	c, err := OpenCache(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Len() != len(want) {
		t.Fatalf("a third opener finds %d records, want %d", c.Len(), len(want))
	}
	for text, vec := range want {
		v, ok, err := c.Get(text)
		if err != nil || !ok || v[0] != vec[0] || v[1] != vec[1] {
			t.Errorf("Get(%q) = %v %v %v, want %v", text, v, ok, err, vec)
		}
	}
}
