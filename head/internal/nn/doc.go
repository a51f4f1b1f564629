// Package nn is the small neural-network core under head: row-major
// matrices, matrix products (its own SIMD kernels, gonum's BLAS as the
// portable fallback), layers with hand-written
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
// Speed. Training inside the encoder spends its time in float32
// products, so they run on a kernel of this package's own, measured
// against the alternatives at the shapes of the layers (BENCHMARKS.md,
// scripts/bench_kernels.sh; AMD EPYC Zen 4, 2 cores, machine shared):
//
//   - On CPUs with AVX-512 (checked at run time, with the OS's ZMM
//     support), sgemm_blocked.go drives a 12×32 register-tile kernel
//     (sgemm_avx512_amd64.s) in the GotoBLAS/BLIS scheme: op(B) packed
//     once per product into 32-column panels shared by the cores (16×16
//     register transposes when B is transposed, or read in place when
//     its rows are contiguous), op(A) read in place or packed per 12-row
//     tile, rows split across cores, the bias fused into the first k
//     block, masked edges. At MiniLM's and bge-small-zh's shapes it runs
//     at 81–98 GFLOP/s on one core, level with OpenBLAS 0.3.21's
//     cblas_sgemm (67–96; the machine's OpenBLAS peak, 2048³ on both
//     cores, is 190 GFLOP/s); the AVX2 6×16 kernel of sgemm_amd64.s
//     reaches 57–85, gonum's pure-Go Sgemm about 9 and GoMLX's pure-Go
//     backend 4–5 per CPU second. A whole step runs at 119–141 GFLOP/s
//     of products on the two cores, 63–74% of that peak, 1.5–2.4× faster
//     than before this kernel. OpenBLAS through cgo (gonum.org/v1/netlib's
//     call) gave no faster step (build tag openblas, measurement only),
//     so bertserve stays pure Go with no C library to install.
//   - A frozen weight (the base of a LoRA layer) is packed once and kept
//     (packCache, keyed by the Param's version, which AdamW, Restore and
//     Touch bump); a frozen projection without LoRA below the lowest
//     trainable layer gets no input gradient at all, and the step's
//     gradient clearing and clipping skip frozen tensors.
//   - Attention runs its per-(sequence, head) products on the same kernel
//     straight from the heads' columns (strides, no gathers), with an
//     AVX-512 softmax that writes drop(P) in the same pass, its backward,
//     and dropout masks made sixteen at a time.
//   - The exact GELU (erf), its derivative and exp have 8-wide AVX2
//     forms; LayerNorm sums in four float64 partial sums; reductions over
//     rows (bias, LayerNorm γ/β gradients) split the columns across cores.
//   - With AVX2 only, products use the 6×16 kernel; elsewhere, and with
//     the purego build tag, gonum's BLAS and plain Go do the same work.
//     float64 (the gradient checks) always goes through gonum.
//
// Determinism. Results are bit-identical for the same inputs on the same
// machine whatever the number of cores: every output element of a
// product is summed by one kernel call per 256-long k block, in order,
// whichever core computes its rows; reductions over rows split columns;
// a softmax row is summed in a fixed lane order; dropout masks come from
// a jumpable generator so a split stream equals the sequential one; and
// the vector AdamW, GELU, erf and exp use the Go loops' operations in the
// same order (tested bit for bit), so where a parallel loop hands over to
// the Go tail does not show (TestTrainTailSameBitsAnyCores trains on 1, 2
// and 3 cores). Machines with and without AVX-512 or FMA differ in the
// last bits.
package nn
