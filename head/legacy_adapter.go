package head

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/bertserve/bertserve/models/safetensors"
)

// Heads written before the embedding-level adapter was removed carry
// "adapter": {"kind": "lora", "rank": r, "alpha": α} in head.json and the
// tensors adapter.lora_A [r, dim] and adapter.lora_B [dim, r]: the head
// saw h' = h + (α/r)·B·A·h. Its first layer is linear (out, or hidden.0
// of an MLP), so W·h' + b = (W + (α/r)·(W·B)·A)·h + b: Load folds the
// adapter into that weight (summed in float64, rounded once) and the head
// predicts as before without it (TestLegacyAdapterFolds).
type legacyAdapter struct {
	Kind  string  `json:"kind"`
	Rank  int     `json:"rank"`
	Alpha float64 `json:"alpha"`
}

// readLegacyAdapter returns the adapter head.json records, nil for none.
func readLegacyAdapter(metaJSON []byte, dim int) (*legacyAdapter, error) {
	var doc struct {
		Adapter *legacyAdapter `json:"adapter"`
	}
	if err := json.Unmarshal(metaJSON, &doc); err != nil {
		return nil, err
	}
	a := doc.Adapter
	if a == nil || a.Kind == "" || a.Kind == "none" {
		return nil, nil
	}
	if a.Kind != "lora" {
		return nil, fmt.Errorf("adapter kind %q is unknown (heads had only lora adapters); retrain the head", a.Kind)
	}
	if a.Rank < 1 || a.Rank > dim {
		return nil, fmt.Errorf("lora adapter rank %d must be in [1, dim %d]", a.Rank, dim)
	}
	if !(a.Alpha > 0) || math.IsInf(a.Alpha, 0) {
		return nil, fmt.Errorf("lora adapter alpha %v must be a positive number", a.Alpha)
	}
	return a, nil
}

func (a *legacyAdapter) addShapes(shapes map[string][]int, dim int) {
	if a == nil {
		return
	}
	shapes["adapter.lora_A"] = []int{a.Rank, dim}
	shapes["adapter.lora_B"] = []int{dim, a.Rank}
}

func (a *legacyAdapter) params(dim int) int {
	if a == nil {
		return 0
	}
	return 2 * a.Rank * dim
}

// fold sets the first layer's weight W [out, dim] to W + (α/r)·(W·B)·A.
func (a *legacyAdapter) fold(net *network[float32], tensors map[string]safetensors.Tensor, dim int) {
	w := net.seq.Params()[0] // hidden.0.weight or out.weight
	A, B := tensors["adapter.lora_A"].Data, tensors["adapter.lora_B"].Data
	r, s := a.Rank, a.Alpha/float64(a.Rank)
	out := len(w.W) / dim
	wb := make([]float64, r) // one row of W·B
	for i := 0; i < out; i++ {
		row := w.W[i*dim : (i+1)*dim]
		clear(wb)
		for j, v := range row {
			for q := 0; q < r; q++ {
				wb[q] += float64(v) * float64(B[j*r+q])
			}
		}
		for j := range row {
			d := 0.0
			for q := 0; q < r; q++ {
				d += wb[q] * float64(A[q*dim+j])
			}
			row[j] = float32(float64(row[j]) + s*d)
		}
	}
	w.Touch()
}
