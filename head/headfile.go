package head

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/bertserve/bertserve/models/safetensors"
)

// File names inside a head directory.
const (
	TensorsFile = "head.safetensors"
	MetaFile    = "head.json"
)

// Save writes m to dir as head.safetensors and head.json. Both files are
// written into a temporary sibling directory that is then renamed into
// place, so a reader sees the old head or the new one, never half of
// one. An existing dir is replaced only when it is a head directory (or
// empty).
func Save(dir string, m *Model) error {
	meta, err := json.MarshalIndent(m.meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding head.json: %w", err)
	}
	tensors := map[string]safetensors.Tensor{}
	for _, p := range m.net.seq.Params() {
		tensors[p.Name] = safetensors.Tensor{Shape: slices.Clone(p.Shape), Data: slices.Clone(p.W)}
	}
	for name, t := range m.tailTensors() {
		tensors[name] = t
	}
	var st bytes.Buffer
	if err := safetensors.Write(&st, tensors, map[string]string{"format": FormatName}); err != nil {
		return fmt.Errorf("encoding head.safetensors: %w", err)
	}
	dir = filepath.Clean(dir)
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("saving head: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeSynced(filepath.Join(tmp, TensorsFile), st.Bytes()); err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(tmp, MetaFile), append(meta, '\n')); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	var old string
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replacing %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("saving head to %s: %w", dir, err)
	}
	done = true
	if old != "" {
		os.RemoveAll(old)
	}
	syncDir(parent)
	return nil
}

// checkReplaceable refuses to replace a directory that holds anything
// but a head.
func checkReplaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory; choose another output path", dir)
		}
		return err
	}
	for _, e := range entries {
		switch e.Name() {
		case TensorsFile, MetaFile, "curves.png", "curves.json", "errors.jsonl", "metrics.json":
		default:
			return fmt.Errorf("%s exists and holds %q, so it is not a head directory; choose another output path", dir, e.Name())
		}
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Load reads a head directory written by Save.
func Load(dir string) (*Model, error) {
	meta, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a head directory (no %s): %w", dir, MetaFile, err)
		}
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, TensorsFile))
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", dir, err)
	}
	defer f.Close()
	m, err := decode(meta, f)
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", dir, err)
	}
	return m, nil
}

// decode builds a model from head.json bytes and a safetensors stream.
func decode(metaJSON []byte, tensors io.Reader) (*Model, error) {
	var meta Meta
	if err := json.Unmarshal(metaJSON, &meta); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", MetaFile, err)
	}
	if err := meta.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaFile, err)
	}
	a := archFromMeta(meta)
	st, err := safetensors.Read(tensors)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", TensorsFile, err)
	}
	// Check names and shapes before building, so memory stays bounded by
	// the size of the file.
	shapes := a.paramShapes()
	if meta.Tail != nil {
		for name, shape := range meta.Tail.tensorShapes() {
			shapes[name] = shape
		}
	}
	names := st.Names()
	for _, name := range names {
		if _, ok := shapes[name]; !ok {
			return nil, fmt.Errorf("%s holds tensor %q, which this %s head does not have", TensorsFile, name, meta.Head.Kind)
		}
	}
	for _, name := range sortedNames(shapes) {
		shape := shapes[name]
		t, ok := st.Tensors[name]
		if !ok {
			return nil, fmt.Errorf("%s lacks tensor %q (found %v)", TensorsFile, name, names)
		}
		if !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, %s implies %v", TensorsFile, name, t.Shape, MetaFile, shape)
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%s: tensor %q holds a non-finite value at %d", TensorsFile, name, i)
			}
		}
	}
	net, err := buildNetwork[float32](a, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MetaFile, err)
	}
	for _, p := range net.seq.Params() {
		copy(p.W, st.Tensors[p.Name].Data)
	}
	if meta.Params.Total != 0 && meta.Params.Total != net.headParams+net.adapterParams+meta.Params.Tail {
		return nil, fmt.Errorf("%s counts %d parameters but its tensors hold %d", MetaFile, meta.Params.Total, net.headParams+net.adapterParams)
	}
	m := &Model{meta: meta, net: net}
	if meta.Tail != nil {
		if err := m.loadTail(st.Tensors); err != nil {
			return nil, fmt.Errorf("%s: %w", TensorsFile, err)
		}
	}
	return m, nil
}

// check validates the fields that fix the network.
func (m *Meta) check() error {
	if m.Format != FormatName {
		return fmt.Errorf("format %q, want %q (is this a bertserve head?)", m.Format, FormatName)
	}
	if m.Version < 1 || m.Version > FormatVersion {
		return fmt.Errorf("version %d; this build reads versions up to %d, upgrade bertserve", m.Version, FormatVersion)
	}
	if len(m.Labels) < 2 {
		return fmt.Errorf("%d labels; a head needs at least two", len(m.Labels))
	}
	seen := map[string]bool{}
	for _, l := range m.Labels {
		if seen[l] {
			return fmt.Errorf("label %q appears twice", l)
		}
		seen[l] = true
	}
	if m.Dim < 1 || m.Dim > 1<<20 {
		return fmt.Errorf("dim %d out of range", m.Dim)
	}
	if len(m.Labels) > 1<<16 {
		return fmt.Errorf("%d labels is too many", len(m.Labels))
	}
	for _, h := range m.Head.Hidden {
		if h < 1 || h > 1<<16 {
			return fmt.Errorf("hidden width %d out of range", h)
		}
	}
	if m.Head.Dropout < 0 || m.Head.Dropout >= 1 || math.IsNaN(m.Head.Dropout) {
		return fmt.Errorf("dropout %v out of range", m.Head.Dropout)
	}
	if m.Tail != nil {
		if err := m.Tail.TailSpec.Validate(); err != nil {
			return fmt.Errorf("tail: %w", err)
		}
		if m.Tail.Hidden != m.Dim {
			return fmt.Errorf("tail width %d differs from the head's dim %d", m.Tail.Hidden, m.Dim)
		}
	}
	if m.Adapter != nil {
		if err := (AdapterConfig{Kind: m.Adapter.Kind, Rank: m.Adapter.Rank, Alpha: m.Adapter.Alpha}).Validate(); err != nil {
			return fmt.Errorf("adapter: %w", err)
		}
	}
	return nil
}

func sortedNames(m map[string][]int) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
