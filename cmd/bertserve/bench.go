package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/encoder/stream"
)

// cmdBench measures, side by side in one process, (a) the embed path end to
// end (read the corpus, tokenize, batch, run, pool, write .npy) and (b) the
// ONNX Runtime floor: the same length-sorted padded batches, pre-tokenized,
// only session.Run. Runs alternate a, b, a, b... and the medians are
// compared, so machine noise hits both alike.
func cmdBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var ef encoderFlags
	ef.register(fs)
	input := fs.String("input", "", "corpus to embed (e.g. ../shared/data/sst2-glue/train.tsv)")
	textCol := fs.String("text-col", "", "text column (default: the first text-like column)")
	n := fs.Int("n", 5000, "number of rows to take from the start of the corpus")
	rounds := fs.Int("rounds", 3, "alternating rounds of each measurement")
	var against []string
	fs.Func("against", "another model directory, or an .onnx file run with --model's tokenizer, whose ORT floor is measured in the same rounds with its ratio to --model's (repeatable)", func(s string) error {
		against = append(against, s)
		return nil
	})
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *input == "" || *n <= 0 || *rounds <= 0 {
		return usagef("--input is required; --n and --rounds must be positive")
	}
	texts, err := readTexts(*input, *textCol, *n)
	if err != nil {
		return err
	}
	enc, err := ef.open()
	if err != nil {
		return err
	}
	defer enc.Close()
	tmp, err := os.MkdirTemp("", "bertserve-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// (a) runs the embed command's own path (stream.Run: read the file,
	// tokenize ahead, batch, run, pool, write the .npy) over a file of the
	// first --n rows.
	sample := filepath.Join(tmp, "sample.txt")
	if err := writeLines(sample, texts); err != nil {
		return err
	}
	endToEnd := func() (time.Duration, error) {
		t0 := time.Now()
		_, err := stream.Run(context.Background(), stream.Job{Encoder: enc, Input: sample, Output: filepath.Join(tmp, "out.npy"), Resume: stream.ResumeNever})
		return time.Since(t0), err
	}
	prep, err := enc.Prepare(texts)
	if err != nil {
		return err
	}
	defer prep.Destroy()
	floor := func() (time.Duration, error) {
		t0 := time.Now()
		err := enc.RunPrepared(prep)
		return time.Since(t0), err
	}
	others, err := openAgainst(against, ef, texts, tmp)
	if err != nil {
		return err
	}
	defer closeAgainst(others)
	// Warm up both paths once (allocator arenas, page cache).
	if _, err := floor(); err != nil {
		return err
	}
	for _, o := range others {
		if err := o.run(); err != nil {
			return err
		}
		o.runs = o.runs[:0]
	}
	var a, b []time.Duration
	for range *rounds {
		da, err := endToEnd()
		if err != nil {
			return err
		}
		db, err := floor()
		if err != nil {
			return err
		}
		a, b = append(a, da), append(b, db)
		for _, o := range others {
			if err := o.run(); err != nil {
				return err
			}
		}
	}
	ma, mb := median(a), median(b)
	ra := float64(len(texts)) / ma.Seconds()
	rb := float64(len(texts)) / mb.Seconds()
	info := enc.Info()
	w := os.Stdout
	fmt.Fprintf(w, "model %s (dim %d, pooling %s, device %s), %d sentences, %d batches, batch-tokens %d\n",
		info.Name, info.Dim, info.Pooling, info.Device, len(texts), prep.Batches(), ef.batchTokens)
	fmt.Fprintf(w, "padding waste (padded/real tokens - 1): %.1f%% (%d real tokens, %d padded)\n",
		paddingWaste(prep.PaddedTokens, prep.RealTokens), prep.RealTokens, prep.PaddedTokens)
	printRuns(w, "(a) bertserve embed end to end", a, ra)
	printRuns(w, "(b) ORT floor (session.Run only)", b, rb)
	fmt.Fprintf(w, "ratio (a)/(b): %.3f\n", ra/rb)
	printAgainst(w, others, len(texts), rb)
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func printRuns(w io.Writer, name string, runs []time.Duration, rate float64) {
	fmt.Fprintf(w, "%-36s %8.1f sentences/s  (median of", name, rate)
	for _, r := range runs {
		fmt.Fprintf(w, " %.2fs", r.Seconds())
	}
	fmt.Fprintln(w, ")")
}

// readTexts reads the text column of the first n rows of a corpus file.
func readTexts(path, textCol string, n int) ([]string, error) {
	r, err := corpus.Open(path, corpus.Options{TextColumn: textCol})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var texts []string
	for len(texts) < n {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		texts = append(texts, row.Text)
	}
	return texts, nil
}

// writeLines writes texts one a line (texts holding a line break cannot
// be written so and are refused).
func writeLines(path string, texts []string) error {
	var b strings.Builder
	for i, t := range texts {
		if strings.ContainsAny(t, "\r\n") {
			return fmt.Errorf("row %d holds a line break; bench needs one text a line", i)
		}
		b.WriteString(t)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
