package atomicfile_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// A directory replaced as a whole: a reader sees the old files or the new
// ones, and a killed writer's leftovers go on the next run.
func ExampleReplaceDir() {
	root, _ := os.MkdirTemp("", "atomicfile-example")
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "head")
	for _, version := range []string{"v1", "v2"} {
		err := atomicfile.ReplaceDir(dir, func(tmp string) error {
			return os.WriteFile(filepath.Join(tmp, "head.json"), []byte(version), 0o644)
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	// What a run killed mid-write leaves, and a resumable partial.
	os.WriteFile(filepath.Join(root, ".head.tmp-123"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(root, ".emb.npy.partial"), []byte("rows so far"), 0o644)
	atomicfile.RepairDir(dir) // as every reader of dir does first

	b, _ := os.ReadFile(filepath.Join(dir, "head.json"))
	entries, _ := os.ReadDir(root)
	fmt.Println(string(b))
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// v2
	// .emb.npy.partial
	// head
}
