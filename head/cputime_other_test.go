//go:build !unix

package head

func processCPU() float64 { return 0 }
