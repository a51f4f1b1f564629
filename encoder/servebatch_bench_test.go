package encoder

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkServeBatch embeds batches of 32 SST-2 dev sentences, the shape
// a server's cross-request batch has, with the MiniLM-shaped test model
// (make testmodel).
func BenchmarkServeBatch(b *testing.B) {
	dir := filepath.Join(CacheDir(), "models", "minilm-l6-h384-random")
	f, err := os.Open(filepath.Join("..", "..", "shared", "data", "sst2", "dev.tsv"))
	if err != nil {
		b.Skip(err)
	}
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Scan()
	for sc.Scan() {
		t, _, _ := strings.Cut(sc.Text(), "\t")
		texts = append(texts, t)
	}
	f.Close()
	e, err := Open(Options{ModelDir: dir, Threads: 2})
	if err != nil {
		b.Skip(err)
	}
	defer e.Close()
	r := rand.New(rand.NewPCG(1, 2))
	batches := make([][]string, 64)
	for i := range batches {
		for range 32 {
			batches[i] = append(batches[i], texts[r.IntN(len(texts))])
		}
	}
	b.ResetTimer()
	runs := 0
	for i := 0; i < b.N; i++ {
		res, err := e.Embed(context.Background(), batches[i%len(batches)])
		if err != nil {
			b.Fatal(err)
		}
		runs += res.Batches
	}
	b.ReportMetric(float64(runs)/float64(b.N), "runs/op")
	b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "texts/s")
}
