#!/usr/bin/env bash
# Softmax head against scikit-learn on the same embedding matrices, side by
# side, plus the time of one MLP epoch.
#
#   scripts/bench_head.sh TRAIN.npy TRAIN.labels TEST.npy TEST.labels [WEIGHT_DECAY]
#   scripts/bench_head.sh --synthetic [ROWS] [DIM] [CLASSES]
#
# Labels files hold one label per line. Embed text with, for example,
#   bertserve embed --model DIR --input ../shared/data/sst2-glue/train.tsv --output train.npy
#   cut -f2 ../shared/data/sst2-glue/train.tsv | tail -n +2 > train.labels
# --synthetic makes correlated, normalised Gaussian matrices (60,614 x 384 by
# default) to try the comparison without an encoder.
#
# Prints both JSON results, the wall-time ratio, and whether accuracy is
# within 0.5 points and log loss within 2% of scikit-learn's (exit 1 if not).
# Needs Go and Debian's python3-sklearn (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."

py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/headbench" ./head/cmd/headbench

if [[ "${1:-}" == "--synthetic" ]]; then
  rows=${2:-60614}; dim=${3:-384}; classes=${4:-2}
  echo "making a synthetic ${rows} x ${dim} matrix with ${classes} classes..." >&2
  "$work/headbench" -make "$work/data" -rows "$rows" -dim "$dim" -classes "$classes"
  set -- "$work/data/train.npy" "$work/data/train.labels" "$work/data/test.npy" "$work/data/test.labels"
fi
if [[ $# -lt 4 ]]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
wd=${5:-1e-4}

echo "bertserve softmax head (L-BFGS)..." >&2
ours=$("$work/headbench" -train-x "$1" -train-y "$2" -test-x "$3" -test-y "$4" -weight-decay "$wd")
echo "scikit-learn LogisticRegression (lbfgs)..." >&2
theirs=$("$py" scripts/sklearn_compare.py "$1" "$2" "$3" "$4" --weight-decay "$wd")
echo "bertserve mlp head, one AdamW epoch..." >&2
mlp=$("$work/headbench" -train-x "$1" -train-y "$2" -test-x "$3" -test-y "$4" -head mlp -epochs 1)

"$py" - "$ours" "$theirs" "$mlp" <<'PY'
import json, sys
o, s, m = (json.loads(a) for a in sys.argv[1:4])
print(f"matrix: {o['rows']} x {o['dim']}, {o['classes']} classes, weight decay {o['weight_decay']} (sklearn C={s['C']:.4g}), {o['cores']} cores")
print(f"{'':14}{'bertserve':>12}{'sklearn':>12}")
print(f"{'seconds':14}{o['seconds']:12.3f}{s['seconds']:12.3f}")
print(f"{'iterations':14}{o['iterations']:12d}{s['iterations']:12d}")
print(f"{'accuracy':14}{o['accuracy']:12.4f}{s['accuracy']:12.4f}")
print(f"{'log loss':14}{o['log_loss']:12.4f}{s['log_loss']:12.4f}")
ratio = s['seconds'] / o['seconds']
dacc = 100 * (o['accuracy'] - s['accuracy'])
dll = 100 * (o['log_loss'] - s['log_loss']) / s['log_loss']
print(f"speed-up: {ratio:.1f}x   accuracy {dacc:+.2f} points   log loss {dll:+.2f}%")
print(f"mlp head (256 GELU, batch 128): {m['seconds_per_epoch']:.3f} s per epoch over {m['rows']} rows")
print("json:", json.dumps({"bertserve": o, "sklearn": s, "mlp": m}))
ok = abs(dacc) <= 0.5 and abs(dll) <= 2.0
print("within 0.5 points and 2%:", "yes" if ok else "NO")
sys.exit(0 if ok else 1)
PY
