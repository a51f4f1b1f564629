package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder/npy"
	"github.com/bertserve/bertserve/head"
)

func TestShardOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		shard    string
		shards   int
		env      string
		i, n     int
		errMatch string
	}{
		{"", 0, "", 0, 1, ""},
		{"2/4", 0, "", 2, 4, ""},
		{"2/4", 4, "", 2, 4, ""},
		{"1", 3, "", 1, 3, ""},
		{"auto", 8, "5", 5, 8, ""},
		{"auto", 0, "5", 0, 0, "--shard auto needs --shards N"},
		{"auto", 8, "", 0, 0, "JOB_COMPLETION_INDEX, which is not set"},
		{"auto", 8, "8", 0, 0, "want an index 0..7"},
		{"auto", 8, "x", 0, 0, "want an index 0..7"},
		{"4/4", 0, "", 0, 0, "want I/N with 0 <= I < N"},
		{"1/4", 3, "", 0, 0, "disagree"},
		{"", 3, "", 0, 0, "--shards 3 needs --shard"},
		{"1", 0, "", 0, 0, "want I/N"},
		{"", -1, "", 0, 0, "want a positive count"},
	}
	for _, tc := range tests {
		i, n, err := shardOf(tc.shard, tc.shards, tc.env)
		if tc.errMatch != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
				t.Errorf("shardOf(%q, %d, %q) = %v, want an error with %q", tc.shard, tc.shards, tc.env, err, tc.errMatch)
			}
			continue
		}
		if err != nil || i != tc.i || n != tc.n {
			t.Errorf("shardOf(%q, %d, %q) = %d, %d, %v; want %d, %d", tc.shard, tc.shards, tc.env, i, n, err, tc.i, tc.n)
		}
	}
}

func TestEmbedFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", "x.txt"}, "--input and --output are required"},
		{[]string{"--input", "x.txt", "--output", "x.csv"}, "the extension must be .npy or .jsonl"},
		{[]string{"--input", "-", "--output", "-", "--encoding", "hex"}, `--encoding "hex"`},
		{[]string{"--input", "-", "--output", "-", "--on-error", "ignore"}, `--on-error "ignore"`},
		{[]string{"--input", "-", "--output", "-", "--resume=maybe"}, "want auto, true or false"},
		{[]string{"--input", "-", "--output", "-", "--input-format", "xml"}, "unknown corpus format"},
		{[]string{"--input", "missing.tsv", "--output", "o.npy"}, "no such file"},
	} {
		err := cmdEmbed(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("embed %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// withStdin runs f with os.Stdin reading data.
func withStdin(t *testing.T, data string, f func() error) error {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.WriteString(data)
		w.Close()
	}()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	return f()
}

func TestEmbedCommandFileStdinShards(t *testing.T) {
	model := cliModel(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "c.tsv")
	writeSentiment(t, in, 50)
	whole := filepath.Join(dir, "whole.npy")
	if err := cmdEmbed([]string{"--model", model, "--input", in, "--output", whole}); err != nil {
		t.Fatal(err)
	}
	m, err := npy.ReadFile(whole)
	if err != nil || m.Rows != 100 {
		t.Fatalf("%v, %+v", err, m)
	}
	// The same texts through stdin into an .npy: the same bytes.
	texts, _ := readTexts(in, "", 1000)
	viaStdin := filepath.Join(dir, "stdin.npy")
	err = withStdin(t, strings.Join(texts, "\n")+"\n", func() error {
		return cmdEmbed([]string{"--model", model, "--input", "-", "--output", viaStdin})
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := readBytes(t, whole), readBytes(t, viaStdin); !bytes.Equal(a, b) {
		t.Fatal("stdin and file inputs gave different .npy files")
	}
	// Shards via JOB_COMPLETION_INDEX, then merge: the same bytes again.
	shardDir := filepath.Join(dir, "emb") + "/"
	for i := range 3 {
		t.Setenv("JOB_COMPLETION_INDEX", string(rune('0'+i)))
		if err := cmdEmbed([]string{"--model", model, "--input", in, "--shard", "auto", "--shards", "3", "--output", shardDir}); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(dir, "merged.npy")
	if err := cmdMerge([]string{shardDir, "--output", merged}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBytes(t, whole), readBytes(t, merged)) {
		t.Fatal("merged shards differ from the single-process embed")
	}
	// train --embeddings reads the shard directory as the merged matrix.
	var labels strings.Builder
	rows, _ := readLabeledForTest(t, in)
	for _, l := range rows {
		labels.WriteString(l + "\n")
	}
	yPath := filepath.Join(dir, "y.txt")
	os.WriteFile(yPath, []byte(labels.String()), 0o644)
	for _, x := range []string{shardDir, merged} {
		out := filepath.Join(dir, "head-"+filepath.Base(x))
		if _, err := captureStdout(t, func() error {
			return cmdTrain([]string{"--embeddings", x, "--labels", yPath, "--out", out})
		}); err != nil {
			t.Fatalf("train --embeddings %s: %v", x, err)
		}
	}
	if a, b := readBytes(t, filepath.Join(dir, "head-emb", "head.safetensors")), readBytes(t, filepath.Join(dir, "head-merged.npy", "head.safetensors")); !bytes.Equal(a, b) {
		t.Fatal("a head trained on the shard directory differs from one trained on the merged .npy")
	}
	// --resume without a partial output is refused; --resume=false is fine.
	again := filepath.Join(dir, "again.npy")
	if err := cmdEmbed([]string{"--model", model, "--input", in, "--output", again, "--resume"}); err == nil || !strings.Contains(err.Error(), "no partial output") {
		t.Fatalf("--resume without a partial: %v", err)
	}
	if err := cmdEmbed([]string{"--model", model, "--input", in, "--output", again, "--resume=false"}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func readLabeledForTest(t *testing.T, path string) ([]string, error) {
	t.Helper()
	l, err := head.ReadLabelledFile(path, head.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Labels, nil
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
