package uselite

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/bertserve/bertserve/models"
	"github.com/bertserve/bertserve/models/internal/orttest"
	"github.com/bertserve/bertserve/models/onnx"
)

// checkSplit runs the full graph and bottom + tail on the same batch and
// returns the largest difference of the sentence embeddings.
func checkSplit(t *testing.T, m *TFJSModel, ids [][]int64) float64 {
	t.Helper()
	marshal := func(g *onnx.Graph, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		data, err := onnx.NewModel(g).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	full := marshal(BuildGraph(m))
	bottom := marshal(BuildBottom(m))
	tail, err := Tail(m)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := models.BuildTail(tail, models.TailGraphOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := tm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	T := 0
	for _, r := range ids {
		T = max(T, len(r))
	}
	B := len(ids)
	flat, mask := make([]int64, B*T), make([]int64, B*T)
	for r, row := range ids {
		for j, id := range row {
			flat[r*T+j], mask[r*T+j] = id, 1
		}
	}
	shape := []int64{int64(B), int64(T)}
	in := []orttest.Input{{Name: InputIDs, Shape: shape, Int64: flat}, {Name: AttentionMask, Shape: shape, Int64: mask}}
	want := orttest.Run(t, full, in, []string{OutputName}, nil)[OutputName].Data
	hk := orttest.Run(t, bottom, in, []string{BottomOutput}, nil)[BottomOutput]
	got := orttest.Run(t, tb, []orttest.Input{
		{Name: models.TailInputHidden, Shape: hk.Shape, Float32: hk.Data},
		{Name: models.TailInputMask, Shape: shape, Int64: mask},
	}, []string{models.TailOutput}, nil)[models.TailOutput].Data
	if len(got) != len(want) {
		t.Fatalf("tail gives %d values, the full graph %d", len(got), len(want))
	}
	d := 0.0
	for i := range got {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
	}
	return d
}

func TestBottomPlusTailEqualsFull(t *testing.T) {
	orttest.Require(t)
	ids := [][]int64{{3, 1, 4, 1, 5, 9, 2, 6}, {5, 3}, {8, 9, 7, 9, 3}}
	if d := checkSplit(t, fakeModel(7), ids); d > 1e-5 {
		t.Errorf("random USE-lite weights: bottom + tail differs from the full graph by %.3g", d)
	} else {
		t.Logf("random weights: largest difference %.3g", d)
	}
}

// TestRealBottomPlusTail uses the package Pull keeps in the cache, when it
// is there, on real token ids.
func TestRealBottomPlusTail(t *testing.T) {
	orttest.Require(t)
	dir := PackageDir()
	if err := CheckPackage(dir); err != nil {
		t.Skipf("the USE-lite npm package is not in the cache (run `bertserve pull default`): %v", err)
	}
	m, err := ReadTFJS(filepath.Join(dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	ids := [][]int64{{7, 112, 2870, 9, 11, 1212, 5}, {7, 6, 320}, {7, 3000, 12, 4, 99, 100, 101, 102, 103, 1500, 16, 2}}
	d := checkSplit(t, m, ids)
	if d > 1e-5 {
		t.Errorf("USE-lite: bottom + tail differs from the full graph by %.3g", d)
	}
	t.Logf("real USE-lite weights: largest difference %.3g", d)
}

// TestFullGraphUnchanged checks that the full graph Convert writes is byte
// for byte what it was (the digest heads record), when the converted
// default model is in the cache.
func TestFullGraphUnchanged(t *testing.T) {
	dir := PackageDir()
	if err := CheckPackage(dir); err != nil {
		t.Skipf("the USE-lite npm package is not in the cache: %v", err)
	}
	man, err := ReadManifest(DefaultDir())
	if err != nil || man.Source != "npm:"+PackageName+"@"+PackageVersion {
		t.Skipf("no converted USE-lite model at %s", DefaultDir())
	}
	tmp := filepath.Join(t.TempDir(), "m")
	if err := Convert(dir, tmp); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(tmp, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != man.SHA256 {
		t.Errorf("Convert now writes model.onnx with sha256 %s, the converted model records %s", got, man.SHA256)
	}
}
