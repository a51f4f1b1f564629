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
// Results are bit-identical for the same inputs: products are computed by
// gonum, which splits work so that each output element is summed in a
// fixed order, and every other reduction here is sequential.
package nn
