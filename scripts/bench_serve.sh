#!/usr/bin/env bash
# Load benchmark of `bertserve serve` on loopback: single-sentence classify
# requests (embed when the heads directory holds no head) at concurrency
# 1, 16 and 64, with cross-request batching on and off
# (--max-batch-requests 1). Bounded in requests and time per level.
# Prints a Markdown table for BENCHMARKS.md, the batched/unbatched
# throughput ratio at the highest concurrency, and with --rss-requests N
# the server's resident memory sampled across N requests.
#
#   scripts/bench_serve.sh [--model DIR] [--heads DIR] [--requests N] [--duration 60s]
#                          [--concurrency 1,16,64] [--rss-requests 100000] [--port 18090]
#
# BERTSERVE=path/to/bertserve uses a built binary instead of `go build`.
set -euo pipefail
cd "$(dirname "$0")/.."

model="$HOME/.cache/bertserve/models/default"
heads=""
requests=2000
duration=60s
concurrency=1,16,64
rss_requests=0
port=18090
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --heads) heads="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --rss-requests) rss_requests="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench_serve.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ ! -f "$model/model.onnx" ]; then
  echo "bench_serve.sh: no model.onnx in $model; run \`bertserve pull default\` or pass --model DIR" >&2
  exit 1
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

bin="${BERTSERVE:-}"
if [ -z "$bin" ]; then
  go build -o "$tmp/bertserve" ./cmd/bertserve
  bin="$tmp/bertserve"
fi
go build -o "$tmp/loadtest" ./scripts/loadtest
if [ -z "$heads" ]; then
  heads="$tmp/heads"
  mkdir -p "$heads"
fi
url="http://127.0.0.1:$port"

start_server() {
  "$bin" serve --model "$model" --heads "$heads" --addr "127.0.0.1:$port" --log-level warn "$@" 2>"$tmp/server.log" &
  pid=$!
  for _ in $(seq 1 600); do
    if curl -fsS "$url/ready" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench_serve.sh: the server exited:" >&2; cat "$tmp/server.log" >&2; exit 1
    fi
    sleep 0.2
  done
  echo "bench_serve.sh: the server was not ready within 120s" >&2; cat "$tmp/server.log" >&2; exit 1
}

stop_server() {
  kill -TERM "$pid"
  wait "$pid" || { echo "bench_serve.sh: the server did not exit 0 on SIGTERM" >&2; cat "$tmp/server.log" >&2; exit 1; }
  pid=""
}

echo "## bertserve serve on loopback — $(date -u +%Y-%m-%d), $(nproc) CPUs, model $(basename "$model")"
echo
start_server
"$tmp/loadtest" -url "$url" -concurrency "$concurrency" -requests "$requests" -duration "$duration" -label batched | tee "$tmp/batched.md"
stop_server
start_server --max-batch-requests 1
"$tmp/loadtest" -url "$url" -concurrency "$concurrency" -requests "$requests" -duration "$duration" -label unbatched -header=false | tee "$tmp/unbatched.md"
stop_server

top="${concurrency##*,}"
rate() { awk -F'|' -v c="$top" '$3+0 == c && $2 !~ /run/ { gsub(/ /, "", $6); print $6 }' "$1"; }
b=$(rate "$tmp/batched.md")
u=$(rate "$tmp/unbatched.md")
echo
awk -v b="$b" -v u="$u" -v c="$top" 'BEGIN { if (u > 0) printf "batched / unbatched throughput at concurrency %d: %.2fx (%s vs %s req/s)\n", c, b / u, b, u }'

if [ "$rss_requests" -gt 0 ]; then
  echo
  echo "### resident memory across $rss_requests requests at concurrency $top (batched)"
  start_server
  "$tmp/loadtest" -url "$url" -concurrency "$top" -requests "$rss_requests" -duration 2h -warmup 256 \
    -rss-every $((rss_requests / 10)) -label "rss" 
  stop_server
fi
