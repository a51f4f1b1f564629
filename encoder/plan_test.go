package encoder

import (
	"math"
	"testing"
)

func TestPlanBatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		lengths         []int
		budget, maxRows int
		wantBatches     int
	}{
		{"empty", nil, 100, 10, 0},
		{"one", []int{5}, 100, 10, 1},
		{"budget splits", []int{10, 10, 10, 10}, 20, 10, 2},
		{"max rows splits", []int{1, 1, 1, 1, 1}, 100, 2, 3},
		{"over-long row alone", []int{3, 500, 3}, 100, 10, 2},
		{"waste splits", []int{10, 10, 10, 20}, 1000, 10, 2},
		{"equal lengths share", []int{7, 7, 7, 7, 7, 7}, 1000, 10, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := PlanBatches(tc.lengths, tc.budget, tc.maxRows)
			if len(bs) != tc.wantBatches {
				t.Fatalf("got %d batches %+v, want %d", len(bs), bs, tc.wantBatches)
			}
			seen := map[int]bool{}
			for _, b := range bs {
				if len(b.Rows) > 1 && len(b.Rows)*b.Len > tc.budget {
					t.Errorf("batch %+v exceeds the budget %d", b, tc.budget)
				}
				real := 0
				for _, r := range b.Rows {
					real += tc.lengths[r]
				}
				if len(b.Rows) > 1 && float64(len(b.Rows)*b.Len) > (1+MaxPaddingWaste)*float64(real) {
					t.Errorf("batch %+v wastes more than %.0f%% on padding", b, 100*MaxPaddingWaste)
				}
				if len(b.Rows) > tc.maxRows {
					t.Errorf("batch %+v exceeds %d rows", b, tc.maxRows)
				}
				for _, r := range b.Rows {
					if tc.lengths[r] > b.Len {
						t.Errorf("row %d of length %d in a batch padded to %d", r, tc.lengths[r], b.Len)
					}
					if seen[r] {
						t.Errorf("row %d planned twice", r)
					}
					seen[r] = true
				}
			}
			if len(seen) != len(tc.lengths) {
				t.Errorf("planned %d rows of %d", len(seen), len(tc.lengths))
			}
		})
	}
}

func TestPoolMeanIgnoresPadding(t *testing.T) {
	t.Parallel()
	// Two rows of L=3, D=2; row 1 has 2 real tokens and a huge padded one.
	out := []float32{1, 1, 2, 2, 3, 3, 4, 6, 6, 8, 1e9, 1e9}
	got := poolMean(out, 3, 2, 1, 2)
	if got[0] != 5 || got[1] != 7 {
		t.Fatalf("mean of row 1 = %v, want [5 7]", got)
	}
	if m := poolMax(out, 3, 2, 1, 2); m[0] != 6 || m[1] != 8 {
		t.Fatalf("max of row 1 = %v, want [6 8]", m)
	}
	if c := poolCLS(out, 3, 2, 1, 2); c[0] != 4 || c[1] != 6 {
		t.Fatalf("cls of row 1 = %v", c)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	v := []float32{3, 4}
	Normalize(v)
	if math.Abs(float64(v[0])-0.6) > 1e-7 || math.Abs(float64(v[1])-0.8) > 1e-7 {
		t.Fatalf("got %v", v)
	}
	z := []float32{0, 0}
	Normalize(z)
	if z[0] != 0 || z[1] != 0 {
		t.Fatalf("zero vector changed: %v", z)
	}
}

func TestResolvePooling(t *testing.T) {
	t.Parallel()
	bert := []string{"last_hidden_state", "pooler_output"}
	tests := []struct {
		req     string
		outputs []string
		meta    dirMeta
		want    string
		wantErr bool
	}{
		{"auto", bert, dirMeta{}, "pooler", false},
		{"auto", bert, dirMeta{STPooling: "mean"}, "mean", false},
		{"auto", []string{"last_hidden_state"}, dirMeta{}, "cls", false},
		{"auto", []string{"sentence_embedding"}, dirMeta{STPooling: "mean"}, "model", false},
		{"mean", bert, dirMeta{}, "mean", false},
		{"pooler", []string{"last_hidden_state"}, dirMeta{}, "", true},
		{"max", bert, dirMeta{}, "max", false},
		{"median", bert, dirMeta{}, "", true},
		{"auto", bert, dirMeta{Pooling: "max"}, "max", false},
	}
	for _, tc := range tests {
		got, _, err := resolvePooling(tc.req, tc.outputs, tc.meta)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("resolvePooling(%q, %v, %+v) = %q, %v; want %q (err %v)", tc.req, tc.outputs, tc.meta, got, err, tc.want, tc.wantErr)
		}
	}
}
