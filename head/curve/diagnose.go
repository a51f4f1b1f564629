package curve

import (
	"fmt"
	"math"
)

// Verdict is the reading of a learning curve.
type Verdict string

// The verdicts.
const (
	UnderFitting Verdict = "under-fitting"
	GoodFit      Verdict = "good fit"
	OverFitting  Verdict = "over-fitting"
	Unstable     Verdict = "unstable"
	TooShort     Verdict = "too short to tell"
)

// Diagnosis is a plain-language reading of a learning curve.
type Diagnosis struct {
	Verdict Verdict `json:"verdict"`
	// FromEpoch is the first epoch of over-fitting (0 otherwise).
	FromEpoch int      `json:"from_epoch,omitempty"`
	Summary   string   `json:"summary"`
	Advice    []string `json:"advice,omitempty"`
}

// String returns the summary followed by the advice, one item a line.
func (d Diagnosis) String() string {
	s := d.Summary
	for _, a := range d.Advice {
		s += "\n  - " + a
	}
	return s
}

// Thresholds of the reading.
const (
	riseTol    = 0.02 // validation loss this far (relative) above its minimum counts as rising
	fallTol    = 0.01 // a relative drop over the last epochs larger than this is "still falling"
	highFactor = 0.75 // training loss above this fraction of ln(C) is "high"
)

// Diagnose reads the curve:
//
//   - over-fitting from epoch N: validation loss reached its minimum at
//     epoch N−1 and then rose by more than 2% while training loss kept
//     falling;
//   - under-fitting: training loss still above 75% of the loss of
//     guessing (ln C), or both losses still falling by more than 1% in
//     the last epochs;
//   - unstable: validation and training loss both rose after the minimum;
//   - a good fit otherwise: validation loss at its minimum and flat.
func Diagnose(h *History) Diagnosis {
	n := len(h.Points)
	if n < 2 {
		return Diagnosis{Verdict: TooShort, Summary: fmt.Sprintf("Only %d %s recorded; train for more %ss to read the curve.", n, h.step(), h.step()),
			Advice: []string{"raise --epochs"}}
	}
	step := h.step()
	t := make([]float64, n)
	v := make([]float64, n)
	for i, p := range h.Points {
		t[i], v[i] = p.TrainLoss, p.ValLoss
	}
	chance := math.Log(float64(max(h.Classes, 2)))
	last := n - 1
	k := min(2, last)
	falling := func(x []float64) bool { // each of the last k steps dropped by more than fallTol
		for i := last - k + 1; i <= last; i++ {
			if x[i-1]-x[i] <= fallTol*x[i-1] {
				return false
			}
		}
		return true
	}
	underAdvice := []string{
		"train longer (--epochs) or with a larger learning rate (--lr)",
		"give the model more capacity: --head mlp, a wider --hidden, or train the encoder's top layers (--tune lora or --tune top)",
		"lower --weight-decay, --dropout and --label-smoothing",
	}
	if !h.Validation {
		switch {
		case t[last] > highFactor*chance:
			return Diagnosis{Verdict: UnderFitting, Summary: fmt.Sprintf(
				"Under-fitting: training loss is %.4f after %d %ss, close to %.4f for guessing among %d classes.", t[last], n, step, chance, h.Classes),
				Advice: append(underAdvice, "check that the labels match the texts")}
		case falling(t):
			return Diagnosis{Verdict: UnderFitting, Summary: fmt.Sprintf(
				"Under-fitting: training loss was still falling at the last %s (%.4f to %.4f over the last %d).", step, t[last-k], t[last], k),
				Advice: underAdvice[:1]}
		}
		return Diagnosis{Verdict: GoodFit, Summary: fmt.Sprintf(
			"Training loss settled at %.4f. Without validation data over-fitting cannot be judged.", t[last]),
			Advice: []string{"pass --val FILE, or let train split off a validation set"}}
	}
	best := 0
	for i := range v {
		if v[i] < v[best] {
			best = i
		}
	}
	rose := best < last && v[last] > v[best]*(1+riseTol)+1e-6
	if rose && t[last] < t[best] {
		from := h.Points[best+1].Epoch
		d := Diagnosis{Verdict: OverFitting, FromEpoch: from, Summary: fmt.Sprintf(
			"Over-fitting from %s %d: validation loss was lowest at %s %d (%.4f) and rose to %.4f by %s %d, while training loss kept falling (%.4f to %.4f).",
			step, from, step, h.Points[best].Epoch, v[best], v[last], step, h.Points[last].Epoch, t[best], t[last])}
		if h.Best == h.Points[best].Epoch {
			d.Advice = append(d.Advice, fmt.Sprintf("the weights of %s %d, the best on validation, were kept", step, h.Best))
		}
		d.Advice = append(d.Advice,
			"regularise more: raise --weight-decay, --dropout or --label-smoothing",
			"use a smaller head (--hidden, or --head softmax) or fewer --epochs",
			"more training data helps most")
		return d
	}
	if rose {
		return Diagnosis{Verdict: Unstable, Summary: fmt.Sprintf(
			"Unstable: after %s %d both losses rose (validation %.4f to %.4f, training %.4f to %.4f).",
			step, h.Points[best].Epoch, v[best], v[last], t[best], t[last]),
			Advice: []string{"lower --lr, raise --warmup, or keep --clip on"}}
	}
	if t[last] > highFactor*chance && v[last] > highFactor*chance {
		return Diagnosis{Verdict: UnderFitting, Summary: fmt.Sprintf(
			"Under-fitting: both losses are high (training %.4f, validation %.4f) against %.4f for guessing among %d classes.",
			t[last], v[last], chance, h.Classes),
			Advice: append(underAdvice, "check that the labels match the texts")}
	}
	if best == last && falling(v) && falling(t) {
		return Diagnosis{Verdict: UnderFitting, Summary: fmt.Sprintf(
			"Under-fitting: both losses were still falling at the last %s (validation %.4f to %.4f over the last %d).",
			step, v[last-k], v[last], k),
			Advice: underAdvice[:1]}
	}
	d := Diagnosis{Verdict: GoodFit, Summary: fmt.Sprintf(
		"Good fit: validation loss reached its minimum %.4f at %s %d and stayed within %.0f%% of it.",
		v[best], step, h.Points[best].Epoch, riseTol*100)}
	if v[best] > 1.5*t[best] {
		d.Advice = append(d.Advice, fmt.Sprintf("validation loss is well above training loss (%.4f against %.4f): more data or more regularisation may narrow the gap", v[best], t[best]))
	}
	return d
}
