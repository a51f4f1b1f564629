package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bertserve/bertserve/encoder/npy"
	"gonum.org/v1/gonum/mat"
)

// makeSynthetic writes train/test matrices that behave more like
// sentence embeddings than isotropic blobs do: features mixed through a
// random basis with a decaying spectrum (so they are correlated and
// badly conditioned), a class signal spread over a few directions, 15%
// label noise, and rows L2-normalised as many encoders emit them.
func makeSynthetic(dir string, rows, dim, classes int, seed uint64) error {
	if rows < 10 || dim < 2 || classes < 2 {
		return fmt.Errorf("want rows >= 10, dim >= 2, classes >= 2")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, 3))
	scale := make([]float64, dim)
	for j := range scale {
		scale[j] = math.Pow(float64(j+1), -0.8)
	}
	mix := make([][]float64, dim) // random orthogonal-ish basis, rows
	for i := range mix {
		mix[i] = make([]float64, dim)
		for j := range mix[i] {
			mix[i][j] = r.NormFloat64() / math.Sqrt(float64(dim))
		}
	}
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := 0; j < 8 && j < dim; j++ { // signal in the leading directions
			centres[c][j] = 0.9 * r.NormFloat64() * scale[j]
		}
	}
	mixM := mat.NewDense(dim, dim, nil)
	for i, row := range mix {
		mixM.SetRow(i, row)
	}
	write := func(name string, n int) error {
		z := mat.NewDense(n, dim, nil)
		labels := make([]string, n)
		for i := 0; i < n; i++ {
			c := r.IntN(classes)
			for j := 0; j < dim; j++ {
				z.Set(i, j, centres[c][j]+scale[j]*r.NormFloat64())
			}
			if r.Float64() < 0.15 {
				c = r.IntN(classes)
			}
			labels[i] = "class" + strconv.Itoa(c)
		}
		var mixed mat.Dense
		mixed.Mul(z, mixM)
		x := make([][]float32, n)
		for i := range x {
			src := mixed.RawRowView(i)
			var norm float64
			for _, v := range src {
				norm += v * v
			}
			row := make([]float32, dim)
			for k, v := range src {
				row[k] = float32(v / math.Sqrt(norm))
			}
			x[i] = row
		}
		f, err := os.Create(filepath.Join(dir, name+".npy"))
		if err != nil {
			return err
		}
		if err := npy.Write(f, x); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".labels"), []byte(strings.Join(labels, "\n")+"\n"), 0o644)
	}
	if err := write("train", rows); err != nil {
		return err
	}
	return write("test", max(rows/10, 10))
}
