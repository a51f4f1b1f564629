package head

import (
	"fmt"
	"math"
	"strings"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// A tail's parameter names in head.safetensors: tail.layer.{j}.{canonical
// name}, tail.final.LayerNorm.{weight,bias}; LoRA tensors while training
// are tail.layer.{j}.{projection}.lora_A.weight / lora_B.weight, as PEFT
// names them.
const tailPrefix = "tail."

func layerPrefix(j int) string { return fmt.Sprintf("%slayer.%d.", tailPrefix, j) }

func layerConfig(s TailSpec) nn.LayerConfig {
	act := nn.GELUExact
	switch s.Activation {
	case ActGELUTanh, "gelu_pytorch_tanh", "gelu_fast":
		act = nn.GELU
	case ActReLU:
		act = nn.ReLU
	}
	return nn.LayerConfig{Hidden: s.Hidden, Heads: s.Heads, Inter: s.Intermediate, Eps: s.LayerNormEps,
		PreLN: s.Layout == LayoutPreLN, Act: act, HiddenDrop: s.HiddenDropout, AttnDrop: s.AttentionDropout}
}

// projTarget maps a canonical LoRA target to the layer's projection.
func projTarget[T nn.Float](l *nn.EncoderLayer[T], target string) *nn.Proj[T] {
	switch target {
	case TargetQuery:
		return l.Q
	case TargetKey:
		return l.K
	case TargetValue:
		return l.V
	case TargetAttnOutput:
		return l.O
	case TargetIntermediate:
		return l.I
	case TargetOutput:
		return l.Out
	}
	return nil
}

// buildTail makes the trainable (or inference) network of a tail from
// its weights. With cfg tuned by LoRA every base tensor is frozen and
// the targets get LoRA branches; with "top" everything trains. Dropout
// masks come from drop, LoRA's A from init.
func buildTail[T nn.Float](w *TailWeights, cfg TrainConfig, init, drop *nn.RNG) (*nn.TailNet[T], error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	s := w.Spec
	lc := layerConfig(s)
	net := &nn.TailNet[T]{Pool: &nn.Pool[T]{Mean: s.Pooling == PoolMean, Normalize: s.Normalize}}
	var targets []string
	if cfg.Tune == TuneLoRA {
		var err error
		if targets, err = CanonicalTargets(cfg.LoRATargets); err != nil {
			return nil, err
		}
	}
	for j, lw := range w.Layers {
		l, err := nn.NewEncoderLayer[T](layerPrefix(j), lc, drop)
		if err != nil {
			return nil, err
		}
		for i, p := range l.Params() {
			copyConv(p.W, lw[nn.LayerTensorNames[i]])
			p.Touch()
		}
		for _, tg := range targets {
			p := projTarget(l, tg)
			p.AddLoRA(strings.TrimSuffix(p.W.Name, ".weight"), cfg.LoRARank, cfg.LoRAAlpha, cfg.LoRADropout, init, drop)
		}
		l.SetFrozen(cfg.Tune == TuneLoRA)
		net.Layers = append(net.Layers, l)
	}
	if s.FinalLayerNorm {
		net.Final = nn.NewLayerNorm[T](tailPrefix+"final.LayerNorm", s.Hidden, s.LayerNormEps)
		copyConv(net.Final.Weight.W, w.Final["final.LayerNorm.weight"])
		copyConv(net.Final.Bias.W, w.Final["final.LayerNorm.bias"])
		net.Final.Weight.Frozen = cfg.Tune == TuneLoRA
		net.Final.Bias.Frozen = cfg.Tune == TuneLoRA
	}
	return net, nil
}

func copyConv[T nn.Float](dst []T, src []float32) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

// setTrainable freezes the layers below the top `active` ones (gradual
// unfreezing) and sets the layer-wise learning-rate scales: the layer j
// levels below the head trains at decay^j of the head's rate (the top
// layer at decay¹); a final LayerNorm trains with the head.
func setTrainable[T nn.Float](net *nn.TailNet[T], cfg TrainConfig, active int) {
	N := len(net.Layers)
	active = min(max(active, 0), N)
	net.Lowest = N - active
	for j, l := range net.Layers {
		on := j >= net.Lowest
		scale := math.Pow(cfg.LayerLRDecay, float64(N-j))
		for i, p := range l.Params() {
			p.LRScale = scale
			if i < len(nn.LayerTensorNames) {
				p.Frozen = !on || cfg.Tune == TuneLoRA
			} else {
				p.Frozen = !on
			}
		}
	}
}

// trainableCount counts the scalars a tuned tail trains (at full
// unfreezing).
func trainableCount[T nn.Float](net *nn.TailNet[T], cfg TrainConfig) int {
	n := 0
	for _, p := range net.Params() {
		isBase := !strings.Contains(p.Name, ".lora_")
		if cfg.Tune == TuneLoRA && isBase {
			continue
		}
		n += len(p.W)
	}
	return n
}

// mergedTail returns the tail's weights with every LoRA update folded
// into its base weight (W' = W + s·B·A), in canonical names.
func mergedTail(net *nn.TailNet[float32], spec TailSpec) *TailWeights {
	w := &TailWeights{Spec: spec, Layers: make([]map[string][]float32, len(net.Layers))}
	for j, l := range net.Layers {
		m := map[string][]float32{}
		for i, p := range l.Params()[:len(nn.LayerTensorNames)] {
			m[nn.LayerTensorNames[i]] = append([]float32(nil), p.W...)
		}
		for _, p := range l.Projs() {
			if p.LoRA != nil {
				m[strings.TrimPrefix(p.W.Name, layerPrefix(j))] = p.Merge()
			}
		}
		w.Layers[j] = m
	}
	if net.Final != nil {
		w.Final = map[string][]float32{
			"final.LayerNorm.weight": append([]float32(nil), net.Final.Weight.W...),
			"final.LayerNorm.bias":   append([]float32(nil), net.Final.Bias.W...),
		}
	}
	return w
}
