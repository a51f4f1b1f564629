#!/usr/bin/env bash
# The Spark test of `bertserve embed --input - --output -` (issue 12): PySpark from PyPI in a
# throwaway virtual environment, local mode on this machine's Java 17, the GLUE SST-2 phrases
# piped through bertserve over several partitions; the collected rows must equal a
# single-process embed bit for bit, and the Spark job's wall time is compared with it.
#
#   scripts/spark/run.sh [MODEL_DIR] [-- embed_job.py flags: --partitions 4 --rounds 1 ...]
#
# MODEL_DIR defaults to a 2-layer random BERT built here (fast: what CI runs); pass the
# MiniLM-shaped test model ($BERTSERVE_CACHE/models/minilm-l6-h384-random) for the figure in
# BENCHMARKS.md. SPARK_VENV (default /tmp/bertserve-spark-venv) holds PySpark; DATA defaults
# to ../shared/data. Java 17+ is installed with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${BERTSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertserve}
DATA=${DATA:-../shared/data}
VENV=${SPARK_VENV:-/tmp/bertserve-spark-venv}
MODEL=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then MODEL=$1; shift; fi
[ "${1:-}" = "--" ] && shift
INPUT=$DATA/sst2-glue/train.tsv
[ -f "$INPUT" ] || { echo "spark: no $INPUT (set DATA=...)" >&2; exit 1; }

t0=$(date +%s)
if ! java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then
  echo "spark: installing Java 17 (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if ! "$VENV/bin/python" -c 'import pyspark' 2>/dev/null; then
  echo "spark: installing PySpark into $VENV (pip, hashes checked; ~430 MB)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --require-hashes -r scripts/spark/requirements.txt
fi
echo "spark: setup took $(( $(date +%s) - t0 )) s" >&2
go build -o bin/bertserve ./cmd/bertserve
if [ -z "$MODEL" ]; then
  MODEL=${SPARK_MODEL_DIR:-/tmp/bertserve-spark-tiny-bert}
  [ -f "$MODEL/model.onnx" ] || bin/bertserve build-model --config models/testdata/configs/tiny-bert.json --random --seed 1 \
    --tokenizer "$CACHE/vocab/bert-base-uncased/tokenizer.json" --out "$MODEL" --pooling mean >/dev/null
fi
ORT_LIB=${ONNXRUNTIME_LIB:-$CACHE/onnxruntime/1.24.1/libonnxruntime.so.1}
[ -f "$ORT_LIB" ] || { echo "spark: no ONNX Runtime at $ORT_LIB (make setup)" >&2; exit 1; }
PYSPARK_PYTHON=$VENV/bin/python "$VENV/bin/python" scripts/spark/embed_job.py \
  --bertserve bin/bertserve --model "$MODEL" --ort-lib "$ORT_LIB" --input "$INPUT" "$@"
