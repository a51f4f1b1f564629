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
	write := func(name string, n int) error {
		x := make([][]float32, n)
		labels := make([]string, n)
		z := make([]float64, dim)
		for i := range x {
			c := r.IntN(classes)
			for j := range z {
				z[j] = centres[c][j] + scale[j]*r.NormFloat64()
			}
			row := make([]float32, dim)
			var norm float64
			for k := range row {
				var s float64
				for j, v := range z {
					s += v * mix[j][k]
				}
				row[k] = float32(s)
				norm += s * s
			}
			for k := range row {
				row[k] /= float32(math.Sqrt(norm))
			}
			if r.Float64() < 0.15 {
				c = r.IntN(classes)
			}
			x[i], labels[i] = row, "class"+strconv.Itoa(c)
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
