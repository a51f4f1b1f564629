package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPartialLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "emb.npy")
	p, err := OpenPartial(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPartial(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second writer got %v, want ErrLocked", err)
	}
	p.File().Write([]byte("durable+lost"))
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the final name exists before Commit: %v", err)
	}
	// A checkpoint made 7 bytes durable; the rest is dropped on reopening.
	p, err = OpenPartial(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Truncate(7); err != nil {
		t.Fatal(err)
	}
	p.File().Write([]byte(" more"))
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "durable more" {
		t.Fatalf("committed %q", b)
	}
	if _, err := os.Stat(PartialPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("partial left after Commit: %v", err)
	}
}

func TestReopenPartialShorterThanCheckpoint(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "emb.jsonl")
	p, _ := OpenPartial(path)
	p.File().Write([]byte("abc"))
	if err := p.Truncate(10); !errors.Is(err, ErrPartialShort) {
		t.Fatalf("want ErrPartialShort, got %v", err)
	}
	p.Close()
	if err := RemovePartial(path); err != nil {
		t.Fatal(err)
	}
	if err := RemovePartial(path); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestIsResumable(t *testing.T) {
	t.Parallel()
	path := "/out/part-00001-of-00004.npy"
	for name, want := range map[string]bool{
		PartialPath(path):                    true,
		PartialManifestPath(path):            true,
		"/out/.emb.npy.tmp-12345":            false,
		"/out/.emb.npy.partial.json.tmp-999": false,
		"/out/emb.npy":                       false,
		"emb.partial":                        false, // not ours: no leading dot
		"/out/part-00001-of-00004.json":      false,
	} {
		if got := IsResumable(name); got != want {
			t.Errorf("IsResumable(%q) = %v, want %v", name, got, want)
		}
	}
}
