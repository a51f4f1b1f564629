// Package openblas calls OpenBLAS's cblas_sgemm through cgo. It is
// built only with the openblas build tag (Debian: apt-get install
// libopenblas-dev) and serves nn's kernel benchmarks, which measure the
// Go kernels against it; nothing else imports it (a package with cgo
// cannot hold Go assembly, so it lives apart from nn).
package openblas
