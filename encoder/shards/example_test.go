package shards_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/encoder/npy"
	"github.com/bertserve/bertserve/encoder/shards"
)

// Two workers each embedded every other row of a 5-row corpus; Merge puts
// the rows back in corpus order.
func ExampleMerge() {
	dir, _ := os.MkdirTemp("", "shards-example-")
	defer os.RemoveAll(dir)
	corpus := [][]float32{{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}}
	for i := range 2 {
		var part [][]float32
		for r := i; r < len(corpus); r += 2 {
			part = append(part, corpus[r])
		}
		var b bytes.Buffer
		npy.Write(&b, part)
		os.WriteFile(filepath.Join(dir, shards.Name(i, 2)), b.Bytes(), 0o644)
		sum := sha256.Sum256(b.Bytes())
		shards.WriteManifest(dir, &shards.Manifest{Format: shards.FormatVersion, Shard: i, Shards: 2,
			File: shards.Name(i, 2), Rows: len(part), Dim: 2, Bytes: int64(b.Len()), SHA256: hex.EncodeToString(sum[:]),
			Input: shards.Input{Rows: len(corpus)}, Complete: true})
	}
	out := filepath.Join(dir, "all.npy")
	set, err := shards.Merge(dir, out)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := npy.ReadFile(out)
	fmt.Println(set.Shards, "shards,", m.Rows, "rows:", m.Data)
	// Output: 2 shards, 5 rows: [0 0 1 1 2 2 3 3 4 4]
}
