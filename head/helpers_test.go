package head

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// blobs makes n rows of dim-wide Gaussian clusters, one per class, with
// centres sep apart on average; labels are "c0", "c1", ...
func blobs(n, dim, classes int, sep float64, seed uint64) *Dataset {
	r := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = r.NormFloat64() * sep / math.Sqrt(float64(dim))
		}
	}
	back := make([]float32, n*dim)
	d := &Dataset{X: make([][]float32, n), Y: make([]int, n), Labels: make([]string, classes)}
	for c := range d.Labels {
		d.Labels[c] = "c" + strconv.Itoa(c)
	}
	for i := 0; i < n; i++ {
		c := i % classes
		row := back[i*dim : (i+1)*dim]
		for j := range row {
			row[j] = float32(centres[c][j] + r.NormFloat64()/math.Sqrt(float64(dim)))
		}
		d.X[i], d.Y[i] = row, c
	}
	return d
}

// splitHalf returns the even rows and the odd rows.
func splitHalf(d *Dataset) (*Dataset, *Dataset) {
	var a, b []int
	for i := range d.X {
		if i%4 == 3 {
			b = append(b, i)
		} else {
			a = append(a, i)
		}
	}
	return d.Subset(a), d.Subset(b)
}

func posInf() float64 { return math.Inf(1) }
