// Package nn is the small neural-network core under head: row-major
// matrices, matrix products through gonum's BLAS, layers with hand-written
// backward passes, a softmax cross-entropy loss, AdamW and gradient
// clipping.
//
// Everything is generic over float32 and float64. Training runs in
// float32 (half the memory traffic, twice the SIMD width); the tests run
// the very same code in float64 to check every backward pass against
// central finite differences to 1e-6.
//
// A Module maps a batch (rows are examples) to a batch. Forward caches
// what Backward needs, so one Module value serves one training loop at a
// time; Infer changes nothing and is safe for concurrent use. Backward
// adds parameter gradients into Param.G (callers zero them per step) and
// returns the gradient with respect to the input when asked.
//
// Speed. On amd64 with AVX2 and FMA, float32 products run on a packed
// 6×16 register-tile kernel (sgemm_amd64.s) split across cores by column
// panels, and AdamW, GELU, dot and axpy have 8-wide loops; elsewhere, and
// with the purego build tag, gonum's BLAS and plain Go do the same work.
// float64 always goes through gonum.
//
// Determinism. Results are bit-identical for the same inputs on the same
// machine whatever the number of cores: every output element of a
// product is summed by one goroutine in a fixed order, parallel loops
// only split element-wise work, dropout masks come from a jumpable
// generator so a split stream equals the sequential one, and the vector
// AdamW and GELU use the Go loops' operations in the same order (tested
// bit for bit). Machines with and without FMA differ in the last bits.
package nn
