package stream_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder/shards"
	"github.com/bertserve/bertserve/encoder/stream"
)

func TestShardsMergeToTheWholeCorpus(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	texts := phrases(203)
	dir := t.TempDir()
	in := filepath.Join(dir, "c.tsv")
	writeTSV(t, in, texts)
	out := filepath.Join(dir, "emb") + "/"
	const n = 4
	for i := range n {
		sum, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: in, Output: out, Shard: i, Shards: n, ChunkRows: 16})
		if err != nil {
			t.Fatal(err)
		}
		if want := shards.ShardRows(len(texts), i, n); sum.Rows != want {
			t.Fatalf("shard %d: %d rows, want %d", i, sum.Rows, want)
		}
	}
	all := filepath.Join(dir, "all.npy")
	if _, err := shards.Merge(filepath.Join(dir, "emb"), all); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, all), wholeNPY(t, e, texts)) {
		t.Fatal("merged shards differ from the whole-corpus embedding")
	}

	// A retried worker whose shard is complete does nothing.
	var log strings.Builder
	sum, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: in, Output: out, Shard: 2, Shards: n, ChunkRows: 16, Log: &log})
	if err != nil || !sum.AlreadyComplete || !strings.Contains(log.String(), "complete and matches") {
		t.Fatalf("retry of a complete shard: %v %+v %q", err, sum, log.String())
	}
	// A run with other options or another shard count is refused.
	cls := openTiny(t, "cls")
	if _, err := stream.Run(context.Background(), stream.Job{Encoder: cls, Input: in, Output: out, Shard: 1, Shards: n, ChunkRows: 16}); err == nil || !strings.Contains(err.Error(), "with other options") {
		t.Fatalf("other pooling into the same directory: %v", err)
	}
	if _, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: in, Output: out, Shard: 1, Shards: 3, ChunkRows: 16}); err == nil || !strings.Contains(err.Error(), "4-shard run") {
		t.Fatalf("another shard count: %v", err)
	}
	// A damaged shard is redone.
	p := filepath.Join(dir, "emb", shards.Name(3, n))
	b := readFile(t, p)
	b[len(b)-1] ^= 0xff
	os.WriteFile(p, b, 0o644)
	log.Reset()
	sum, err = stream.Run(context.Background(), stream.Job{Encoder: e, Input: in, Output: out, Shard: 3, Shards: n, ChunkRows: 16, Log: &log})
	if err != nil || sum.AlreadyComplete || !strings.Contains(log.String(), "damaged") {
		t.Fatalf("damaged shard: %v %+v %q", err, sum, log.String())
	}
	if _, err := shards.Merge(filepath.Join(dir, "emb"), all); err != nil {
		t.Fatalf("after redoing the damaged shard: %v", err)
	}
}

func TestShardResumesAfterCrash(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	texts := phrases(300)
	dir := t.TempDir()
	in := filepath.Join(dir, "c.tsv")
	writeTSV(t, in, texts)
	out := filepath.Join(dir, "emb") + "/"
	job := stream.Job{Encoder: e, Input: in, Output: out, Shard: 1, Shards: 3, ChunkRows: 10}
	crashFileAt(t, job, filepath.Join(dir, "emb", shards.Name(1, 3)), 5)
	sum, err := stream.Run(context.Background(), job)
	if err != nil || sum.ResumedFrom != 40 {
		t.Fatalf("resumed from %d: %v", sum.ResumedFrom, err)
	}
	m, err := shards.ReadManifest(filepath.Join(dir, "emb"), 1, 3)
	if err != nil || m.Rows != 100 || m.Input.Rows != 300 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	if err := shards.Verify(filepath.Join(dir, "emb"), m); err != nil {
		t.Fatal(err)
	}
}
