// Command gemm_gomlx times GoMLX's pure-Go backend (simplego) on the
// float32 products of an encoder-layer training step, the shapes of
// head/internal/nn's BenchmarkGemmCandidates, so the two tables compare
// (BENCHMARKS.md, issue 10). It is its own module so that GoMLX never
// enters bertserve's dependencies:
//
//	cd scripts/gemm_gomlx && flock /work/bench.lock go run . [-min 1s]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

type shape struct {
	what    string
	m, n, k int
	tA, tB  bool
}

// the same list as head/internal/nn/gemm_bench_test.go
var shapes = []shape{
	{"minilm x·Wᵀ qkvo", 1280, 384, 384, false, true},
	{"minilm x·Wᵀ inter", 1280, 1536, 384, false, true},
	{"minilm x·Wᵀ out", 1280, 384, 1536, false, true},
	{"minilm dy·W qkvo", 1280, 384, 384, false, false},
	{"minilm dy·W inter", 1280, 384, 1536, false, false},
	{"minilm dyᵀ·x qkvo", 384, 384, 1280, true, false},
	{"minilm dyᵀ·x inter", 1536, 384, 1280, true, false},
	{"minilm attn Q·Kᵀ", 40, 40, 32, false, true},
	{"minilm attn P·V", 40, 32, 40, false, false},
	{"bgezh x·Wᵀ qkvo", 5600, 512, 512, false, true},
	{"bgezh x·Wᵀ inter", 5600, 2048, 512, false, true},
	{"bgezh x·Wᵀ out", 5600, 512, 2048, false, true},
	{"bgezh dyᵀ·x inter", 2048, 512, 5600, true, false},
	{"bgezh attn Q·Kᵀ", 175, 175, 64, false, true},
	{"square", 2048, 2048, 2048, false, false},
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

func fill(n int, seed int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((i*seed)%17)/17 - 0.5
	}
	return v
}

func main() {
	min := flag.Duration("min", time.Second, "least time per shape")
	flag.Parse()
	backend, err := simplego.New("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("GoMLX simplego backend, GOMAXPROCS %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("%-22s %-16s %10s %14s\n", "product", "m×n×k", "GFLOP/s", "GFLOP/cpu-s")
	for _, s := range shapes {
		// op(A) [m, k], op(B) [k, n] as DotGeneral contractions of the
		// stored layouts (A transposed: [k, m]; B transposed: [n, k]).
		aDims, aC := []int{s.m, s.k}, 1
		if s.tA {
			aDims, aC = []int{s.k, s.m}, 0
		}
		bDims, bC := []int{s.k, s.n}, 0
		if s.tB {
			bDims, bC = []int{s.n, s.k}, 1
		}
		a := tensors.FromFlatDataAndDimensions(fill(s.m*s.k, 3), aDims...)
		b := tensors.FromFlatDataAndDimensions(fill(s.k*s.n, 5), bDims...)
		exec := graph.MustNewExec(backend, func(x, y *graph.Node) *graph.Node {
			return graph.DotGeneral(x, []int{aC}, nil, y, []int{bC}, nil)
		})
		for i := 0; i < 2; i++ {
			exec.MustExec(a, b)[0].MustFinalizeAll()
		}
		runs := 0
		t0, c0 := time.Now(), cpuSeconds()
		for time.Since(t0) < *min || runs < 3 {
			exec.MustExec(a, b)[0].MustFinalizeAll()
			runs++
		}
		wall, cpu := time.Since(t0).Seconds(), cpuSeconds()-c0
		flops := 2 * float64(s.m*s.n*s.k) * float64(runs)
		fmt.Printf("%-22s %-16s %10.1f %14.1f\n", s.what, fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), flops/wall/1e9, flops/cpu/1e9)
	}
}
