package encoder

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// Cache stores embeddings on disk keyed by the encoder configuration
// (model digest, pooling, normalize, max length) and the text, so that
// training a head a second time on the same data does no encoder work.
//
// One append-only file per configuration holds records of a 32-byte
// sha256 key followed by dim little-endian float32 values. A run that is
// killed mid-write leaves at most a partial last record, which the next
// writer overwrites. It is safe for concurrent use within one process,
// and processes may share it (a CLI `train` beside another, or beside a
// server's training job): writers take an exclusive flock on the file
// and first pick up the records other processes appended, so nobody
// writes over anybody's records.
type Cache struct {
	mu    sync.Mutex
	f     *os.File
	dim   int
	index map[[32]byte]int64 // key -> offset of the vector
	size  int64              // end of the last whole record
	path  string
}

// CacheKey names the configuration whose embeddings a cache file holds.
func CacheKey(info Info) string {
	norm := "raw"
	if info.Normalize {
		norm = "l2"
	}
	d := info.Digest
	if len(d) > 16 {
		d = d[:16]
	}
	return fmt.Sprintf("%s-%s-%s-%d", d, info.Pooling, norm, info.MaxLength)
}

// OpenCache opens (creating if needed) the cache for an encoder in dir,
// by default CacheDir()/embeddings.
func OpenCache(dir string, info Info) (*Cache, error) {
	if dir == "" {
		dir = filepath.Join(CacheDir(), "embeddings")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedding cache: %w", err)
	}
	path := filepath.Join(dir, CacheKey(info)+".bin")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedding cache: %w", err)
	}
	c := &Cache{f: f, dim: info.Dim, index: map[[32]byte]int64{}, path: path}
	if err := c.load(); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cache) recordSize() int64 { return 32 + 4*int64(c.dim) }

// load indexes the whole records past c.size: all of them when the cache
// opens, those other processes appended since when it writes.
func (c *Cache) load() error {
	st, err := c.f.Stat()
	if err != nil {
		return err
	}
	rs := c.recordSize()
	end := st.Size() / rs * rs // a trailing partial record is ignored
	var key [32]byte
	for off := c.size; off < end; off += rs {
		if _, err := c.f.ReadAt(key[:], off); err != nil {
			return fmt.Errorf("embedding cache %s: %w (delete the file to rebuild it)", c.path, err)
		}
		c.index[key] = off + 32
	}
	if end > c.size {
		c.size = end
	}
	return nil
}

func textKey(text string) [32]byte { return sha256.Sum256([]byte(text)) }

// Len is the number of cached embeddings.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}

// Get returns the cached embedding of text.
func (c *Cache) Get(text string) ([]float32, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off, ok := c.index[textKey(text)]
	if !ok {
		return nil, false, nil
	}
	buf := make([]byte, 4*c.dim)
	if _, err := c.f.ReadAt(buf, off); err != nil {
		return nil, false, fmt.Errorf("embedding cache %s: %w", c.path, err)
	}
	v := make([]float32, c.dim)
	for j := range v {
		v[j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
	}
	return v, true, nil
}

// Put appends embeddings; texts already cached are skipped.
func (c *Cache) Put(texts []string, vecs [][]float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := make([]byte, 0, c.recordSize()*int64(len(texts)))
	pending := map[[32]byte]int64{} // key -> offset of the vector within buf
	var off int64
	for i, t := range texts {
		if len(vecs[i]) != c.dim {
			return fmt.Errorf("embedding cache: vector of %d values, cache holds dim %d", len(vecs[i]), c.dim)
		}
		k := textKey(t)
		if _, ok := c.index[k]; ok {
			continue
		}
		if _, ok := pending[k]; ok {
			continue
		}
		buf = append(buf, k[:]...)
		for _, x := range vecs[i] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
		pending[k] = off + 32
		off += c.recordSize()
	}
	if len(buf) == 0 {
		return nil
	}
	return withFileLock(c.f, c.path, func() error {
		if err := c.load(); err != nil { // what other processes appended
			return err
		}
		at := c.size
		if _, err := c.f.WriteAt(buf, at); err != nil {
			return fmt.Errorf("embedding cache %s: %w", c.path, err)
		}
		if err := c.f.Sync(); err != nil {
			return fmt.Errorf("embedding cache %s: %w", c.path, err)
		}
		for k, o := range pending {
			c.index[k] = at + o
		}
		c.size = at + off
		return nil
	})
}

// Close closes the cache file.
func (c *Cache) Close() error { return c.f.Close() }

// CachedResult is the outcome of EmbedCached.
type CachedResult struct {
	*Result
	// Hits is how many texts came from the cache.
	Hits int
}

// EmbedCached returns embeddings for texts, computing only those missing
// from the cache and adding them to it.
func (e *Encoder) EmbedCached(ctx context.Context, texts []string, c *Cache) (*CachedResult, error) {
	if c.dim != e.info.Dim {
		return nil, fmt.Errorf("embedding cache holds dim %d, encoder has %d", c.dim, e.info.Dim)
	}
	out := &CachedResult{Result: &Result{Vectors: make([][]float32, len(texts)), TokenCounts: make([]int, len(texts))}}
	var missText []string
	var missIdx []int
	seen := map[string]int{}
	for i, t := range texts {
		v, ok, err := c.Get(t)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Vectors[i] = v
			out.Hits++
			continue
		}
		if _, dup := seen[t]; dup {
			missIdx = append(missIdx, i)
			continue
		}
		seen[t] = len(missText)
		missText = append(missText, t)
		missIdx = append(missIdx, i)
	}
	if len(missText) == 0 {
		return out, nil
	}
	r, err := e.Embed(ctx, missText)
	if err != nil {
		return nil, err
	}
	if err := c.Put(missText, r.Vectors); err != nil {
		return nil, err
	}
	for _, i := range missIdx {
		k := seen[texts[i]]
		out.Vectors[i] = r.Vectors[k]
		out.TokenCounts[i] = r.TokenCounts[k]
	}
	out.Truncated, out.InvalidUTF8 = r.Truncated, r.InvalidUTF8
	out.PaddedTokens, out.Batches = r.PaddedTokens, r.Batches
	out.TokenizeTime, out.InferenceTime = r.TokenizeTime, r.InferenceTime
	return out, nil
}
