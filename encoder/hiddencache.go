package encoder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/x448/float16"
)

// Hidden-state storage types.
const (
	HiddenFloat16 = "float16"
	HiddenFloat32 = "float32"
)

const (
	hiddenMagic      = "BSHIDDEN"
	hiddenVersion    = 1
	hiddenHeaderSize = 16
	hiddenRecordHead = 32 + 4 // sha256 of the text, T
)

// HiddenCache stores, per text, the hidden states below a split layer over
// the text's real tokens only (T×hidden, no padding: the attention mask
// is all ones and implicit), as float16 (default) or float32, in one
// append-only file per configuration: encoder digest, split layer, maximum
// length and storage type. Training a head on the encoder's top layers a
// second time on the same data and split therefore runs no encoder work.
//
// The file is a 16-byte header (magic, version, type, hidden width) and
// records of a 32-byte sha256 of the text, T as uint32 and T×hidden
// little-endian values. A run killed mid-write leaves at most a partial
// last record, which the next writer overwrites. Writers take an exclusive
// flock, and pick up records other processes appended meanwhile, so two
// trainings can share a cache. Views (View) memory-map the file read-only.
type HiddenCache struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	hidden int
	dtype  string
	index  map[[32]byte]hiddenEntry
	size   int64 // end of the last whole record
}

type hiddenEntry struct {
	off int64 // of the values
	T   int
}

// HiddenCacheName is the file name of the cache for an encoder, a split
// layer and a storage type.
func HiddenCacheName(info Info, k int, dtype string) string {
	d := info.Digest
	if len(d) > 16 {
		d = d[:16]
	}
	return fmt.Sprintf("%s-k%d-len%d-%s.hidden", d, k, info.MaxLength, dtype)
}

// OpenHiddenCache opens (creating if needed) the hidden-state cache of an
// encoder below layer k in dir, by default CacheDir()/hidden.
func OpenHiddenCache(dir string, info Info, k, hidden int, dtype string) (*HiddenCache, error) {
	if dtype == "" {
		dtype = HiddenFloat16
	}
	if dtype != HiddenFloat16 && dtype != HiddenFloat32 {
		return nil, fmt.Errorf("hidden-state cache: storage type %q is not %s or %s", dtype, HiddenFloat16, HiddenFloat32)
	}
	if hidden <= 0 || k < 0 {
		return nil, fmt.Errorf("hidden-state cache: hidden width %d and split layer %d must be positive", hidden, k)
	}
	if dir == "" {
		dir = filepath.Join(CacheDir(), "hidden")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("hidden-state cache: %w", err)
	}
	path := filepath.Join(dir, HiddenCacheName(info, k, dtype))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("hidden-state cache: %w", err)
	}
	c := &HiddenCache{f: f, path: path, hidden: hidden, dtype: dtype, index: map[[32]byte]hiddenEntry{}}
	err = c.locked(func() error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.Size() < hiddenHeaderSize {
			return c.writeHeader()
		}
		if err := c.checkHeader(); err != nil {
			return err
		}
		return c.scan(hiddenHeaderSize, st.Size())
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// locked runs fn holding the cache file's lock.
func (c *HiddenCache) locked(fn func() error) error { return withFileLock(c.f, c.path, fn) }

// Path is the cache file.
func (c *HiddenCache) Path() string { return c.path }

// Hidden is the width of the stored states.
func (c *HiddenCache) Hidden() int { return c.hidden }

// DType is the storage type.
func (c *HiddenCache) DType() string { return c.dtype }

func (c *HiddenCache) elemSize() int64 {
	if c.dtype == HiddenFloat32 {
		return 4
	}
	return 2
}

// RecordSize is the bytes a text of T tokens takes in the cache.
func (c *HiddenCache) RecordSize(T int) int64 {
	return hiddenRecordHead + int64(T)*int64(c.hidden)*c.elemSize()
}

func (c *HiddenCache) writeHeader() error {
	var h [hiddenHeaderSize]byte
	copy(h[:], hiddenMagic)
	binary.LittleEndian.PutUint16(h[8:], hiddenVersion)
	dt := uint16(1)
	if c.dtype == HiddenFloat32 {
		dt = 2
	}
	binary.LittleEndian.PutUint16(h[10:], dt)
	binary.LittleEndian.PutUint32(h[12:], uint32(c.hidden))
	if _, err := c.f.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("hidden-state cache %s: %w", c.path, err)
	}
	c.size = hiddenHeaderSize
	return nil
}

func (c *HiddenCache) checkHeader() error {
	var h [hiddenHeaderSize]byte
	if _, err := c.f.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("hidden-state cache %s: %w (delete the file to rebuild it)", c.path, err)
	}
	dt := map[uint16]string{1: HiddenFloat16, 2: HiddenFloat32}[binary.LittleEndian.Uint16(h[10:])]
	if string(h[:8]) != hiddenMagic || binary.LittleEndian.Uint16(h[8:]) != hiddenVersion ||
		dt != c.dtype || int(binary.LittleEndian.Uint32(h[12:])) != c.hidden {
		return fmt.Errorf("hidden-state cache %s was written for another format (%q, version %d, %s, width %d; want %s, width %d): delete the file to rebuild it",
			c.path, h[:8], binary.LittleEndian.Uint16(h[8:]), dt, binary.LittleEndian.Uint32(h[12:]), c.dtype, c.hidden)
	}
	return nil
}

// scan indexes the whole records in [from, end); a trailing partial
// record is left out (and overwritten by the next write).
func (c *HiddenCache) scan(from, end int64) error {
	var head [hiddenRecordHead]byte
	off := from
	for off+hiddenRecordHead <= end {
		if _, err := c.f.ReadAt(head[:], off); err != nil {
			return fmt.Errorf("hidden-state cache %s: %w (delete the file to rebuild it)", c.path, err)
		}
		T := int(binary.LittleEndian.Uint32(head[32:]))
		next := off + c.RecordSize(T)
		if next > end || next < off {
			break
		}
		var key [32]byte
		copy(key[:], head[:32])
		c.index[key] = hiddenEntry{off: off + hiddenRecordHead, T: T}
		off = next
	}
	c.size = off
	return nil
}

// Len is the number of cached texts.
func (c *HiddenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}

// Has reports whether text's hidden states are cached.
func (c *HiddenCache) Has(text string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.index[textKey(text)]
	return ok
}

// hiddenBatch collects records to append in one write.
type hiddenBatch struct {
	buf  []byte
	keys [][32]byte
	offs []int64 // of the values, relative to buf
	lens []int
}

// add encodes one text's states (T×hidden float32) into the batch.
func (c *HiddenCache) add(b *hiddenBatch, text string, h []float32, T int) error {
	if len(h) != T*c.hidden {
		return fmt.Errorf("hidden-state cache: %d values for %d tokens of width %d", len(h), T, c.hidden)
	}
	k := textKey(text)
	b.buf = append(b.buf, k[:]...)
	b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(T))
	b.keys = append(b.keys, k)
	b.offs = append(b.offs, int64(len(b.buf)))
	b.lens = append(b.lens, T)
	if c.dtype == HiddenFloat32 {
		for _, x := range h {
			b.buf = binary.LittleEndian.AppendUint32(b.buf, math.Float32bits(x))
		}
		return nil
	}
	for _, x := range h {
		b.buf = binary.LittleEndian.AppendUint16(b.buf, float16.Fromfloat32(x).Bits())
	}
	return nil
}

// flush appends the batch after the last whole record (re-reading what
// other processes appended first) and syncs it.
func (c *HiddenCache) flush(b *hiddenBatch) error {
	if len(b.buf) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.locked(func() error {
		st, err := c.f.Stat()
		if err != nil {
			return err
		}
		if st.Size() > c.size {
			if err := c.scan(c.size, st.Size()); err != nil {
				return err
			}
		}
		at := c.size
		if _, err := c.f.WriteAt(b.buf, at); err != nil {
			return fmt.Errorf("hidden-state cache %s: %w", c.path, err)
		}
		if err := c.f.Sync(); err != nil {
			return fmt.Errorf("hidden-state cache %s: %w", c.path, err)
		}
		for i, k := range b.keys {
			c.index[k] = hiddenEntry{off: at + b.offs[i], T: b.lens[i]}
		}
		c.size = at + int64(len(b.buf))
		return nil
	})
	*b = hiddenBatch{buf: b.buf[:0]}
	return err
}

// Put stores one text's hidden states (T×hidden float32, row-major).
func (c *HiddenCache) Put(text string, h []float32, T int) error {
	var b hiddenBatch
	if err := c.add(&b, text, h, T); err != nil {
		return err
	}
	return c.flush(&b)
}

// Close closes the cache file; views stay valid until they are closed.
func (c *HiddenCache) Close() error { return c.f.Close() }

// View returns the cached hidden states of texts, in order, as a
// read-only memory map. Every text must be cached.
func (c *HiddenCache) View(texts []string) (*HiddenStates, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hs := &HiddenStates{hidden: c.hidden, f16: c.dtype == HiddenFloat16, offs: make([]int64, len(texts)), lens: make([]int32, len(texts))}
	for i, t := range texts {
		e, ok := c.index[textKey(t)]
		if !ok {
			return nil, fmt.Errorf("hidden-state cache %s has no entry for text %d (%.40q)", c.path, i, t)
		}
		hs.offs[i], hs.lens[i] = e.off, int32(e.T)
	}
	data, unmap, err := mapFile(c.f, c.size)
	if err != nil {
		return nil, fmt.Errorf("hidden-state cache %s: %w", c.path, err)
	}
	hs.data, hs.unmap = data, unmap
	return hs, nil
}

// HiddenStates are per-text hidden states below a split layer, read from a
// HiddenCache. They implement the Sequences interface of package head:
// Len, Hidden and Row. Safe for concurrent use.
type HiddenStates struct {
	data   []byte
	unmap  func() error
	hidden int
	f16    bool
	offs   []int64
	lens   []int32
	once   sync.Once
}

// Len is the number of texts.
func (h *HiddenStates) Len() int { return len(h.offs) }

// Hidden is the width H of each token's state.
func (h *HiddenStates) Hidden() int { return h.hidden }

// Tokens is the number of tokens T of text i.
func (h *HiddenStates) Tokens(i int) int { return int(h.lens[i]) }

// Row returns text i's hidden states, T×H row-major float32, reusing dst
// when it is large enough, and T.
func (h *HiddenStates) Row(i int, dst []float32) ([]float32, int) {
	T := int(h.lens[i])
	n := T * h.hidden
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	off := h.offs[i]
	if h.f16 {
		src := h.data[off : off+2*int64(n)]
		tab := halfTable()
		for j := range dst {
			dst[j] = tab[binary.LittleEndian.Uint16(src[2*j:])]
		}
		return dst, T
	}
	src := h.data[off : off+4*int64(n)]
	for j := range dst {
		dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*j:]))
	}
	return dst, T
}

// Close releases the memory map. Rows must not be read afterwards.
func (h *HiddenStates) Close() error {
	var err error
	h.once.Do(func() {
		if h.unmap != nil {
			err = h.unmap()
		}
	})
	return err
}

var (
	halfOnce sync.Once
	halfTab  []float32
)

// halfTable maps every float16 bit pattern to its float32 value (256 KiB,
// built once): decoding a row is then one load per value.
func halfTable() []float32 {
	halfOnce.Do(func() {
		halfTab = make([]float32, 1<<16)
		for i := range halfTab {
			halfTab[i] = float16.Frombits(uint16(i)).Float32()
		}
	})
	return halfTab
}

// ErrNoStatfs is returned by FreeBytes where the platform cannot tell.
var ErrNoStatfs = errors.New("free disk space is unknown on this platform")

// readAll is the portable fallback of mapFile.
func readAll(f *os.File, size int64) ([]byte, error) {
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf, nil
}
