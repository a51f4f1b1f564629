package shards

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/encoder/npy"
)

// corpus is R rows of D values; row r holds r*1000 + j so order is visible.
func corpus(rows, dim int) [][]float32 {
	m := make([][]float32, rows)
	for r := range m {
		m[r] = make([]float32, dim)
		for j := range m[r] {
			m[r][j] = float32(r*1000 + j)
		}
	}
	return m
}

// writeShards writes the n shards of m into dir as embed would.
func writeShards(t *testing.T, dir string, m [][]float32, n int) {
	t.Helper()
	for i := range n {
		var part [][]float32
		for r := i; r < len(m); r += n {
			part = append(part, m[r])
		}
		var b bytes.Buffer
		if err := npy.Write(&b, part); err != nil {
			t.Fatal(err)
		}
		if len(part) == 0 {
			b.Reset()
			b.Write(npy.Header(0, len(m[0])))
		}
		if err := os.WriteFile(filepath.Join(dir, Name(i, n)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b.Bytes())
		man := &Manifest{Format: FormatVersion, Shard: i, Shards: n, File: Name(i, n), Rows: len(part), Dim: len(m[0]),
			Bytes: int64(b.Len()), SHA256: hex.EncodeToString(sum[:]), Model: "tiny", ModelDigest: "abc", Pooling: "mean",
			MaxLength: 128, OptionsDigest: "opts", Input: Input{Name: "c.tsv", Size: 99, SHA256: "in", Rows: len(m)}, Complete: true}
		if err := WriteManifest(dir, man); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMergeRestoresCorpusOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ rows, n int }{{10, 3}, {9, 3}, {2, 4}, {7, 1}} {
		dir := t.TempDir()
		m := corpus(tc.rows, 3)
		writeShards(t, dir, m, tc.n)
		out := filepath.Join(dir, "all.npy")
		set, err := Merge(dir, out)
		if err != nil {
			t.Fatalf("%d rows in %d shards: %v", tc.rows, tc.n, err)
		}
		var want bytes.Buffer
		npy.Write(&want, m)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%d rows in %d shards: merged file differs from the corpus matrix", tc.rows, tc.n)
		}
		if set.Rows != tc.rows || set.Dim != 3 {
			t.Fatalf("set %dx%d", set.Rows, set.Dim)
		}
		mat, err := ReadMatrix(dir)
		if err != nil {
			t.Fatal(err)
		}
		for r := range m {
			if mat.Row(r)[2] != m[r][2] {
				t.Fatalf("ReadMatrix row %d = %v", r, mat.Row(r))
			}
		}
	}
}

func TestCheckNamesEveryBadShard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spoil func(dir string)
		want  []string
	}{
		{"missing shard", func(dir string) {
			os.Remove(filepath.Join(dir, ManifestName(2, 4)))
			os.Remove(filepath.Join(dir, Name(2, 4)))
		}, []string{"part-00002-of-00004.npy: missing; run index 2"}},
		{"unfinished shard", func(dir string) {
			os.Remove(filepath.Join(dir, ManifestName(1, 4)))
		}, []string{"part-00001-of-00004.npy: no manifest"}},
		{"other model", func(dir string) {
			m, _ := ReadManifest(dir, 3, 4)
			m.ModelDigest, m.Pooling = "zzz", "cls"
			WriteManifest(dir, m)
		}, []string{"part-00003-of-00004.npy: made differently from part-00000-of-00004.npy: model digest zzz vs abc, pooling cls vs mean"}},
		{"other input", func(dir string) {
			m, _ := ReadManifest(dir, 1, 4)
			m.Input.SHA256 = "other"
			WriteManifest(dir, m)
		}, []string{"part-00001-of-00004.npy: made differently", "input sha256 other vs in"}},
		{"truncated data", func(dir string) {
			p := filepath.Join(dir, Name(0, 4))
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-4], 0o644)
		}, []string{"part-00000-of-00004.npy:", "the manifest says"}},
		{"incomplete", func(dir string) {
			m, _ := ReadManifest(dir, 2, 4)
			m.Complete = false
			WriteManifest(dir, m)
		}, []string{"part-00002-of-00004.json: not complete"}},
		{"two of them", func(dir string) {
			os.Remove(filepath.Join(dir, ManifestName(0, 4)))
			os.Remove(filepath.Join(dir, ManifestName(3, 4)))
		}, []string{"2 of 4 shards", "part-00000-of-00004.npy", "part-00003-of-00004.npy"}},
		{"mixed shardings", func(dir string) {
			os.WriteFile(filepath.Join(dir, Name(0, 2)), nil, 0o644)
		}, []string{"mixes shardings"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeShards(t, dir, corpus(11, 2), 4)
			tc.spoil(dir)
			_, err := Merge(dir, filepath.Join(dir, "all.npy"))
			if err == nil {
				t.Fatal("merged a bad directory")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, serr := os.Stat(filepath.Join(dir, "all.npy")); !errors.Is(serr, os.ErrNotExist) {
				t.Error("a failed merge left an output")
			}
		})
	}
}

func TestMergeChecksSHA256(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeShards(t, dir, corpus(8, 2), 2)
	p := filepath.Join(dir, Name(1, 2))
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1 // same size, one bit flipped
	os.WriteFile(p, b, 0o644)
	_, err := Merge(dir, filepath.Join(dir, "all.npy"))
	if err == nil || !strings.Contains(err.Error(), "part-00001-of-00002.npy: sha256") {
		t.Fatalf("want a sha256 error naming shard 1, got %v", err)
	}
	m, _ := ReadManifest(dir, 1, 2)
	if err := Verify(dir, m); err == nil {
		t.Fatal("Verify accepted a changed file")
	}
}

func TestEmptyDirectoryAndNames(t *testing.T) {
	t.Parallel()
	if _, err := Check(t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no shards") {
		t.Fatalf("empty dir: %v", err)
	}
	if Name(3, 8) != "part-00003-of-00008.npy" {
		t.Fatal(Name(3, 8))
	}
	for name, want := range map[string][2]int{"part-00003-of-00008.npy": {3, 8}, "/x/part-00000-of-00001.json": {0, 1}} {
		i, n, ok := ParseName(name)
		if !ok || i != want[0] || n != want[1] {
			t.Errorf("ParseName(%q) = %d, %d, %v", name, i, n, ok)
		}
	}
	for _, bad := range []string{".part-00003-of-00008.npy.partial", "part-00008-of-00008.npy", "part-1-of-2.npy"} {
		if _, _, ok := ParseName(bad); ok {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
	if ShardRows(10, 0, 3) != 4 || ShardRows(10, 2, 3) != 3 || ShardRows(2, 3, 4) != 0 {
		t.Fatal("ShardRows")
	}
}

func FuzzParseName(f *testing.F) {
	f.Add("part-00003-of-00008.npy")
	f.Add("part-00000-of-00001.json")
	f.Fuzz(func(t *testing.T, name string) {
		i, n, ok := ParseName(name)
		if !ok {
			return
		}
		if i < 0 || i >= n {
			t.Fatalf("%q: shard %d of %d", name, i, n)
		}
		if back := filepath.Base(name); back != Name(i, n) && back != ManifestName(i, n) && len(back) == len(Name(i, n)) {
			t.Fatalf("%q parses as %d/%d, which is named %s", name, i, n, Name(i, n))
		}
	})
}
