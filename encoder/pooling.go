package encoder

import (
	"fmt"
	"math"
	"slices"
)

// Pooling names accepted by Options.Pooling.
var PoolingNames = []string{"auto", "cls", "mean", "max", "pooler", "model"}

// poolFunc turns row r of a batch output into one embedding. out holds
// [B, L, D] for token-level outputs or [B, D] for pooled ones; n is the
// number of real (unpadded) tokens of row r.
type poolFunc func(out []float32, L, D, r, n int) []float32

var poolers = map[string]poolFunc{
	"cls":    poolCLS,
	"mean":   poolMean,
	"max":    poolMax,
	"pooler": poolRow,
	"model":  poolRow,
}

// outputFor names the graph output each pooling reads.
var outputFor = map[string]string{
	"cls":    "last_hidden_state",
	"mean":   "last_hidden_state",
	"max":    "last_hidden_state",
	"pooler": "pooler_output",
	"model":  "sentence_embedding",
}

// resolvePooling picks the pooling and the output it needs. auto takes the
// model's own sentence-level output (sentence_embedding), else what the
// manifest or the sentence-transformers pooling config says, else the
// pooler_output, else the [CLS] token: the sentence-transformers config
// wins over BERT's pooler because it is how that model was trained to be
// used.
func resolvePooling(req string, outputs []string, meta dirMeta) (string, string, error) {
	if !slices.Contains(PoolingNames, req) {
		return "", "", fmt.Errorf("unknown pooling %q: want one of %v", req, PoolingNames)
	}
	has := func(o string) bool { return slices.Contains(outputs, o) }
	p := req
	if p == "auto" {
		switch {
		case has("sentence_embedding"):
			p = "model"
		case meta.Pooling != "" && meta.Pooling != "auto" && has(outputFor[meta.Pooling]):
			p = meta.Pooling
		case meta.STPooling != "" && has("last_hidden_state"):
			p = meta.STPooling
		case has("pooler_output"):
			p = "pooler"
		default:
			p = "cls"
		}
	}
	out, ok := outputFor[p]
	if !ok {
		return "", "", fmt.Errorf("unknown pooling %q: want one of %v", p, PoolingNames)
	}
	if !has(out) {
		return "", "", fmt.Errorf("pooling %q needs the output %q, the model has %v; try --pooling auto", p, out, outputs)
	}
	return p, out, nil
}

func poolCLS(out []float32, L, D, r, _ int) []float32 {
	return slices.Clone(out[r*L*D : r*L*D+D])
}

func poolMean(out []float32, L, D, r, n int) []float32 {
	v := make([]float32, D)
	if n == 0 {
		return v
	}
	acc := make([]float64, D)
	base := r * L * D
	for t := 0; t < n; t++ {
		row := out[base+t*D : base+(t+1)*D]
		for j, x := range row {
			acc[j] += float64(x)
		}
	}
	for j := range v {
		v[j] = float32(acc[j] / float64(n))
	}
	return v
}

// poolMax takes the element-wise maximum over the real tokens, as
// sentence-transformers' max pooling does.
func poolMax(out []float32, L, D, r, n int) []float32 {
	v := make([]float32, D)
	if n == 0 {
		return v
	}
	base := r * L * D
	copy(v, out[base:base+D])
	for t := 1; t < n; t++ {
		for j, x := range out[base+t*D : base+(t+1)*D] {
			if x > v[j] {
				v[j] = x
			}
		}
	}
	return v
}

func poolRow(out []float32, _, D, r, _ int) []float32 {
	return slices.Clone(out[r*D : (r+1)*D])
}

// Normalize scales v to unit L2 norm in place; a zero vector stays zero.
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}
