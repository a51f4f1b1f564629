#!/usr/bin/env bash
# The training-step and kernel benchmarks of BENCHMARKS.md ("Training inside the encoder: the
# layer kernels"), run side by side in one go:
#   1. one training step (BenchmarkTuneStep: lora N=1/2/all, top N=1/2, at MiniLM's and
#      bge-small-zh's shapes) for the baseline commit, HEAD, and HEAD with every float32 product
#      on OpenBLAS (-tags openblas), the three alternated ROUNDS times;
#   2. the products of a step on every kernel candidate (BenchmarkGemmCandidates: gonum, the
#      AVX2 6×16 kernel, the AVX-512 12×32 kernel, OpenBLAS) with 2 cores and with 1, and
#      GoMLX's pure-Go backend on the same shapes (scripts/gemm_gomlx, its own module);
#   3. attention alone (BenchmarkAttention).
# Then it prints the medians and the ratios baseline/HEAD. The machine may be shared: it takes
# $BENCH_LOCK (default /work/bench.lock, when it exists) for the whole run and prints the load.
#
# usage: scripts/bench_kernels.sh [BASE_COMMIT]   (default 28cb034, before the kernels work)
# needs: go, git, python3, libopenblas-dev (apt-get install libopenblas-dev) for the OpenBLAS rows.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-28cb034}
rounds=${ROUNDS:-3}
out=${OUT:-$(mktemp -d /tmp/bench_kernels.XXXXXX)}
lock=${BENCH_LOCK:-/work/bench.lock}
mkdir -p "$out"
echo "output in $out; baseline $base, HEAD $(git rev-parse --short HEAD)"

if [ ! -d "$out/base" ]; then git worktree add --detach "$out/base" "$base" >/dev/null; fi
# The baseline gets today's step benchmark (same shapes, same FLOP count, CPU time).
cp head/tune_bench_test.go head/cputime_unix_test.go head/cputime_other_test.go "$out/base/head/"
(cd "$out/base" && go test -c -o "$out/base.test" ./head/)
go test -c -o "$out/new.test" ./head/
go test -c -tags openblas -o "$out/newob.test" ./head/
go test -c -tags openblas -o "$out/nn.test" ./head/internal/nn/
(cd scripts/gemm_gomlx && go build -o "$out/gomlx" .)

run() {
	uptime
	for r in $(seq "$rounds"); do
		for b in base new newob; do
			"$out/$b.test" -test.run XXX -test.bench 'TuneStep/minilm/' -test.benchtime 5x | sed "s/^/$b /" | grep Bench
			"$out/$b.test" -test.run XXX -test.bench 'TuneStep/bgezh/' -test.benchtime 2x | sed "s/^/$b /" | grep Bench
		done
		uptime
	done
	OPENBLAS_NUM_THREADS=2 "$out/nn.test" -test.run XXX -test.bench 'GemmCandidates' -test.benchtime 0.5s -test.count 2 | sed 's/^/2cores /' | grep Bench
	OPENBLAS_NUM_THREADS=1 GOMAXPROCS=1 "$out/nn.test" -test.run XXX -test.bench 'GemmCandidates' -test.benchtime 0.3s | sed 's/^/1core /' | grep Bench
	"$out/nn.test" -test.run XXX -test.bench 'Attention' -test.benchtime 20x | grep Bench
	"$out/gomlx" -min 500ms
	uptime
}
if [ -e "$lock" ]; then
	export -f run
	export out rounds
	flock "$lock" bash -c run | tee "$out/raw.txt"
else
	run | tee "$out/raw.txt"
fi

python3 - "$out/raw.txt" <<'EOF'
import re, statistics, sys
steps, gemm = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3 or not f[1].startswith('Benchmark'):
        continue
    tag, name = f[0], re.sub(r'-\d+$', '', f[1])
    vals = {f[i + 1]: float(f[i]) for i in range(3, len(f) - 1) if re.match(r'^[0-9.]+$', f[i])}
    if 'TuneStep' in name:
        steps.setdefault(name.split('TuneStep/')[1], {}).setdefault(tag, []).append(vals)
    elif 'GemmCandidates' in name:
        gemm.setdefault((tag, name.split('GemmCandidates/')[1]), []).append(vals)
med = lambda xs: statistics.median(xs)
print('\nstep (median of rounds)              ms/step base  new  openblas   ratio   cpu-ms base  new   ratio   GFLOP/s new (wall, per cpu-s)')
for k, v in steps.items():
    m = {t: med([x['ms/step'] for x in v[t]]) for t in v}
    c = {t: med([x['cpu-ms/step'] for x in v[t]]) for t in v}
    g = med([x['GFLOPS'] for x in v['new']]); gc = med([x['GFLOPS/cpu-s'] for x in v['new']])
    print(f"{k:34s} {m['base']:10.0f} {m['new']:6.0f} {m.get('newob', 0):8.0f} {m['base']/m['new']:7.2f}x {c['base']:9.0f} {c['new']:6.0f} {c['base']/c['new']:6.2f}x   {g:6.1f} {gc:6.1f}")
print('\nkernels (GFLOP/s wall, per cpu-s; median)')
for (tag, name), v in sorted(gemm.items()):
    print(f"{tag:7s} {name:55s} {med([x['GFLOPS'] for x in v]):7.1f} {med([x.get('GFLOPS/cpu-s', 0) for x in v]):7.1f}")
EOF
