package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bertserve/bertserve/head"
	"github.com/bertserve/bertserve/serve"
)

// cmdPredict classifies texts with a saved head, printing one Hugging Face
// pipeline JSON array per text.
func cmdPredict(args []string) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	var ef encoderFlags
	ef.register(fs)
	headDir := fs.String("head", "", "head directory written by `bertserve train`")
	k := fs.Int("top-k", 1, "labels per text, best first (0: all labels)")
	force := fs.Bool("force", false, "allow an encoder other than the one the head was trained on, if its dimension matches")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bertserve predict --head HEADDIR [--model DIR] [--top-k K] TEXT... (or one text per stdin line)")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *headDir == "" {
		return usagef("--head HEADDIR is required")
	}
	m, err := head.Load(*headDir)
	if err != nil {
		return err
	}
	if ef.model == "" {
		if ef.model, err = resolveHeadModel(m.Meta().Encoder); err != nil {
			return err
		}
	}
	if err := checkHeadModel(m, ef.model, *force); err != nil {
		return err
	}
	applyHeadEncoderDefaults(&ef, fs, m.Meta().Encoder, *force)
	enc, err := ef.open()
	if err != nil {
		return err
	}
	defer enc.Close()
	if err := acceptEncoder("predict", m, enc.Info(), *force); err != nil {
		return err
	}
	he, err := newHeadEmbedder(enc, ef.model, *headDir, m)
	if err != nil {
		return err
	}
	defer he.Close()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	classify := func(texts []string) error {
		x, err := he.Embed(context.Background(), texts)
		if err != nil {
			return err
		}
		probs, err := m.PredictProba(x)
		if err != nil {
			return err
		}
		for _, p := range probs {
			b, _ := json.Marshal(serve.RankLabels(m.Labels(), p, *k))
			w.Write(b)
			w.WriteByte('\n')
		}
		return nil
	}
	if fs.NArg() > 0 {
		return classify(fs.Args())
	}
	// Stdin: classify in blocks so a long stream answers as it goes.
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var block []string
	for sc.Scan() {
		block = append(block, sc.Text())
		if len(block) == 256 {
			if err := classify(block); err != nil {
				return err
			}
			block = block[:0]
			w.Flush()
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("reading stdin: %w", err)
	}
	if len(block) > 0 {
		return classify(block)
	}
	return nil
}
