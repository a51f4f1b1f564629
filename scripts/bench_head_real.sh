#!/usr/bin/env bash
# The softmax head against scikit-learn on real embeddings: embeds GLUE SST-2
# train (60,614 phrases) + SST-2 test, and TREC-6 train + test, with the
# default model (through the embedding cache, so a second run does no encoder
# work), then runs scripts/bench_head.sh on each pair side by side.
#
#   scripts/bench_head_real.sh [MODEL_DIR] [WEIGHT_DECAY]
#
# Needs `make setup`, ../shared/data and Debian's python3-sklearn.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-${BERTSERVE_CACHE:-$HOME/.cache/bertserve}/models/default}
wd=${2:-1e-4}
data=../shared/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/bertserve" ./cmd/bertserve

labels_tsv() { tail -n +2 "$1" | awk -F'\t' '{print $NF}'; }
labels_jsonl() { /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["label"]) for l in open(sys.argv[1])]' "$1"; }

embed() { "$work/bertserve" embed --model "$model" --input "$1" --output "$2" ${3:+--text-col "$3"}; }

embed "$data/sst2-glue/train.tsv" "$work/glue.npy"
labels_tsv "$data/sst2-glue/train.tsv" >"$work/glue.labels"
embed "$data/sst2/test.tsv" "$work/sst2-test.npy"
labels_tsv "$data/sst2/test.tsv" >"$work/sst2-test.labels"
embed "$data/trec6/train.jsonl" "$work/trec-train.npy" text
labels_jsonl "$data/trec6/train.jsonl" >"$work/trec-train.labels"
embed "$data/trec6/test.jsonl" "$work/trec-test.npy" text
labels_jsonl "$data/trec6/test.jsonl" >"$work/trec-test.labels"

echo "== GLUE SST-2 train (60,614) -> SST-2 test (1,821)"
scripts/bench_head.sh "$work/glue.npy" "$work/glue.labels" "$work/sst2-test.npy" "$work/sst2-test.labels" "$wd"
echo "== TREC-6 train (5,452) -> TREC-6 test (500)"
scripts/bench_head.sh "$work/trec-train.npy" "$work/trec-train.labels" "$work/trec-test.npy" "$work/trec-test.labels" "$wd"
