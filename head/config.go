package head

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bertserve/bertserve/head/internal/nn"
	"github.com/bertserve/bertserve/head/metrics"
)

// Head kinds, optimizers and schedules.
const (
	HeadSoftmax = "softmax"
	HeadMLP     = "mlp"

	OptAuto  = "auto"
	OptAdamW = "adamw"
	OptLBFGS = "lbfgs"

	ScheduleLinear   = "linear"
	ScheduleCosine   = "cosine"
	ScheduleConstant = "constant"

	MonitorValLoss = "val_loss"
)

// TrainConfig configures Train. Start from Default and change what you
// need; Validate explains any bad value.
type TrainConfig struct {
	// Head is "softmax" (multinomial logistic regression) or "mlp".
	Head string `json:"head"`
	// Hidden gives the widths of the MLP's one or two hidden layers.
	Hidden []int `json:"hidden,omitempty"`
	// Activation of the MLP: "gelu" (tanh approximation) or "relu".
	Activation string `json:"activation,omitempty"`
	// Dropout after each MLP hidden layer, in [0, 1). Unused by softmax.
	Dropout float64 `json:"dropout"`
	// Optimizer is "adamw", "lbfgs" (the softmax head only) or
	// "auto": lbfgs where it applies, adamw otherwise.
	Optimizer string `json:"optimizer"`
	// Epochs for AdamW (L-BFGS uses MaxIter).
	Epochs int `json:"epochs"`
	// BatchSize is the AdamW minibatch size.
	BatchSize int `json:"batch_size"`
	// LR is AdamW's peak learning rate.
	LR float64 `json:"lr"`
	// WeightDecay: AdamW's decoupled decay, or the L2 strength λ of
	// L-BFGS's objective mean-loss + (λ/2)·‖W‖². Biases are not decayed.
	WeightDecay float64 `json:"weight_decay"`
	// Warmup is the fraction of AdamW steps with a linear warm-up, [0, 1).
	Warmup float64 `json:"warmup"`
	// Schedule after warm-up: "linear" or "cosine" decay to 0, or "constant".
	Schedule string `json:"schedule"`
	// Clip is the global gradient-norm limit (0: off).
	Clip float64 `json:"clip"`
	// LabelSmoothing ε in [0, 1).
	LabelSmoothing float64 `json:"label_smoothing"`
	// ClassWeight is "" (none), "balanced" (N / (K·n_c)), or explicit
	// weights "label=w,label=w" (unlisted labels weigh 1).
	ClassWeight string `json:"class_weight,omitempty"`
	// Patience is the number of epochs without improvement of Monitor
	// before stopping early (0: never stop early). The best epoch's
	// weights are kept whenever there is validation data.
	Patience int `json:"patience"`
	// MinDelta is the smallest change of Monitor that counts as improvement.
	MinDelta float64 `json:"min_delta"`
	// Monitor is "val_loss" or a metric: accuracy, macro_f1, weighted_f1,
	// auc, log_loss, ece.
	Monitor string `json:"monitor"`
	// MaxIter bounds L-BFGS iterations.
	MaxIter int `json:"max_iter"`
	// Tol stops L-BFGS when the largest gradient component of the mean
	// objective falls below it: scikit-learn's tol for lbfgs, which
	// bounds the same quantity, so the default 1e-4 stops where it does.
	Tol float64 `json:"tol"`
	// Seed fixes initialisation, shuffling and dropout.
	Seed uint64 `json:"seed"`

	// Training inside the encoder (tune.go): Tune is "none", "lora" or
	// "top"; the other fields are read only when it is not "none".
	Tune         string   `json:"tune"`
	Layers       int      `json:"layers"`
	LoRARank     int      `json:"lora_rank"`
	LoRAAlpha    float64  `json:"lora_alpha"`
	LoRADropout  float64  `json:"lora_dropout"`
	LoRATargets  []string `json:"lora_targets,omitempty"`
	LayerLRDecay float64  `json:"layer_lr_decay"`
	Unfreeze     string   `json:"unfreeze"`

	// The data of a training run (read by ReadLabelled, split and
	// embedded by Pipeline; data_config.go). TextColumn and LabelColumn
	// name the columns or keys (empty: detected); LabelNames renames raw
	// labels ("0" to "negative"). ValFraction and TestFraction are held
	// out, stratified, when no validation or test set is given. Normalize
	// trains on L2-normalised embeddings. Errors is how many of the most
	// confident mistakes (test set, else validation) go to errors.jsonl.
	TextColumn   string            `json:"text_col,omitempty"`
	LabelColumn  string            `json:"label_col,omitempty"`
	LabelNames   map[string]string `json:"label_names,omitempty"`
	ValFraction  float64           `json:"val_fraction"`
	TestFraction float64           `json:"test_fraction"`
	Normalize    bool              `json:"normalize"`
	Errors       int               `json:"errors"`
}

// Default returns the default configuration: a softmax head fitted by
// L-BFGS; with Head set to "mlp", one hidden layer of 256 with GELU and
// dropout 0.1 trained by AdamW for 20 epochs with early stopping.
func Default() TrainConfig {
	return TrainConfig{
		Head:        HeadSoftmax,
		Hidden:      []int{256},
		Activation:  string(nn.GELU),
		Dropout:     0.1,
		Optimizer:   OptAuto,
		Epochs:      20,
		BatchSize:   128,
		LR:          1e-3,
		WeightDecay: 1e-4,
		Warmup:      0.06,
		Schedule:    ScheduleLinear,
		Clip:        1.0,
		Patience:    3,
		MinDelta:    1e-4,
		Monitor:     MonitorValLoss,
		MaxIter:     1000,
		Tol:         1e-4,
		Seed:        42,

		Tune:         TuneNone,
		Layers:       2,
		LoRARank:     8,
		LoRAAlpha:    16,
		LoRADropout:  0.1,
		LoRATargets:  []string{TargetQuery, TargetValue},
		LayerLRDecay: 0.9,
		Unfreeze:     UnfreezeAll,

		ValFraction:  DefaultSplit.Val,
		TestFraction: DefaultSplit.Test,
		Errors:       20,
	}
}

// ResolvedOptimizer returns the optimizer "auto" stands for.
func (c TrainConfig) ResolvedOptimizer() string {
	if c.Optimizer != OptAuto && c.Optimizer != "" {
		return c.Optimizer
	}
	if c.Head == HeadSoftmax && !c.Tuned() {
		return OptLBFGS
	}
	return OptAdamW
}

// MaxEpochs bounds epochs (and max_iter at 100 times it), so a request
// cannot hold the trainer for days.
const MaxEpochs = 10000

// Validate reports every bad value with what is allowed; it is the one
// check of a training configuration, whether flags or a request filled it.
func (c TrainConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Head {
	case HeadSoftmax:
	case HeadMLP:
		if len(c.Hidden) < 1 || len(c.Hidden) > 2 {
			bad("hidden: the mlp head takes 1 or 2 hidden layers, got %d", len(c.Hidden))
		}
		for _, h := range c.Hidden {
			if h < 1 || h > 1<<16 {
				bad("hidden: layer width %d must be in [1, 65536]", h)
			}
		}
		if _, err := nn.ParseAct(c.Activation); err != nil {
			bad("activation: %v", err)
		}
	default:
		bad("head %q: want softmax or mlp", c.Head)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		bad("dropout %v must be in [0, 1)", c.Dropout)
	}
	switch c.Optimizer {
	case OptAuto, "", OptAdamW:
	case OptLBFGS:
		if c.Head != HeadSoftmax {
			bad("optimizer lbfgs fits the convex softmax head; use adamw for mlp heads")
		}
	default:
		bad("optimizer %q: want auto, adamw or lbfgs", c.Optimizer)
	}
	if c.Epochs < 1 || c.Epochs > MaxEpochs {
		bad("epochs %d must be in [1, %d]", c.Epochs, MaxEpochs)
	}
	if c.BatchSize < 1 || c.BatchSize > 1<<20 {
		bad("batch_size %d must be in [1, 1048576]", c.BatchSize)
	}
	if !(c.LR > 0) {
		bad("lr %v must be > 0", c.LR)
	}
	if !(c.WeightDecay >= 0) {
		bad("weight_decay %v must be >= 0", c.WeightDecay)
	}
	if !(c.Warmup >= 0 && c.Warmup < 1) {
		bad("warmup %v is a fraction of the steps and must be in [0, 1)", c.Warmup)
	}
	switch c.Schedule {
	case ScheduleLinear, ScheduleCosine, ScheduleConstant:
	default:
		bad("schedule %q: want linear, cosine or constant", c.Schedule)
	}
	if !(c.Clip >= 0) {
		bad("clip %v must be >= 0 (0 turns clipping off)", c.Clip)
	}
	if !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1) {
		bad("label_smoothing %v must be in [0, 1)", c.LabelSmoothing)
	}
	if _, _, err := parseClassWeight(c.ClassWeight); err != nil {
		bad("class_weight: %v", err)
	}
	if c.Patience < 0 {
		bad("patience %d must be >= 0 (0 turns early stopping off)", c.Patience)
	}
	if !(c.MinDelta >= 0) {
		bad("min_delta %v must be >= 0", c.MinDelta)
	}
	if c.Monitor != MonitorValLoss {
		if _, ok := (&metrics.Metrics{}).Value(c.Monitor); !ok && c.Monitor != "auc" {
			bad("monitor %q: want val_loss or one of %s", c.Monitor, strings.Join(metrics.Names, ", "))
		}
	}
	if c.MaxIter < 1 || c.MaxIter > MaxEpochs*100 {
		bad("max_iter %d must be in [1, %d]", c.MaxIter, MaxEpochs*100)
	}
	if !(c.Tol > 0) {
		bad("tol %v must be > 0", c.Tol)
	}
	c.validateTune(bad)
	c.validateData(bad)
	return errors.Join(errs...)
}

// parseClassWeight parses ClassWeight: balanced reports true; explicit
// weights come back as a map.
func parseClassWeight(s string) (balanced bool, explicit map[string]float64, err error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "none":
		return false, nil, nil
	case "balanced":
		return true, nil, nil
	}
	explicit = map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return false, nil, fmt.Errorf("%q: want balanced or label=weight pairs like pos=2,neg=1", s)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || !(w >= 0) || w > 1e6 {
			return false, nil, fmt.Errorf("weight %q for %q must be a number in [0, 1e6]", val, name)
		}
		explicit[name] = w
	}
	return false, explicit, nil
}

// classWeights resolves ClassWeight for the training labels.
func (c TrainConfig) classWeights(labels []string, counts []int) ([]float64, error) {
	balanced, explicit, err := parseClassWeight(c.ClassWeight)
	if err != nil {
		return nil, err
	}
	switch {
	case balanced:
		N, K := 0, 0
		for _, n := range counts {
			N += n
			if n > 0 {
				K++
			}
		}
		w := make([]float64, len(counts))
		for i, n := range counts {
			if n > 0 {
				w[i] = float64(N) / (float64(K) * float64(n))
			}
		}
		return w, nil
	case explicit != nil:
		w := make([]float64, len(labels))
		index := map[string]int{}
		for i, l := range labels {
			w[i] = 1
			index[l] = i
		}
		for name, v := range explicit {
			i, ok := index[name]
			if !ok {
				return nil, fmt.Errorf("class_weight names %q, which is not a training label (labels: %s)", name, quoteList(labels))
			}
			w[i] = v
		}
		positive := false
		for i, v := range w {
			positive = positive || (v > 0 && counts[i] > 0)
		}
		if !positive {
			return nil, errors.New("class_weight gives every training class weight 0")
		}
		return w, nil
	}
	return nil, nil
}
