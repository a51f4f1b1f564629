package shards

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// FormatVersion names the manifest format.
const FormatVersion = "bertserve-shard/1"

// Name is the data file of shard i of n: part-0000I-of-0000N.npy.
func Name(i, n int) string { return fmt.Sprintf("part-%05d-of-%05d.npy", i, n) }

// ManifestName is the manifest file of shard i of n.
func ManifestName(i, n int) string { return fmt.Sprintf("part-%05d-of-%05d.json", i, n) }

var nameRe = regexp.MustCompile(`^part-(\d{5,})-of-(\d{5,})\.(npy|json)$`)

// ParseName returns the shard index and count a data or manifest file
// name carries.
func ParseName(name string) (i, n int, ok bool) {
	m := nameRe.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(m[1])
	n, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || n < 1 || i >= n {
		return 0, 0, false
	}
	return i, n, true
}

// Input identifies the corpus a shard was cut from.
type Input struct {
	// Name is the corpus file's base name (informative only).
	Name string `json:"name"`
	// Size and SHA256 are of the whole corpus file.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Rows is the number of rows of the whole corpus (all shards).
	Rows int `json:"rows"`
}

// Manifest describes one complete shard.
type Manifest struct {
	Format string `json:"format"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
	// File is the data file's base name; Rows, Dim, Bytes and SHA256
	// describe it.
	File   string `json:"file"`
	Rows   int    `json:"rows"`
	Dim    int    `json:"dim"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Model, ModelDigest (sha256 of model.onnx), Pooling, Normalize and
	// MaxLength say how the rows were embedded; OptionsDigest covers them
	// and every other option that can change a bit of the output.
	Model         string `json:"model"`
	ModelDigest   string `json:"model_digest"`
	Pooling       string `json:"pooling"`
	Normalize     bool   `json:"normalize"`
	MaxLength     int    `json:"max_length"`
	OptionsDigest string `json:"options_digest"`
	Input         Input  `json:"input"`
	// Complete is true once the data file is whole; a manifest is only
	// ever written for a complete shard, so false means a damaged one.
	Complete bool      `json:"complete"`
	Created  time.Time `json:"created"`
}

// WriteManifest writes m into dir atomically, as ManifestName(m.Shard,
// m.Shards).
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ManifestName(m.Shard, m.Shards))
	if err := atomicfile.WriteBytes(path, append(b, '\n')); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// ErrNoManifest is returned (wrapped) by ReadManifest for a shard without
// one: it was never finished.
var ErrNoManifest = errors.New("no manifest: the shard was not finished")

// ReadManifest reads the manifest of shard i of n in dir.
func ReadManifest(dir string, i, n int) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName(i, n))
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoManifest)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a shard manifest: %w", path, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("%s: format %q, want %q", path, m.Format, FormatVersion)
	}
	if m.Shard != i || m.Shards != n {
		return nil, fmt.Errorf("%s: says shard %d of %d", path, m.Shard, m.Shards)
	}
	return &m, nil
}

// ShardRows is how many of a corpus's rows shard i of n holds.
func ShardRows(corpusRows, i, n int) int {
	if corpusRows <= i {
		return 0
	}
	return (corpusRows - i + n - 1) / n
}
