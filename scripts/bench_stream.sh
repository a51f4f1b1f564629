#!/usr/bin/env bash
# Benchmarks of streaming embed (issue 15), each printing a ratio against a
# baseline run side by side on this machine:
#
#   scripts/bench_stream.sh throughput [ROUNDS]  5,000 GLUE SST-2 phrases, the MiniLM-shaped test
#                                                model: today's streaming embed vs the in-memory
#                                                embed of BASE_REV (built from git), alternating
#   scripts/bench_stream.sh memory               peak RSS at 60k, 600k and 1.8M rows (GLUE SST-2
#                                                repeated), streaming vs BASE_REV's in-memory path
#   scripts/bench_stream.sh resume               kill -9 half-way through the 600k file, resume:
#                                                total wall time vs an uninterrupted run, sha256
#
# Environment: BERTSERVE_CACHE (models), DATA (default ../shared/data), SCRATCH (default
# /tmp/bertserve-bench-stream; big generated corpora go there), BASE_REV (default: the parent of
# the commit "encoder: EmbedStream, ...", the last in-memory embed), MODEL (default: the MiniLM-shaped test model for
# throughput, a 2-layer random BERT built here for memory and resume, whose speed makes fixed
# costs and any growth stand out), THREADS (default 2). Wrap in `flock /work/bench.lock` on a
# shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-throughput}
CACHE=${BERTSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertserve}
DATA=${DATA:-../shared/data}
SCRATCH=${SCRATCH:-/tmp/bertserve-bench-stream}
BASE_REV=${BASE_REV:-$(git log --format=%h -1 --grep="^encoder: EmbedStream, the streaming core")^}
THREADS=${THREADS:-2}
SST2=$DATA/sst2-glue/train.tsv
mkdir -p "$SCRATCH"
[ -f "$SST2" ] || { echo "no $SST2 (set DATA=...)"; exit 1; }

go build -o "$SCRATCH/bertserve-new" ./cmd/bertserve
NEW=$SCRATCH/bertserve-new
base() {
  if [ ! -x "$SCRATCH/bertserve-base" ]; then
    rm -rf "$SCRATCH/base-src" && mkdir -p "$SCRATCH/base-src"
    git archive "$BASE_REV" | tar -x -C "$SCRATCH/base-src"
    (cd "$SCRATCH/base-src" && go build -o "$SCRATCH/bertserve-base" ./cmd/bertserve)
    echo "baseline: $(git rev-parse --short "$BASE_REV") (in-memory embed) built into $SCRATCH/bertserve-base" >&2
  fi
  echo "$SCRATCH/bertserve-base"
}
tiny() {
  local dir=$SCRATCH/tiny-bert-random
  [ -f "$dir/model.onnx" ] || "$NEW" build-model --config models/testdata/configs/tiny-bert.json --random --seed 1 \
    --tokenizer "$CACHE/vocab/bert-base-uncased/tokenizer.json" --out "$dir" --pooling mean >/dev/null
  echo "$dir"
}
# corpus N: GLUE SST-2's 60,614 rows repeated N times, as a TSV with one header.
corpus() {
  local n=$1 out=$SCRATCH/sst2x$1.tsv
  if [ ! -f "$out" ]; then
    { head -1 "$SST2"; for _ in $(seq "$n"); do tail -n +2 "$SST2"; done; } >"$out"
  fi
  echo "$out"
}
# run BIN ARGS...: prints "wall_s max_rss_kb" of one embed
run() {
  local bin=$1; shift
  /usr/bin/time -f '%e %M' -o "$SCRATCH/time.txt" "$bin" embed "$@" >/dev/null 2>"$SCRATCH/stderr.txt" || { cat "$SCRATCH/stderr.txt"; exit 1; }
  cat "$SCRATCH/time.txt"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

case $what in
throughput)
  rounds=${2:-5}
  M=${MODEL:-$CACHE/models/minilm-l6-h384-random}
  B=$(base)
  in=$SCRATCH/sst2-5000.tsv
  head -5001 "$SST2" >"$in"
  echo "5,000 GLUE SST-2 phrases, model $M, --threads $THREADS, $rounds alternating rounds"
  : >"$SCRATCH/base.txt"; : >"$SCRATCH/new.txt"
  for r in $(seq "$rounds"); do
    b=$(run "$B" --model "$M" --input "$in" --output "$SCRATCH/base.npy" --threads "$THREADS" | cut -d' ' -f1)
    n=$(run "$NEW" --model "$M" --input "$in" --output "$SCRATCH/new.npy" --threads "$THREADS" --resume=false | cut -d' ' -f1)
    echo "round $r: in-memory $b s, streaming $n s"
    echo "$b" >>"$SCRATCH/base.txt"; echo "$n" >>"$SCRATCH/new.txt"
  done
  cmp "$SCRATCH/base.npy" "$SCRATCH/new.npy" && echo "outputs byte-identical"
  mb=$(median <"$SCRATCH/base.txt"); mn=$(median <"$SCRATCH/new.txt")
  awk -v b="$mb" -v n="$mn" 'BEGIN {printf "median in-memory %.2f s (%.1f rows/s), streaming %.2f s (%.1f rows/s): throughput ratio streaming/in-memory %.3f\n", b, 5000/b, n, 5000/n, b/n}'
  ;;
memory)
  M=${MODEL:-$(tiny)}
  B=$(base)
  echo "peak RSS (max resident set, /usr/bin/time), model $M, --threads $THREADS"
  for n in 1 10 30; do
    in=$(corpus "$n"); rows=$((60614 * n))
    read -r ws kb < <(run "$NEW" --model "$M" --input "$in" --output "$SCRATCH/mem.npy" --threads "$THREADS" --resume=false)
    line="rows $rows: streaming $((kb / 1024)) MiB ($ws s)"
    if [ "$n" -le 10 ]; then
      read -r wb kbb < <(run "$B" --model "$M" --input "$in" --output "$SCRATCH/mem-base.npy" --threads "$THREADS")
      line="$line; in-memory $BASE_REV $((kbb / 1024)) MiB ($wb s)"
    fi
    echo "$line"
    rm -f "$SCRATCH/mem.npy" "$SCRATCH/mem-base.npy"
  done
  ;;
resume)
  M=${MODEL:-$(tiny)}
  in=$(corpus 10)
  out=$SCRATCH/resume.npy; ref=$SCRATCH/uninterrupted.npy
  rm -f "$out" "$ref" "$SCRATCH/.resume.npy.partial" "$SCRATCH/.resume.npy.partial.json"
  args=(--model "$M" --input "$in" --threads "$THREADS")
  read -r full _ < <(run "$NEW" "${args[@]}" --output "$ref" --resume=false)
  half=$(awk -v f="$full" 'BEGIN {print f / 2}')
  echo "uninterrupted: $full s; now killing a second run with SIGKILL after $half s"
  t0=$(date +%s.%N)
  "$NEW" embed "${args[@]}" --output "$out" 2>/dev/null &
  pid=$!
  sleep "$half"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  t1=$(date +%s.%N)
  kept=$(grep -o '"rows": [0-9]*' "$SCRATCH/.resume.npy.partial.json" | head -1 | tr -dc 0-9)
  echo "killed after $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s with $kept of 606140 rows checkpointed"
  read -r again _ < <(run "$NEW" "${args[@]}" --output "$out")
  grep -o 'resuming.*' "$SCRATCH/stderr.txt" || { echo "did not resume"; exit 1; }
  t2=$(date +%s.%N)
  total=$(awk -v a="$t0" -v b="$t2" 'BEGIN {print b - a}')
  sha_ref=$(sha256sum "$ref" | cut -d' ' -f1); sha_out=$(sha256sum "$out" | cut -d' ' -f1)
  echo "resumed run: $again s; killed + resumed: $(printf %.1f "$total") s; ratio to uninterrupted $(awk -v t="$total" -v f="$full" 'BEGIN {printf "%.3f", t / f}')"
  echo "sha256 uninterrupted $sha_ref"
  echo "sha256 resumed       $sha_out"
  [ "$sha_ref" = "$sha_out" ] && echo "identical" || { echo "DIFFERENT"; exit 1; }
  ;;
*)
  echo "usage: $0 throughput [ROUNDS] | memory | resume"; exit 2 ;;
esac
