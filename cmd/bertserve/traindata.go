package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/head"
)

// dataFlags select labelled data: text files embedded with the encoder, or
// embedding matrices from anywhere with label files. Column and label
// options go straight into the head.TrainConfig (registerDataFlags).
type dataFlags struct {
	data, val, test            string
	embeddings, labels         string
	valEmbeddings, valLabels   string
	testEmbeddings, testLabels string
	noCache                    bool
	cacheDir                   string
}

// fromEmbeddings reports whether the data come as .npy + labels files.
func (f *dataFlags) fromEmbeddings() bool { return f.embeddings != "" }

func (f *dataFlags) check() error {
	if f.fromEmbeddings() {
		if f.labels == "" {
			return usagef("--embeddings needs --labels (one label per line, row i labels row i)")
		}
		if f.data != "" || f.val != "" || f.test != "" {
			return usagef("use either --data/--val/--test (text) or --embeddings/--labels (.npy), not both")
		}
		if (f.valEmbeddings == "") != (f.valLabels == "") || (f.testEmbeddings == "") != (f.testLabels == "") {
			return usagef("--val-embeddings and --val-labels (and --test-*) go together")
		}
		return nil
	}
	if f.data == "" {
		return usagef("--data FILE is required (or --embeddings X.npy --labels y.txt)")
	}
	return nil
}

// readInputs reads the training data the flags name with the one reader
// of labelled data (head.ReadLabelledFile) or as embeddings.
func (f *dataFlags) readInputs(cfg head.TrainConfig) (head.Inputs, error) {
	var in head.Inputs
	if f.fromEmbeddings() {
		var err error
		if in.TrainSet, err = head.ReadEmbeddings(f.embeddings, f.labels, nil); err != nil {
			return in, err
		}
		raw := in.TrainSet.Labels
		if f.valEmbeddings != "" {
			if in.ValSet, err = head.ReadEmbeddings(f.valEmbeddings, f.valLabels, raw); err != nil {
				return in, err
			}
		}
		if f.testEmbeddings != "" {
			if in.TestSet, err = head.ReadEmbeddings(f.testEmbeddings, f.testLabels, raw); err != nil {
				return in, err
			}
		}
		fmt.Fprintf(os.Stderr, "embeddings: %d train rows from %s\n", in.TrainSet.Len(), f.embeddings)
		return in, nil
	}
	for _, s := range []struct {
		name, path string
		dst        **head.Labelled
	}{{"train", f.data, &in.Train}, {"validation", f.val, &in.Val}, {"test", f.test, &in.Test}} {
		if s.path == "" {
			continue
		}
		l, err := readLabelled(s.name, s.path, cfg.ReadOptions())
		if err != nil {
			return in, err
		}
		*s.dst = l
	}
	return in, nil
}

// readLabelled reads one labelled text file and says how it was read.
func readLabelled(name, path string, opts head.ReadOptions) (*head.Labelled, error) {
	l, err := head.ReadLabelledFile(path, opts)
	if err != nil {
		return nil, fmt.Errorf("reading the %s data: %w", name, err)
	}
	fmt.Fprintf(os.Stderr, "%s: %d rows from %s (text column %q, label column %q)\n", name, l.Len(), path, l.Info.TextColumn, l.Info.LabelColumn)
	return l, nil
}

// textEncoder is the pipeline's seam filled with the ONNX encoder, through
// the embedding cache unless --no-cache. close releases the cache.
func (f *dataFlags) textEncoder(enc *encoder.Encoder, modelDir string) (te *head.TextEncoder, close func(), err error) {
	te = &head.TextEncoder{Info: headEncoderInfo(enc.Info(), modelDir)}
	if f.noCache {
		te.Embed = func(ctx context.Context, texts []string) (head.Embedded, error) {
			r, err := enc.Embed(ctx, texts)
			if err != nil {
				return head.Embedded{}, err
			}
			return head.Embedded{Vectors: r.Vectors, Truncated: r.Truncated}, nil
		}
		return te, func() {}, nil
	}
	c, err := encoder.OpenCache(f.cacheDir, enc.Info())
	if err != nil {
		return nil, nil, err
	}
	te.Embed = func(ctx context.Context, texts []string) (head.Embedded, error) {
		r, err := enc.EmbedCached(ctx, texts, c)
		if err != nil {
			return head.Embedded{}, err
		}
		return head.Embedded{Vectors: r.Vectors, Cached: r.Hits, Truncated: r.Truncated}, nil
	}
	return te, func() { c.Close() }, nil
}

// embedProgress prints the embedding summary line once embedding is done.
func embedProgress(maxLen int, noCache bool) func(head.Event) {
	return func(e head.Event) {
		if e.Stage != head.StageEmbedding || e.Done < e.Total {
			return
		}
		switch {
		case noCache:
			fmt.Fprintf(os.Stderr, "embedded %d texts in %.1fs (cache off)\n", e.Total, e.Elapsed.Seconds())
		case e.Cached == e.Total:
			fmt.Fprintf(os.Stderr, "all %d embeddings came from the cache: no encoder work\n", e.Total)
		default:
			fmt.Fprintf(os.Stderr, "embedded %d texts in %.1fs (%d from the cache, %d truncated to %d tokens)\n",
				e.Total-e.Cached, e.Elapsed.Round(100*time.Millisecond).Seconds(), e.Cached, e.Truncated, maxLen)
		}
	}
}
