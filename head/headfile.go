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
	"strings"

	"github.com/bertserve/bertserve/encoder/atomicfile"
	"github.com/bertserve/bertserve/models/safetensors"
)

// File names inside a head directory.
const (
	TensorsFile = "head.safetensors"
	MetaFile    = "head.json"
)

// SaveOptions add files to a head directory. Save writes them into the
// same temporary directory as the tensors and head.json, before the one
// swap that puts the head in place, so they appear and disappear with it.
type SaveOptions struct {
	// Files maps plain file names (no directories) to their content:
	// curves.json, curves.png, errors.jsonl, tail.onnx, ...
	Files map[string][]byte
	// Fill, when set, writes further files into the temporary directory
	// (for content too large to hold in memory).
	Fill func(tmp string) error
}

// Save writes m to dir: head.safetensors, head.json and the files of
// opts, all into one temporary directory beside dir that then replaces
// dir in one swap (encoder/atomicfile.ReplaceDir). Whatever the moment a
// run is killed, dir holds the previous head or the new one, whole, and
// the next Save or Load repairs and cleans up what the kill left. An
// existing dir is replaced only when it is empty or a head directory.
func Save(dir string, m *Model, opts ...SaveOptions) error {
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
	for _, o := range opts {
		for name := range o.Files {
			if err := checkExtraName(name); err != nil {
				return err
			}
		}
	}
	dir = filepath.Clean(dir)
	if err := atomicfile.RepairDir(dir); err != nil {
		return err
	}
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	err = atomicfile.ReplaceDir(dir, func(tmp string) error {
		files := []struct {
			name string
			data []byte
		}{{TensorsFile, st.Bytes()}, {MetaFile, append(meta, '\n')}}
		for _, o := range opts {
			names := make([]string, 0, len(o.Files))
			for n := range o.Files {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				files = append(files, struct {
					name string
					data []byte
				}{n, o.Files[n]})
			}
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(tmp, f.name), f.data, 0o644); err != nil {
				return err
			}
		}
		for _, o := range opts {
			if o.Fill != nil {
				if err := o.Fill(tmp); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving the head to %s: %w", dir, err)
	}
	return nil
}

// checkExtraName accepts a plain file name that is not one of the head's
// own files.
func checkExtraName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name {
		return fmt.Errorf("head file name %q must be a plain file name", name)
	}
	if name == MetaFile || name == TensorsFile {
		return fmt.Errorf("head file name %q is written by Save itself", name)
	}
	return nil
}

// checkReplaceable refuses to replace a directory that is not a head: it
// must be empty or hold a head.json of ours, so a mistyped --out cannot
// wipe a folder of the user's. (Files beside head.json are the head's:
// curves, errors, a tail graph, or a temporary an old version left.)
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
	if len(entries) == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return fmt.Errorf("%s exists and holds %d entries but no %s, so it is not a head directory; choose another output path", dir, len(entries), MetaFile)
	}
	var probe struct {
		Format string `json:"format"`
	}
	if json.Unmarshal(b, &probe) != nil || probe.Format != FormatName {
		return fmt.Errorf("%s holds a %s that is not a bertserve head, so it will not be replaced; choose another output path", dir, MetaFile)
	}
	return nil
}

// Load reads a head directory written by Save. It first repairs dir if a
// Save was killed mid-swap (atomicfile.RepairDir), so it finds the old
// head or the new one.
func Load(dir string) (*Model, error) {
	if err := atomicfile.RepairDir(filepath.Clean(dir)); err != nil {
		return nil, err
	}
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
	legacy, err := readLegacyAdapter(metaJSON, meta.Dim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MetaFile, err)
	}
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
	legacy.addShapes(shapes, meta.Dim)
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
		p.Touch()
	}
	if meta.Params.Total != 0 && meta.Params.Total != net.headParams+legacy.params(meta.Dim)+meta.Params.Tail {
		return nil, fmt.Errorf("%s counts %d parameters but its tensors hold %d", MetaFile, meta.Params.Total, net.headParams+legacy.params(meta.Dim)+meta.Params.Tail)
	}
	if legacy != nil {
		legacy.fold(net, st.Tensors, meta.Dim)
		meta.Params.Total = net.headParams + meta.Params.Tail
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
