package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/encoder/npy"
)

func cmdEmbed(args []string) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var ef encoderFlags
	ef.register(fs)
	input := fs.String("input", "", "input corpus: .txt (a line each), .csv/.tsv (header row), .jsonl")
	output := fs.String("output", "", "output file: .npy (float32 [N, D]) or .jsonl ({\"index\",\"embedding\"})")
	textCol := fs.String("text-col", "", "text column of .csv/.tsv/.jsonl (default: the first text-like column)")
	shard := fs.String("shard", "", "I/N: embed only rows with index mod N == I (to split a corpus across N machines)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve embed --model DIR --input FILE --output FILE [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *input == "" || *output == "" {
		return usagef("--input and --output are required")
	}
	ext := strings.ToLower(filepath.Ext(*output))
	if ext != ".npy" && ext != ".jsonl" {
		return usagef("--output %s: the extension must be .npy or .jsonl", *output)
	}
	si, sn, err := parseShard(*shard)
	if err != nil {
		return err
	}
	texts, err := readTexts(*input, *textCol)
	if err != nil {
		return err
	}
	if sn > 1 {
		var kept []string
		for i := si; i < len(texts); i += sn {
			kept = append(kept, texts[i])
		}
		texts = kept
	}
	enc, err := ef.open()
	if err != nil {
		return err
	}
	defer enc.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var sum encoder.Result
	bar := newProgress(os.Stderr, len(texts), "rows")
	err = atomicfile.Write(*output, func(w io.Writer) error {
		out, err := newRowWriter(w, ext, len(texts), enc.Dim())
		if err != nil {
			return err
		}
		done := 0
		err = enc.EmbedChunks(ctx, texts, func(_ int, r *encoder.Result) error {
			for _, v := range r.Vectors {
				if err := out.write(v); err != nil {
					return err
				}
			}
			done += len(r.Vectors)
			bar.update(done)
			sum.TokenCounts = append(sum.TokenCounts, r.TokenCounts...)
			sum.Truncated += r.Truncated
			sum.InvalidUTF8 += r.InvalidUTF8
			sum.PaddedTokens += r.PaddedTokens
			return nil
		})
		if err != nil {
			return err
		}
		return out.close()
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; %s was not written", *output)
		}
		return fmt.Errorf("writing %s: %w", *output, err)
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "embedded %d rows (dim %d, pooling %s) into %s: %d tokens, %d truncated, %d with invalid UTF-8, padding waste %.1f%%, %.2fs, %.0f sentences/s\n",
		len(texts), enc.Dim(), enc.Info().Pooling, *output, sum.Tokens(), sum.Truncated, sum.InvalidUTF8,
		paddingWaste(sum.PaddedTokens, sum.Tokens()), secs, float64(len(texts))/max(secs, 1e-9))
	return nil
}

// paddingWaste is padded tokens / real tokens - 1, in percent.
func paddingWaste(padded, real int) float64 {
	if real == 0 {
		return 0
	}
	return 100 * (float64(padded)/float64(real) - 1)
}

func parseShard(s string) (i, n int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usagef("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return i, n, nil
}

// rowWriter streams embeddings as .npy rows or JSON Lines.
type rowWriter struct {
	npy   *npy.StreamWriter
	jsonl *bufio.Writer
	index int
}

func newRowWriter(w io.Writer, ext string, rows, dim int) (*rowWriter, error) {
	if ext == ".npy" {
		sw, err := npy.NewStreamWriter(w, rows, dim)
		return &rowWriter{npy: sw}, err
	}
	return &rowWriter{jsonl: bufio.NewWriterSize(w, 1<<16)}, nil
}

func (r *rowWriter) write(v []float32) error {
	defer func() { r.index++ }()
	if r.npy != nil {
		return r.npy.WriteRow(v)
	}
	b, err := json.Marshal(struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}{r.index, v})
	if err != nil {
		return err
	}
	r.jsonl.Write(b)
	return r.jsonl.WriteByte('\n')
}

func (r *rowWriter) close() error {
	if r.npy != nil {
		return r.npy.Close()
	}
	return r.jsonl.Flush()
}

// readTexts reads the text column of a corpus file.
func readTexts(path, textCol string) ([]string, error) {
	rows, _, err := corpus.ReadAll(path, corpus.Options{TextColumn: textCol})
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(rows))
	for i, r := range rows {
		texts[i] = r.Text
	}
	return texts, nil
}
