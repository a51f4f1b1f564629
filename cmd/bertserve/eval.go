package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/models"
)

// cmdEval scores a saved head on labelled data.
func cmdEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var ef encoderFlags
	ef.register(fs)
	var df dataFlags
	cfg := head.Default()
	registerDataFlags(fs, &df, &cfg)
	headDir := fs.String("head", "", "head directory written by `bertserve train`")
	force := fs.Bool("force", false, "allow an encoder other than the one the head was trained on, if its dimension matches")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	nErrors := fs.Int("errors", 0, "also list the N most confident mistakes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *headDir == "" {
		return usagef("--head HEADDIR is required")
	}
	if err := df.check(); err != nil {
		return err
	}
	m, err := head.Load(*headDir)
	if err != nil {
		return err
	}
	meta := m.Meta()
	var ds *head.Dataset
	if df.fromEmbeddings() {
		if ds, err = head.ReadEmbeddings(df.embeddings, df.labels, m.Labels()); err != nil {
			return err
		}
		if err := m.CheckEncoder("", ds.Dim(), true); err != nil {
			return err
		}
	} else {
		if ef.model == "" {
			if ef.model, err = resolveHeadModel(meta.Encoder); err != nil {
				return err
			}
		}
		if err := checkHeadModel(m, ef.model, *force); err != nil {
			return err
		}
		applyHeadEncoderDefaults(&ef, fs, meta.Encoder, *force)
		l, err := readLabelled("eval", df.data, cfg.ReadOptions())
		if err != nil {
			return err
		}
		enc, err := ef.open()
		if err != nil {
			return err
		}
		defer enc.Close()
		if err := acceptEncoder("eval", m, enc.Info(), *force); err != nil {
			return err
		}
		te, closeCache, err := df.textEncoder(enc, ef.model)
		if err != nil {
			return err
		}
		defer closeCache()
		if m.HasTail() {
			// The head's own tail on the bottom's hidden states.
			he, err := newHeadEmbedder(enc, ef.model, *headDir, m)
			if err != nil {
				return err
			}
			defer he.Close()
			te.Embed = func(ctx context.Context, texts []string) (head.Embedded, error) {
				x, err := he.Embed(ctx, texts)
				return head.Embedded{Vectors: x}, err
			}
		}
		// The vectors are normalised as the head was trained (the encoder
		// opened with the head's normalize flag does it already).
		normalize := meta.Encoder.Normalize && !enc.Info().Normalize
		sets, err := head.EmbedLabelled(context.Background(), te, []*head.Labelled{l}, m.Labels(), normalize,
			embedProgress(enc.Info().MaxLength, df.noCache))
		if err != nil {
			return err
		}
		ds = sets[0]
	}
	mt, err := head.Evaluate(m, ds)
	if err != nil {
		return err
	}
	var mistakes []head.Mistake
	if *nErrors > 0 {
		if mistakes, err = head.ErrorAnalysis(m, ds, *nErrors); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false)
		if mistakes != nil {
			return enc.Encode(struct {
				*head.Metrics
				Mistakes []head.Mistake `json:"mistakes"`
			}{mt, mistakes})
		}
		return enc.Encode(mt)
	}
	fmt.Printf("%s on %d rows:\n", *headDir, ds.Len())
	if err := mt.WriteTable(os.Stdout); err != nil {
		return err
	}
	for _, mk := range mistakes {
		fmt.Printf("  row %d: %s predicted as %s (%.3f): %q\n", mk.Index+1, mk.True, mk.Predicted, mk.Confidence, mk.Text)
	}
	return nil
}

// applyHeadEncoderDefaults makes the encoder embed as it did for training
// (pooling, normalize, max length) unless the user set those flags. With
// force (another encoder), the head's pooling may not exist in the new
// model, so pooling stays as given.
func applyHeadEncoderDefaults(ef *encoderFlags, fs *flag.FlagSet, e head.EncoderInfo, force bool) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["pooling"] && e.Pooling != "" && !force {
		ef.pooling = e.Pooling
	}
	if !set["normalize"] {
		ef.normalize = e.Normalize
	}
	if !set["max-length"] && e.MaxLength > 0 {
		ef.maxLength = e.MaxLength
	}
}

// checkHeadModel refuses, before the encoder is opened with the head's
// pooling, a model directory other than the one the head was trained on
// (unless force), so the error names the mismatch rather than a missing
// output of the wrong model.
func checkHeadModel(m *head.Model, modelDir string, force bool) error {
	if force {
		return nil
	}
	f, err := os.Open(filepath.Join(modelDir, "model.onnx"))
	if err != nil {
		return nil // Open reports it with its own advice
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	var from string
	if man, err := models.ReadManifest(modelDir); err == nil {
		from = man.RebuiltFrom()
	}
	_, err = m.AcceptEncoder(hex.EncodeToString(h.Sum(nil)), from, m.Dim(), false)
	return err
}
