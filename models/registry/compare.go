package registry

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/bertserve/bertserve/encoder"
	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/onnx"
)

// Comparison is how closely a rebuilt graph reproduces the export it was
// recovered from, on the same token ids.
type Comparison struct {
	Rows, Tokens int
	// MaxAbsDiff is the largest |a-b| of last_hidden_state over real
	// (unmasked) tokens.
	MaxAbsDiff float64
	// MinCosine is the smallest cosine between the two graphs' CLS and
	// mean-pooled vectors over all rows.
	MinCosine float64
}

func (c Comparison) String() string {
	return fmt.Sprintf("%d sequences (%d tokens): max |Δ| %.2g on last_hidden_state, min cosine %.8f", c.Rows, c.Tokens, c.MaxAbsDiff, c.MinCosine)
}

// CompareSeqs are token sequences for Compare: seeded random ids of
// several lengths up to maxLen (at most 128), padded into one batch,
// starting with [CLS]-like id 101 where the vocabulary has it.
func CompareSeqs(vocab, maxLen int) [][]int64 {
	r := rand.New(rand.NewPCG(1, 2))
	var seqs [][]int64
	for _, n := range []int{1, 7, 33, 128} {
		n = min(n, maxLen)
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(r.IntN(vocab))
		}
		if vocab > 101 {
			s[0] = 101
		}
		seqs = append(seqs, s)
	}
	return seqs
}

// Compare runs the original ONNX export and the rebuilt model.onnx in ONNX
// Runtime (loaded from libPath, "" for the usual search) on seqs and
// measures how far apart their last_hidden_state is.
func Compare(original, rebuilt []byte, seqs [][]int64, libPath string) (Comparison, error) {
	if err := encoder.InitRuntime(libPath); err != nil {
		return Comparison{}, err
	}
	a, err := runHidden(original, seqs)
	if err != nil {
		return Comparison{}, fmt.Errorf("running the original export: %w", err)
	}
	b, err := runHidden(rebuilt, seqs)
	if err != nil {
		return Comparison{}, fmt.Errorf("running the rebuilt graph: %w", err)
	}
	if len(a.Data) != len(b.Data) {
		return Comparison{}, fmt.Errorf("last_hidden_state shapes differ: %v vs %v", a.Shape, b.Shape)
	}
	T, H := int(a.Shape[1]), int(a.Shape[2])
	c := Comparison{Rows: len(seqs), MinCosine: 1}
	for r, s := range seqs {
		cls := [2][]float64{make([]float64, H), make([]float64, H)}
		mean := [2][]float64{make([]float64, H), make([]float64, H)}
		for t := range s {
			c.Tokens++
			for j := 0; j < H; j++ {
				x, y := float64(a.Data[(r*T+t)*H+j]), float64(b.Data[(r*T+t)*H+j])
				c.MaxAbsDiff = math.Max(c.MaxAbsDiff, math.Abs(x-y))
				mean[0][j] += x
				mean[1][j] += y
				if t == 0 {
					cls[0][j], cls[1][j] = x, y
				}
			}
		}
		c.MinCosine = math.Min(c.MinCosine, math.Min(cosine(cls[0], cls[1]), cosine(mean[0], mean[1])))
	}
	return c, nil
}

func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		if aa == bb {
			return 1
		}
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// runHidden runs model on seqs padded into one batch (attention mask 0 on
// padding, token types 0) and returns last_hidden_state.
func runHidden(model []byte, seqs [][]int64) (orttest.Output, error) {
	info, err := onnx.Inspect(model)
	if err != nil {
		return orttest.Output{}, err
	}
	T := 0
	for _, s := range seqs {
		T = max(T, len(s))
	}
	B := len(seqs)
	ids := make([]int64, B*T)
	mask := make([]int64, B*T)
	for r, s := range seqs {
		for t, id := range s {
			ids[r*T+t] = id
			mask[r*T+t] = 1
		}
	}
	var names []string
	var inputs []orttest.Input
	shape := []int64{int64(B), int64(T)}
	for _, in := range info.Inputs {
		var data []int64
		switch in.Name {
		case models.InputIDs:
			data = ids
		case models.InputMask:
			data = mask
		case models.InputTypeIDs:
			data = make([]int64, B*T)
		default:
			continue
		}
		names = append(names, in.Name)
		inputs = append(inputs, orttest.Input{Name: in.Name, Shape: shape, Int64: data})
	}
	sess, err := orttest.NewSession(model, names, []string{models.OutputHidden}, &orttest.Options{Threads: 2})
	if err != nil {
		return orttest.Output{}, err
	}
	defer sess.Close()
	out, err := sess.Run(inputs)
	if err != nil {
		return orttest.Output{}, err
	}
	return out[models.OutputHidden], nil
}
