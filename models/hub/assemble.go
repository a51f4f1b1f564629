package hub

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// source says where a pulled model came from; it goes into the manifest.
type source struct {
	Repo     string
	Revision string
	Commit   string
	Endpoint string
	License  string
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
