package stream

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
)

// prefixHasher hashes the first n bytes of the input file as reading
// moves on, from a file descriptor of its own (the bytes come from the
// page cache). A checkpoint records the digest of the input up to its
// offset, so a resumed run can tell that the rows it skips are the rows
// the partial output holds; at the end it gives the whole file's digest.
type prefixHasher struct {
	f *os.File
	h hash.Hash
	n int64
}

func newPrefixHasher(path string) (*prefixHasher, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &prefixHasher{f: f, h: sha256.New()}, nil
}

// advance hashes up to byte offset to.
func (p *prefixHasher) advance(to int64) error {
	if to < p.n {
		return fmt.Errorf("internal error: input hash at byte %d asked to go back to %d", p.n, to)
	}
	n, err := io.CopyN(p.h, p.f, to-p.n)
	p.n += n
	if err == io.EOF {
		return fmt.Errorf("the input is shorter than %d bytes (it changed while being read?)", to)
	}
	return err
}

// sum is the digest of the bytes hashed so far.
func (p *prefixHasher) sum() string { return hex.EncodeToString(p.h.Sum(nil)) }

// rest hashes the remainder of the file and returns its size.
func (p *prefixHasher) rest() (int64, error) {
	n, err := io.Copy(p.h, p.f)
	p.n += n
	return p.n, err
}

func (p *prefixHasher) close() { p.f.Close() }
