package head

import (
	"fmt"
	"math"
	"strings"
)

// validateData checks the data fields of a TrainConfig (part of Validate).
func (c TrainConfig) validateData(bad func(string, ...any)) {
	if !(c.ValFraction >= 0 && c.ValFraction < 1) || !(c.TestFraction >= 0 && c.TestFraction < 1) ||
		!(c.ValFraction+c.TestFraction < 1) {
		bad("val_fraction %v and test_fraction %v must each be in [0, 1) and leave a training share (80/10/10 is val_fraction 0.1, test_fraction 0.1)",
			c.ValFraction, c.TestFraction)
	}
	if c.Errors < 0 {
		bad("errors %d must be >= 0 (0: no errors.jsonl)", c.Errors)
	}
	for raw, name := range c.LabelNames {
		if strings.TrimSpace(raw) == "" || strings.TrimSpace(name) == "" {
			bad("label_names: %q=%q: both the raw label and its name must be non-empty", raw, name)
		}
	}
}

// Split returns the held-out fractions as a Split.
func (c TrainConfig) Split() Split { return Split{Val: c.ValFraction, Test: c.TestFraction} }

// ParseSplit reads "80/10/10" (train/validation/test percentages) into
// fractions; the CLI's --split.
func ParseSplit(s string) (Split, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Split{}, fmt.Errorf("split %q: want train/val/test percentages such as 80/10/10", s)
	}
	var p [3]float64
	for i, x := range parts {
		var v float64
		if _, err := fmt.Sscanf(strings.TrimSpace(x), "%g", &v); err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return Split{}, fmt.Errorf("split %q: %q is not a percentage", s, x)
		}
		p[i] = v
	}
	if sum := p[0] + p[1] + p[2]; sum < 99.5 || sum > 100.5 || p[0] == 0 {
		return Split{}, fmt.Errorf("split %q: the percentages must sum to 100 with a training share", s)
	}
	return Split{Val: p[1] / 100, Test: p[2] / 100}, nil
}

// ParseLabelNames reads "0=negative,1=positive" (the CLI's --label-names,
// and the string form of label_names).
func ParseLabelNames(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("label names %q: want raw=name pairs separated by commas, e.g. 0=negative,1=positive", s)
		}
		m[k] = v
	}
	return m, nil
}
