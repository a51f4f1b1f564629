package encoder

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/tokenizer/pretrained"
)

// benchLines reads up to n texts from column col of a ../shared/data TSV
// file with a header.
func benchLines(b *testing.B, file string, col, n int) []string {
	b.Helper()
	f, err := os.Open(filepath.Join(sharedDir(b), "data", file))
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	sc.Scan() // header
	for sc.Scan() && len(out) < n {
		cols := strings.Split(sc.Text(), "\t")
		if col < len(cols) {
			out = append(out, cols[col])
		}
	}
	return out
}

// reportPerSentence reports wall and CPU time per sentence; cpu0 is
// processCPU() when the timer started.
func reportPerSentence(b *testing.B, lines []string, tokens int, cpu0 time.Duration) {
	n := float64(b.N * len(lines))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/sentence")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/n, "cpu-ns/sentence")
	b.ReportMetric(float64(tokens)/n, "tokens/sentence")
}

// BenchmarkWordPieceEncode tokenizes SST-2 sentences (bert-base-uncased)
// and ChnSentiCorp reviews (bert-base-chinese); one op is the whole set.
func BenchmarkWordPieceEncode(b *testing.B) {
	for _, c := range []struct {
		name, tok, file string
		col             int
	}{
		{"sst2", refUncased, "sst2/train.tsv", 0},
		{"chnsenticorp", refChinese, "chnsenticorp/dev.tsv", 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			w := refTokenizer(b, c.tok)
			lines := benchLines(b, c.file, c.col, 2000)
			tokens := 0
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				for _, l := range lines {
					tokens += len(w.Encode(l, 512).IDs)
				}
			}
			reportPerSentence(b, lines, tokens, cpu0)
		})
	}
}

// BenchmarkWordPieceEncodeParallel is BenchmarkWordPieceEncode/sst2 from
// all GOMAXPROCS goroutines at once.
func BenchmarkWordPieceEncodeParallel(b *testing.B) {
	w := refTokenizer(b, refUncased)
	lines := benchLines(b, "sst2/train.tsv", 0, 2000)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			w.Encode(lines[i%len(lines)], 512)
			i++
		}
	})
}

// BenchmarkSugarmeEncode is the baseline: github.com/sugarme/tokenizer
// v0.3.0's own pipeline on the same SST-2 sentences.
func BenchmarkSugarmeEncode(b *testing.B) {
	p := filepath.Join(CacheDir(), "vocab", "bert-base-uncased", "tokenizer.json")
	if !fileExists(p) {
		b.Skipf("%s is absent: run make setup", p)
	}
	tk, err := pretrained.FromFile(p)
	if err != nil {
		b.Fatal(err)
	}
	tk.WithTruncation(nil)
	tk.WithPadding(nil)
	lines := benchLines(b, "sst2/train.tsv", 0, 200)
	tokens := 0
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			enc, err := tk.EncodeSingle(l, true)
			if err != nil {
				b.Fatal(err)
			}
			tokens += len(enc.Ids)
		}
	}
	reportPerSentence(b, lines, tokens, cpu0)
}
