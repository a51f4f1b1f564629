package head

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/head/internal/nn"
	"github.com/bertserve/bertserve/models/safetensors"
)

// The PyTorch one-step reference (scripts/tune_reference.py): from the
// same weights and batch, one TrainTail step gives the same loss, the
// same gradient of every trainable tensor and the same AdamW-updated
// weights, within 1e-4 relative (errors relative to the largest element
// of each tensor; float32 here, float64 there).

const goldenTol = 1e-4

type goldenConfig struct {
	Spec           TailSpec `json:"spec"`
	Tune           string   `json:"tune"`
	LoRATargets    []string `json:"lora_targets"`
	LoRARank       int      `json:"lora_rank"`
	LoRAAlpha      float64  `json:"lora_alpha"`
	LR             float64  `json:"lr"`
	WeightDecay    float64  `json:"weight_decay"`
	LayerLRDecay   float64  `json:"layer_lr_decay"`
	LabelSmoothing float64  `json:"label_smoothing"`
	Clip           float64  `json:"clip"`
	Classes        int      `json:"classes"`
	Full           bool     `json:"full"`
}

// minilmWeights finds all-MiniLM-L6-v2's model.safetensors:
// $BERTSERVE_MINILM_SAFETENSORS, else the default model of the cache
// (`bertserve pull default`) when it is MiniLM.
func minilmWeights(t *testing.T) *safetensors.File {
	t.Helper()
	path := os.Getenv("BERTSERVE_MINILM_SAFETENSORS")
	if path == "" {
		cache := os.Getenv("BERTSERVE_CACHE")
		if cache == "" {
			if home, err := os.UserHomeDir(); err == nil {
				cache = filepath.Join(home, ".cache", "bertserve")
			}
		}
		path = filepath.Join(cache, "models", "default", "model.safetensors")
	}
	f, err := safetensors.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("all-MiniLM-L6-v2 weights not found at %s: run `bertserve pull default` (or set BERTSERVE_MINILM_SAFETENSORS) to run this check", path)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if _, ok := minilmTensor(f, "encoder.layer.5.attention.self.query.weight"); !ok {
		t.Skipf("%s is not all-MiniLM-L6-v2 (no encoder.layer.5 tensors): run `bertserve pull default` with the MiniLM default", path)
	}
	return f
}

func minilmTensor(f *safetensors.File, name string) (safetensors.Tensor, bool) {
	for _, p := range []string{"", "bert.", "0.auto_model."} {
		if t, ok := f.Tensors[p+name]; ok {
			return t, true
		}
	}
	return safetensors.Tensor{}, false
}

// relErr returns max |got − want| / max(max |want|, floor). The floor
// (1e-7 of the whole gradient's norm for gradients) keeps a tensor whose
// exact gradient is zero (the attention key bias: softmax ignores a
// constant shift of a row's scores) from dividing rounding noise by
// rounding noise.
func relErr(got []float32, want []float32, floor float64) float64 {
	var d, m float64
	for i, w := range want {
		d = max(d, math.Abs(float64(got[i])-float64(w)))
		m = max(m, math.Abs(float64(w)))
	}
	return d / max(m, floor)
}

func sampleIndex(n int) []int {
	idx := make([]int, 64)
	for i := range idx {
		idx[i] = (i*7919 + 13) % n
	}
	return idx
}

func norm32(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// goldenStep runs the case and returns the worst relative errors of the
// loss, the gradients and the updated weights.
func goldenStep(t *testing.T, name string) (lossErr, gradErr, newErr float64) {
	t.Helper()
	g, err := safetensors.ReadFile(filepath.Join("testdata", "tune", name+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var gc goldenConfig
	if err := json.Unmarshal([]byte(g.Metadata["config"]), &gc); err != nil {
		t.Fatal(err)
	}
	spec := gc.Spec
	base := &TailWeights{Spec: spec, Layers: make([]map[string][]float32, spec.NumLayers)}
	var model *safetensors.File
	if !gc.Full {
		model = minilmWeights(t)
	}
	for j := range base.Layers {
		base.Layers[j] = map[string][]float32{}
		for _, tn := range LayerTensors {
			if gc.Full {
				base.Layers[j][tn] = g.Tensors["init."+layerPrefix(j)+tn].Data
				continue
			}
			mt, ok := minilmTensor(model, fmt.Sprintf("encoder.layer.%d.%s", spec.FirstLayer+j, tn))
			if !ok {
				t.Fatalf("model lacks layer %d tensor %s", spec.FirstLayer+j, tn)
			}
			base.Layers[j][tn] = mt.Data
		}
	}
	if spec.FinalLayerNorm {
		base.Final = map[string][]float32{}
		for _, tn := range FinalTensors {
			base.Final[tn] = g.Tensors["init."+tailPrefix+tn].Data
		}
	}
	cfg := Default()
	cfg.Tune, cfg.Layers = gc.Tune, spec.NumLayers
	cfg.LoRATargets, cfg.LoRARank, cfg.LoRAAlpha, cfg.LoRADropout = gc.LoRATargets, gc.LoRARank, gc.LoRAAlpha, 0
	cfg.LR, cfg.WeightDecay, cfg.LayerLRDecay, cfg.LabelSmoothing, cfg.Clip = gc.LR, gc.WeightDecay, gc.LayerLRDecay, gc.LabelSmoothing, gc.Clip
	if gc.Tune == TuneTop {
		cfg.LoRATargets = []string{TargetQuery}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tail, err := buildTail[float32](base, cfg, nn.NewRNG(1), nn.NewRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	setTrainable(tail, cfg, spec.NumLayers)
	net, err := buildNetwork[float32](archOf(cfg, spec.Hidden, gc.Classes), 1)
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]string, gc.Classes)
	for i := range labels {
		labels[i] = fmt.Sprint(i)
	}
	tr := &trainer{cfg: cfg, ce: nn.CrossEntropy{Smoothing: cfg.LabelSmoothing}, net: net, labels: labels}
	tr.params = append(tail.Params(), net.seq.Params()...)
	for _, p := range tr.params {
		if init, ok := g.Tensors["init."+p.Name]; ok && (strings.Contains(p.Name, ".lora_") || strings.HasPrefix(p.Name, "out.")) {
			copy(p.W, init.Data)
		}
	}
	offs := g.Tensors["in.offsets"].Data
	b := &seqBatch{x: &nn.Mat[float32]{Rows: int(offs[len(offs)-1]), Cols: spec.Hidden, Data: g.Tensors["in.x"].Data}}
	for _, o := range offs {
		b.off = append(b.off, int(o))
	}
	var y []int
	for _, v := range g.Tensors["in.labels"].Data {
		y = append(y, int(v))
	}
	grad := nn.NewMat[float32](len(y), gc.Classes)
	_, lossSum := tr.tailGrad(tail, b, y, float64(len(y)), grad)
	want := float64(g.Tensors["loss"].Data[0])
	lossErr = math.Abs(lossSum/float64(len(y))-want) / math.Abs(want)
	floor := 1e-7 * float64(g.Tensors["grad_norm"].Data[0])
	checked := 0
	for _, p := range tr.params {
		if p.Frozen {
			continue
		}
		checked++
		var e float64
		if gc.Full {
			ref, ok := g.Tensors["grad."+p.Name]
			if !ok {
				t.Fatalf("golden file lacks the gradient of trainable %s", p.Name)
			}
			e = relErr(p.G, ref.Data, floor)
		} else {
			ref, ok := g.Tensors["gradsample."+p.Name]
			if !ok {
				t.Fatalf("golden file lacks the gradient of trainable %s", p.Name)
			}
			sample := make([]float32, 64)
			for i, k := range sampleIndex(len(p.G)) {
				sample[i] = p.G[k]
			}
			absmax := max(float64(g.Tensors["gradabsmax."+p.Name].Data[0]), floor)
			for i, v := range ref.Data {
				e = max(e, math.Abs(float64(sample[i]-v))/absmax)
			}
			gn := float64(g.Tensors["gradnorm."+p.Name].Data[0])
			e = max(e, math.Abs(norm32(p.G)-gn)/max(gn, floor))
		}
		if e > goldenTol {
			t.Errorf("%s: gradient %s differs from PyTorch by %.3g relative", name, p.Name, e)
		}
		gradErr = max(gradErr, e)
	}
	tr.update(nn.NewAdamW[float32](cfg.WeightDecay), cfg.LR)
	for _, p := range tr.params {
		if p.Frozen {
			continue
		}
		var e float64
		if gc.Full {
			e = relErr(p.W, g.Tensors["new."+p.Name].Data, 0)
		} else {
			ref := g.Tensors["newsample."+p.Name].Data
			var m float64
			for _, v := range ref {
				m = max(m, math.Abs(float64(v)))
			}
			for i, k := range sampleIndex(len(p.W)) {
				e = max(e, math.Abs(float64(p.W[k]-ref[i]))/m)
			}
			nw := float64(g.Tensors["newnorm."+p.Name].Data[0])
			e = max(e, math.Abs(norm32(p.W)-nw)/nw)
		}
		if e > goldenTol {
			t.Errorf("%s: updated %s differs from PyTorch by %.3g relative", name, p.Name, e)
		}
		newErr = max(newErr, e)
	}
	if checked == 0 {
		t.Fatal("no trainable tensor checked")
	}
	return lossErr, gradErr, newErr
}

func TestTuneStepMatchesPyTorch(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"small_post_lora", "small_post_top", "small_pre_top", "minilm_lora", "minilm_top"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, g, n := goldenStep(t, name)
			if l > goldenTol {
				t.Errorf("loss differs by %.3g relative", l)
			}
			t.Logf("max relative error: loss %.2g, gradients %.2g, updated weights %.2g", l, g, n)
		})
	}
}
