package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/encoder/atomicfile"
)

// Until the models package has its manifest writer and ImportHF, Pull
// writes a minimal manifest itself and converts safetensors only through
// Options.Import.

func writeManifest(out string, src source) error {
	fh, err := os.Open(filepath.Join(out, "model.onnx"))
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return err
	}
	m := map[string]any{
		"name":    src.Repo,
		"source":  src.URL(),
		"sha256":  hex.EncodeToString(h.Sum(nil)),
		"license": src.License,
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return atomicfile.WriteBytes(filepath.Join(out, "bertserve.json"), b)
}

func (p *puller) importHF(stage, out string, src source) error {
	if p.Import == nil {
		return errors.New("converting safetensors weights needs models.ImportHF, which this build does not have yet: pull a repo with onnx/model.onnx")
	}
	if err := os.Remove(out); err != nil {
		return err
	}
	return p.Import(stage, out)
}
