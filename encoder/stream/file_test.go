package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/stream"
)

func TestChunkedFileEqualsWholeCorpus(t *testing.T) {
	t.Parallel()
	for _, pooling := range []string{"mean", "cls", "pooler", "max"} {
		t.Run(pooling, func(t *testing.T) {
			t.Parallel()
			e := openTiny(t, pooling)
			texts := phrases(300)
			dir := t.TempDir()
			in := filepath.Join(dir, "c.tsv")
			writeTSV(t, in, texts)
			want := wholeNPY(t, e, texts)
			for _, chunk := range []int{1, 7, 64, 1000} {
				out := filepath.Join(dir, "out.npy")
				sum, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: in, Output: out, ChunkRows: chunk})
				if err != nil {
					t.Fatal(err)
				}
				if sum.Rows != len(texts) || sum.TextColumn != "sentence" {
					t.Fatalf("summary %+v", sum)
				}
				if got := readFile(t, out); !bytes.Equal(got, want) {
					t.Fatalf("chunks of %d rows: the .npy differs from the whole-corpus embedding", chunk)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".out.npy*")); len(left) != 0 {
					t.Fatalf("left behind: %v", left)
				}
			}
		})
	}
}

func TestJSONLOutputKeepsItsFormat(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	texts := phrases(20)
	dir := t.TempDir()
	in := filepath.Join(dir, "c.txt")
	os.WriteFile(in, []byte(strings.Join(texts, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	if _, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: in, Output: out, ChunkRows: 3}); err != nil {
		t.Fatal(err)
	}
	r, _ := e.Embed(context.Background(), texts)
	var want bytes.Buffer
	for i, v := range r.Vectors {
		b, _ := json.Marshal(struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}{i, v})
		want.Write(append(b, '\n'))
	}
	if got := readFile(t, out); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the .jsonl differs from json.Marshal's records:\n%.300s\nwant\n%.300s", got, want.Bytes())
	}
}

// crashAt runs a job and, after `after` chunks, copies the partial data and
// its checkpoint as a kill -9 would leave them (the last checkpoint, plus
// rows written since), then stops the run and puts the copies back.
func crashAt(t *testing.T, job stream.Job, after int) {
	t.Helper()
	crashFileAt(t, job, job.Output, after)
}

// crashFileAt is crashAt for a job whose output file is out.
func crashFileAt(t *testing.T, job stream.Job, out string, after int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var data, manifest []byte
	chunks := 0
	job.Progress = func(stream.Progress) {
		chunks++
		if chunks == after {
			data = readFile(t, atomicfile.PartialPath(out))
			manifest = readFile(t, atomicfile.PartialManifestPath(out))
			cancel()
		}
	}
	_, err := stream.Run(ctx, job)
	if !errors.Is(err, stream.ErrInterrupted) {
		t.Fatalf("want an interruption, got %v", err)
	}
	// A killed writer may also have written part of the next chunk.
	data = append(data, bytes.Repeat([]byte{0xAB}, 1001)...)
	os.WriteFile(atomicfile.PartialPath(out), data, 0o644)
	os.WriteFile(atomicfile.PartialManifestPath(out), manifest, 0o644)
}

func TestResumeAfterCrashIsByteIdentical(t *testing.T) {
	t.Parallel()
	for _, ext := range []string{".npy", ".jsonl"} {
		t.Run(ext, func(t *testing.T) {
			t.Parallel()
			e := openTiny(t, "mean")
			texts := phrases(500)
			dir := t.TempDir()
			in := filepath.Join(dir, "c.tsv")
			writeTSV(t, in, texts)
			ref := filepath.Join(dir, "ref"+ext)
			job := stream.Job{Encoder: e, Input: in, Output: ref, ChunkRows: 32, Encoding: stream.EncodingBase64}
			refSum, err := stream.Run(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			job.Output = filepath.Join(dir, "out"+ext)
			crashAt(t, job, 6)
			var log strings.Builder
			job.Log = &log
			sum, err := stream.Run(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "resuming") || sum.ResumedFrom != 5*32 {
				t.Fatalf("resumed from %d (want 160: the checkpoint before the 6th chunk); log: %s", sum.ResumedFrom, log.String())
			}
			if sum.NewRows != len(texts)-sum.ResumedFrom {
				t.Fatalf("redid work: %d new rows after keeping %d of %d", sum.NewRows, sum.ResumedFrom, len(texts))
			}
			if !bytes.Equal(readFile(t, job.Output), readFile(t, ref)) {
				t.Fatal("the resumed output differs from an uninterrupted run")
			}
			if sum.Tokens != refSum.Tokens || sum.PaddedTokens != refSum.PaddedTokens {
				t.Fatalf("totals %d/%d tokens, uninterrupted %d/%d", sum.Tokens, sum.PaddedTokens, refSum.Tokens, refSum.PaddedTokens)
			}
			if _, err := os.Stat(atomicfile.PartialManifestPath(job.Output)); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("the checkpoint outlived the finished output")
			}
		})
	}
}

func TestResumeRefusesWhatDoesNotMatch(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	cls := openTiny(t, "cls")
	texts := phrases(200)
	tests := []struct {
		name   string
		change func(job *stream.Job, in string)
		want   string
	}{
		{"other pooling", func(job *stream.Job, _ string) { job.Encoder = cls }, "pooling mean (this run: cls)"},
		{"other chunking", func(job *stream.Job, _ string) { job.ChunkRows = 50 }, "chunk_rows 16 (this run: 50)"},
		{"other shard", func(job *stream.Job, _ string) { job.Shards = 2 }, "shards 1 (this run: 2)"},
		{"edited input", func(_ *stream.Job, in string) {
			b, _ := os.ReadFile(in)
			os.WriteFile(in, bytes.Replace(b, []byte("gripping"), []byte("GRIPPING"), 1), 0o644)
		}, "have changed since"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "c.tsv")
			writeTSV(t, in, texts)
			job := stream.Job{Encoder: e, Input: in, Output: filepath.Join(dir, "out.npy"), ChunkRows: 16}
			crashAt(t, job, 4)
			tc.change(&job, in)
			_, err := stream.Run(context.Background(), job)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--resume=false") {
				t.Fatalf("want a refusal saying %q and how to start over, got %v", tc.want, err)
			}
			if _, serr := os.Stat(atomicfile.PartialPath(job.Output)); serr != nil {
				t.Fatal("a refused partial output was deleted")
			}
			job.Resume = stream.ResumeNever
			var log strings.Builder
			job.Log = &log
			sum, err := stream.Run(context.Background(), job)
			if err != nil || sum.ResumedFrom != 0 || !strings.Contains(log.String(), "afresh") {
				t.Fatalf("--resume=false: %v, %+v, log %q", err, sum, log.String())
			}
		})
	}
}

func TestResumeRequireNeedsAPartial(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	dir := t.TempDir()
	in := filepath.Join(dir, "c.tsv")
	writeTSV(t, in, phrases(10))
	_, err := stream.Run(context.Background(), stream.Job{Encoder: e, Input: in, Output: filepath.Join(dir, "o.npy"), Resume: stream.ResumeRequire})
	if err == nil || !strings.Contains(err.Error(), "no partial output") {
		t.Fatalf("got %v", err)
	}
}

func TestBadRowKeepsTheRowsBefore(t *testing.T) {
	t.Parallel()
	e := openTiny(t, "mean")
	dir := t.TempDir()
	in := filepath.Join(dir, "c.tsv")
	texts := phrases(100)
	writeTSV(t, in, texts)
	b, _ := os.ReadFile(in)
	os.WriteFile(in, append(b, []byte("a\tragged\trow\n")...), 0o644)
	job := stream.Job{Encoder: e, Input: in, Output: filepath.Join(dir, "o.npy"), ChunkRows: 30}
	_, err := stream.Run(context.Background(), job)
	if err == nil || !strings.Contains(err.Error(), "line 102: 3 fields") || !strings.Contains(err.Error(), "100 rows are kept") {
		t.Fatalf("got %v", err)
	}
	// Fix the file after the rows done: the run continues where it stopped.
	writeTSV(t, in, texts)
	var log strings.Builder
	job.Log = &log
	sum, err := stream.Run(context.Background(), job)
	if err != nil || sum.ResumedFrom != 100 || sum.Rows != 100 {
		t.Fatalf("after the fix: %v %+v %s", err, sum, log.String())
	}
	if !bytes.Equal(readFile(t, job.Output), wholeNPY(t, e, texts)) {
		t.Fatal("output differs")
	}
}
