package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/head"
)

// dataFlags select labelled data: text files embedded with the encoder, or
// embedding matrices from anywhere with label files.
type dataFlags struct {
	data, val, test            string
	textCol, labelCol          string
	labelNames                 string
	embeddings, labels         string
	valEmbeddings, valLabels   string
	testEmbeddings, testLabels string
	noCache                    bool
	cacheDir                   string
}

// split is one labelled set: texts (when read from a corpus) and raw labels,
// or a ready Dataset (when read from .npy).
type split struct {
	name   string
	texts  []string
	labels []string
	ds     *head.Dataset
}

// labelMap parses --label-names "0=negative,1=positive".
func labelMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, usagef("--label-names %q: want raw=name pairs separated by commas, e.g. 0=negative,1=positive", s)
		}
		m[k] = v
	}
	return m, nil
}

func renameLabels(labels []string, m map[string]string) {
	for i, l := range labels {
		if n, ok := m[l]; ok {
			labels[i] = n
		}
	}
}

// readSplit reads one labelled text file.
func (f *dataFlags) readSplit(name, path string, names map[string]string) (*split, error) {
	texts, labels, info, err := head.ReadLabeled(path, corpus.Options{TextColumn: f.textCol, LabelColumn: f.labelCol})
	if err != nil {
		return nil, fmt.Errorf("reading the %s data: %w", name, err)
	}
	renameLabels(labels, names)
	fmt.Fprintf(os.Stderr, "%s: %d rows from %s (text column %q, label column %q)\n", name, len(texts), path, info.TextColumn, info.LabelColumn)
	return &split{name: name, texts: texts, labels: labels}, nil
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

// embedSplits turns every text split into a Dataset, embedding all texts in
// one pass through the cache so the encoder runs at most once per text.
// names is the label set (nil: taken from the first split, the training
// data); a label outside it is an error naming the row.
func embedSplits(ctx context.Context, enc *encoder.Encoder, f *dataFlags, splits []*split, names []string) error {
	var all []string
	for _, s := range splits {
		all = append(all, s.texts...)
	}
	t0 := time.Now()
	var vecs [][]float32
	if f.noCache {
		r, err := enc.Embed(ctx, all)
		if err != nil {
			return err
		}
		vecs = r.Vectors
		fmt.Fprintf(os.Stderr, "embedded %d texts in %.1fs (cache off)\n", len(all), time.Since(t0).Seconds())
	} else {
		c, err := encoder.OpenCache(f.cacheDir, enc.Info())
		if err != nil {
			return err
		}
		defer c.Close()
		r, err := enc.EmbedCached(ctx, all, c)
		if err != nil {
			return err
		}
		vecs = r.Vectors
		if r.Hits == len(all) {
			fmt.Fprintf(os.Stderr, "all %d embeddings came from the cache: no encoder work\n", len(all))
		} else {
			fmt.Fprintf(os.Stderr, "embedded %d texts in %.1fs (%d from the cache, %d truncated to %d tokens)\n",
				len(all)-r.Hits, time.Since(t0).Seconds(), r.Hits, r.Truncated, enc.Info().MaxLength)
		}
	}
	off := 0
	for _, s := range splits {
		x := vecs[off : off+len(s.texts)]
		off += len(s.texts)
		ds, err := head.NewDataset(x, s.labels, names)
		if err != nil {
			var ul *head.UnknownLabelError
			if errors.As(err, &ul) {
				return fmt.Errorf("%s data, row %d: label %q is not one the head knows (labels: %s)", s.name, ul.Row, ul.Label, strings.Join(ul.Known, ", "))
			}
			return fmt.Errorf("%s data: %w", s.name, err)
		}
		ds.Texts = s.texts
		if names == nil {
			names = ds.Labels
		}
		s.ds = ds
	}
	return nil
}

// splitTrain divides one dataset into stratified train/val/test parts.
func splitTrain(ds *head.Dataset, val, test float64, seed uint64) (tr, va, te *head.Dataset, err error) {
	ti, vi, si, err := head.StratifiedSplit(ds.Y, len(ds.Labels), head.Split{Val: val, Test: test}, seed)
	if err != nil {
		return nil, nil, nil, usagef("%v", err)
	}
	tr = ds.Subset(ti)
	if len(vi) > 0 {
		va = ds.Subset(vi)
	}
	if len(si) > 0 {
		te = ds.Subset(si)
	}
	return tr, va, te, nil
}

// loadTrainData reads and embeds (or loads) the train, validation and test
// sets; validation and test come from a stratified split of the training
// file when not given.
func loadTrainData(ctx context.Context, ef *encoderFlags, df *dataFlags, names map[string]string, valFrac, testFrac float64, seed uint64) (train, val, test *head.Dataset, info head.EncoderInfo, err error) {
	if df.fromEmbeddings() {
		train, err = head.ReadEmbeddings(df.embeddings, df.labels, nil)
		if err != nil {
			return
		}
		raw := train.Labels
		if df.valEmbeddings != "" {
			if val, err = head.ReadEmbeddings(df.valEmbeddings, df.valLabels, raw); err != nil {
				return
			}
		}
		if df.testEmbeddings != "" {
			if test, err = head.ReadEmbeddings(df.testEmbeddings, df.testLabels, raw); err != nil {
				return
			}
		}
		if val == nil && test == nil {
			if train, val, test, err = splitTrain(train, valFrac, testFrac, seed); err != nil {
				return
			}
		}
		renamed := make([]string, len(raw))
		for i, l := range raw {
			renamed[i] = l
			if n, ok := names[l]; ok {
				renamed[i] = n
			}
		}
		for _, d := range []*head.Dataset{train, val, test} {
			if d != nil {
				d.Labels = renamed
			}
		}
		fmt.Fprintf(os.Stderr, "embeddings: %d train rows from %s\n", train.Len(), df.embeddings)
		return train, val, test, head.EncoderInfo{}, nil
	}
	splits := []*split{}
	for _, s := range []struct{ name, path string }{{"train", df.data}, {"validation", df.val}, {"test", df.test}} {
		if s.path == "" {
			continue
		}
		sp, e := df.readSplit(s.name, s.path, names)
		if e != nil {
			return nil, nil, nil, info, e
		}
		splits = append(splits, sp)
	}
	enc, err := ef.open()
	if err != nil {
		return
	}
	defer enc.Close()
	if err = embedSplits(ctx, enc, df, splits, nil); err != nil {
		return
	}
	info = headEncoderInfo(enc.Info(), ef.model)
	train = splits[0].ds
	for _, s := range splits[1:] {
		if s.name == "validation" {
			val = s.ds
		} else {
			test = s.ds
		}
	}
	if df.val == "" && df.test == "" {
		train, val, test, err = splitTrain(train, valFrac, testFrac, seed)
		if err == nil {
			fmt.Fprintf(os.Stderr, "stratified split of %s: %d train, %d validation, %d test rows\n", df.data, train.Len(), lenOf(val), lenOf(test))
		}
	}
	return
}

func lenOf(d *head.Dataset) int {
	if d == nil {
		return 0
	}
	return d.Len()
}
