package head

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSaveWritesEverythingInOneSwap: extra files land with the head, and
// a stale temporary an old version left inside the head (the cause of
// "holds .curves.png.tmp-…, so it is not a head directory") neither
// blocks the next save nor survives it.
func TestSaveWritesEverythingInOneSwap(t *testing.T) {
	t.Parallel()
	m, _ := trained(t, quick(HeadSoftmax))
	dir := filepath.Join(t.TempDir(), "h")
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".curves.png.tmp-12345")
	if err := os.WriteFile(stale, []byte("half a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<16)
	err := Save(dir, m, SaveOptions{Files: map[string][]byte{"curves.json": []byte("{}\n"), "tail.onnx": big},
		Fill: func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "extra.bin"), []byte("x"), 0o644) }})
	if err != nil {
		t.Fatalf("saving over a head with a stale temporary inside: %v", err)
	}
	for _, f := range []string{MetaFile, TensorsFile, "curves.json", "tail.onnx", "extra.bin"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s missing: %v", f, err)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale temporary survived the save: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*")); len(left) > 0 {
		t.Errorf("temporaries left: %v", left)
	}
	for _, bad := range []string{"../x", "a/b", MetaFile, "", ".."} {
		if err := Save(dir, m, SaveOptions{Files: map[string][]byte{bad: nil}}); err == nil {
			t.Errorf("extra file %q accepted", bad)
		}
	}
	if _, err := Load(dir); err != nil {
		t.Fatalf("a refused save damaged the head: %v", err)
	}
}

// TestLoadRepairsAnInterruptedSwap: a kill between the two renames of a
// swap leaves the head aside as .DIR.old-*; the next Load puts it back.
func TestLoadRepairsAnInterruptedSwap(t *testing.T) {
	t.Parallel()
	m, _ := trained(t, quick(HeadSoftmax))
	parent := t.TempDir()
	dir := filepath.Join(parent, "h")
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, filepath.Join(parent, ".h.old-abc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(parent, ".h.tmp-def"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatalf("Load after an interrupted swap: %v", err)
	}
	if got.Dim() != m.Dim() {
		t.Fatal("another head came back")
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 || strings.HasPrefix(entries[0].Name(), ".") {
		t.Errorf("left after repair: %v", entries)
	}
}
