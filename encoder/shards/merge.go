package shards

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/encoder/npy"
)

// shardReader streams one shard's rows while hashing the whole file.
type shardReader struct {
	f    *os.File
	h    hash.Hash
	tee  io.Reader
	rows *npy.RowReader
	m    *Manifest
}

func (s *Set) open() ([]*shardReader, error) {
	rs := make([]*shardReader, 0, s.Shards)
	fail := func(err error) ([]*shardReader, error) {
		for _, r := range rs {
			r.f.Close()
		}
		return nil, err
	}
	for _, m := range s.Manifests {
		path := filepath.Join(s.Dir, m.File)
		f, err := os.Open(path)
		if err != nil {
			return fail(err)
		}
		h := sha256.New()
		tee := io.TeeReader(f, h)
		rr, err := npy.NewRowReader(tee)
		if err != nil {
			f.Close()
			return fail(fmt.Errorf("%s: %w", path, err))
		}
		r := &shardReader{f: f, h: h, tee: tee, rows: rr, m: m}
		rs = append(rs, r)
		if rr.Rows != m.Rows || rr.Cols != m.Dim || rr.Float64 {
			return fail(fmt.Errorf("%s: float32 [%d, %d] in the manifest, the file holds %v [%d, %d]; rerun index %d",
				path, m.Rows, m.Dim, map[bool]string{false: "float32", true: "float64"}[rr.Float64], rr.Rows, rr.Cols, m.Shard))
		}
	}
	return rs, nil
}

// finish reads what is left of the file into the hash and compares it.
func (r *shardReader) finish() error {
	defer r.f.Close()
	// RowReader buffers ahead; whatever it has not handed out yet is
	// already hashed, and the rest of the file is read now.
	if _, err := io.Copy(io.Discard, r.tee); err != nil {
		return err
	}
	if got := hex.EncodeToString(r.h.Sum(nil)); got != r.m.SHA256 {
		return fmt.Errorf("%s: sha256 %s, the manifest says %s (the file changed after it was written); rerun index %d", r.m.File, got, r.m.SHA256, r.m.Shard)
	}
	return nil
}

// interleave hands the rows to fn in corpus order: corpus row r is row
// r div N of shard r mod N. Every file's sha256 is checked at the end.
func (s *Set) interleave(fn func(r int, raw []byte) error) error {
	rs, err := s.open()
	if err != nil {
		return err
	}
	closeAll := func() {
		for _, r := range rs {
			r.f.Close()
		}
	}
	for r := 0; r < s.Rows; r++ {
		sr := rs[r%s.Shards]
		raw, err := sr.rows.NextRaw()
		if err != nil {
			closeAll()
			return fmt.Errorf("%s: %w", sr.m.File, err)
		}
		if err := fn(r, raw); err != nil {
			closeAll()
			return err
		}
	}
	var firstErr error
	for _, r := range rs {
		if err := r.finish(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Merge checks the shard directory dir and writes its rows in corpus
// order to out (an .npy, written under a temporary name and renamed, so a
// failed merge leaves nothing). Memory stays at one buffer per shard.
func Merge(dir, out string) (*Set, error) {
	set, err := Check(dir)
	if err != nil {
		return nil, err
	}
	f, err := atomicfile.Create(out)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	bw.Write(npy.Header(set.Rows, set.Dim))
	err = set.interleave(func(_ int, raw []byte) error {
		_, err := bw.Write(raw)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		f.Abort()
		return nil, err
	}
	if err := f.Commit(); err != nil {
		return nil, err
	}
	return set, nil
}

// Verify recomputes the sha256 of shard m's data file in dir and compares
// it with the manifest.
func Verify(dir string, m *Manifest) error {
	path := filepath.Join(dir, m.File)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != m.Bytes {
		return fmt.Errorf("%s: %d bytes, the manifest says %d", path, n, m.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("%s: sha256 %s, the manifest says %s", path, got, m.SHA256)
	}
	return nil
}

// ReadMatrix reads an embedding matrix from an .npy file or from a shard
// directory (checked, then assembled in corpus order).
func ReadMatrix(path string) (*npy.Matrix, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return npy.ReadFile(path)
	}
	set, err := Check(path)
	if err != nil {
		return nil, err
	}
	m := &npy.Matrix{Rows: set.Rows, Cols: set.Dim, Data: make([]float32, set.Rows*set.Dim)}
	err = set.interleave(func(r int, raw []byte) error {
		row := m.Row(r)
		for j := range row {
			row[j] = float32frombytes(raw[4*j:])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}
