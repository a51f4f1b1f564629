package hub

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bertserve/bertserve/models"
)

// source says where a pulled model came from; it goes into the manifest.
type source struct {
	Repo     string
	Revision string
	Commit   string
	Endpoint string
	License  string
}

// importONNX makes the model directory out from a downloaded ONNX
// export. The BERT weights are recovered from the graph
// (models.ImportONNX): out then holds model.safetensors, a config.json
// read off the graph and a model.onnx written by the builder, like a
// safetensors import, so heads can train inside the encoder. An export
// whose graph is not a BERT-family encoder the recovery knows (quantized,
// fused, another architecture) is used as it is: it embeds and serves,
// and the progress line says why `train --tune` will not work on it.
func (p *puller) importONNX(stage, out string, pl plan, src source) error {
	p.progress.note("recovering the BERT weights from %s", pl.onnx)
	_, _, err := models.ImportONNX(filepath.Join(stage, filepath.FromSlash(pl.onnx)), out, models.ONNXImportOptions{
		Name: src.Repo, Source: sourceOf(src), License: src.License,
	})
	if err == nil {
		return nil
	}
	p.progress.note("using %s as it is: %v; it embeds and serves, but `bertserve train --tune` needs the weights (a repo with model.safetensors has them)", pl.onnx, err)
	if err := clearDir(out); err != nil {
		return err
	}
	return assembleONNX(stage, out, pl, src)
}

// clearDir removes what dir holds, keeping dir.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// assembleONNX moves a downloaded ONNX export and its support files from
// stage into the model directory out: the graph (and any external-data
// file next to it) goes to the top as model.onnx, support files keep
// their repo paths. Then it writes the manifest.
func assembleONNX(stage, out string, pl plan, src source) error {
	dir := path.Dir(pl.onnx)
	for _, f := range pl.files {
		dst := f
		if path.Dir(f) == dir && strings.HasPrefix(path.Base(f), path.Base(pl.onnx)) {
			// onnx/model.onnx -> model.onnx, onnx/model.onnx_data -> model.onnx_data:
			// the graph names its external data relative to itself.
			dst = path.Base(f)
		}
		to := filepath.Join(out, filepath.FromSlash(dst))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(stage, filepath.FromSlash(f)), to); err != nil {
			return fmt.Errorf("assembling the model directory: %w", err)
		}
	}
	return writeONNXManifest(out, src)
}
