package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCleanStaleOnlyOurs: only .X.tmp-* and .X.old-* of X go; resumable
// partials (.X.partial*), other names and other outputs' temporaries stay.
func TestCleanStaleOnlyOurs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := []string{".emb.npy.tmp-123", ".emb.npy.tmp-9", ".emb.npy.old-x", ".emb.npy.partial", ".emb.npy.partial-0.json",
		".other.npy.tmp-1", "emb.npy", ".emb.npy.keep", "notes.txt"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".emb.npy.tmp-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	removed, err := CleanStale(filepath.Join(dir, "emb.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range removed {
		removed[i] = filepath.Base(removed[i])
	}
	slices.Sort(removed)
	want := []string{".emb.npy.old-x", ".emb.npy.tmp-123", ".emb.npy.tmp-9", ".emb.npy.tmp-dir"}
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	for _, n := range []string{".emb.npy.partial", ".emb.npy.partial-0.json", ".other.npy.tmp-1", "emb.npy", ".emb.npy.keep", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}

// TestCleanStaleSparesLiveWriters: while a writer holds the directory,
// nothing is removed, not even what looks abandoned.
func TestCleanStaleSparesLiveWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".out.tmp-live")
	if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := lockDir(dir, false, true) // a writer inside
	if err != nil {
		t.Fatal(err)
	}
	if removed, _ := CleanStale(filepath.Join(dir, "out")); len(removed) > 0 {
		t.Fatalf("removed a live writer's temporary: %v", removed)
	}
	l.unlock()
	if removed, _ := CleanStale(filepath.Join(dir, "out")); len(removed) != 1 {
		t.Fatalf("after the writer left, removed %v, want the temporary", removed)
	}
}

// TestWriteCleansWhatAKilledWriteLeft: the next Write to X removes the
// temporaries of X that a killed run left.
func TestWriteCleansWhatAKilledWriteLeft(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "emb.npy")
	left := filepath.Join(dir, ".emb.npy.tmp-4242")
	partial := filepath.Join(dir, ".emb.npy.partial")
	for _, p := range []string{left, partial} {
		if err := os.WriteFile(p, []byte("killed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteBytes(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the killed run's temporary is still there: %v", err)
	}
	if _, err := os.Stat(partial); err != nil {
		t.Errorf("a resumable partial was removed: %v", err)
	}
}

// TestRepairRestoresMovedAside: a kill between the two renames of a swap
// leaves X missing and its old version aside; RepairDir puts it back.
func TestRepairRestoresMovedAside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "head")
	old := filepath.Join(dir, ".head.old-abc")
	newTmp := filepath.Join(dir, ".head.tmp-def")
	for _, d := range []string{old, newTmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "head.json"), []byte(filepath.Base(d)), 0o644)
	}
	if err := RepairDir(path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(path, "head.json")); err != nil || string(b) != ".head.old-abc" {
		t.Fatalf("head.json after repair: %q, %v", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".head.*")); len(left) > 0 {
		t.Fatalf("left after repair: %v", left)
	}
}
