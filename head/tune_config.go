package head

import "strings"

// Tuned reports whether the config trains inside the encoder.
func (c TrainConfig) Tuned() bool { return c.Tune != "" && c.Tune != TuneNone }

// MaxLoRARank bounds lora_rank.
const MaxLoRARank = 1024

// validateTune checks the fields of training inside the encoder (part
// of Validate). The number of layers is checked against the encoder
// when training starts.
func (c TrainConfig) validateTune(bad func(string, ...any)) {
	switch c.Tune {
	case "", TuneNone:
		return
	case TuneLoRA, TuneTop:
	default:
		bad("tune %q: want none, lora or top", c.Tune)
		return
	}
	if c.Layers < 1 {
		bad("layers %d: tune %s trains the top N >= 1 encoder layers", c.Layers, c.Tune)
	}
	if c.Optimizer == OptLBFGS {
		bad("optimizer lbfgs fits the plain softmax head only; tune %s trains with adamw", c.Tune)
	}
	if !(c.LayerLRDecay > 0 && c.LayerLRDecay <= 1) {
		bad("layer_lr_decay %v must be in (0, 1] (1: every layer at the head's rate)", c.LayerLRDecay)
	}
	switch c.Unfreeze {
	case UnfreezeAll, UnfreezeGradual:
	default:
		bad("unfreeze %q: want all or gradual", c.Unfreeze)
	}
	if c.Tune != TuneLoRA {
		return
	}
	if c.LoRARank < 1 || c.LoRARank > MaxLoRARank {
		bad("lora_rank %d must be in [1, %d]", c.LoRARank, MaxLoRARank)
	}
	if !(c.LoRAAlpha > 0) {
		bad("lora_alpha %v must be > 0 (the update is scaled by lora_alpha/lora_rank)", c.LoRAAlpha)
	}
	if !(c.LoRADropout >= 0 && c.LoRADropout < 1) {
		bad("lora_dropout %v must be in [0, 1)", c.LoRADropout)
	}
	if len(c.LoRATargets) == 0 {
		bad("lora_targets is empty: name at least one of %s", strings.Join(LoRATargetNames, ", "))
	} else if _, err := CanonicalTargets(c.LoRATargets); err != nil {
		bad("lora_targets: %v", err)
	}
}
