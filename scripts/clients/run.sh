#!/usr/bin/env bash
# The end-to-end client suite (make test-clients, part of make test-e2e):
# the official clients of OpenAI, Hugging Face and the Open Inference
# Protocol, and a property-based run of TEI's OpenAPI document
# (schemathesis), against live `bertserve serve` processes on loopback.
#
#   1. a sentiment head trained on 1,200 GLUE SST-2 rows (../shared/data),
#      copied as a second head, so server A (no --default-head) embeds on
#      POST / and classifies on /heads/NAME; server B, a replica on the same
#      heads directory with --default-head sentiment, classifies on POST /;
#   2. the reference outputs: `bertserve embed` and `bertserve predict` of
#      the test texts;
#   3. Node (openai, @huggingface/inference; package-lock.json) and Python
#      (openai, huggingface_hub, tritonclient[http]; requirements.txt with
#      hashes) clients, installed once into $CLIENTS_DIR (default
#      $BERTSERVE_CACHE/clients) and reused while the pins are unchanged;
#   4. schemathesis over TEI's document against server B: no 5xx and no
#      answer outside the schema.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin/bertserve}
CACHE=${BERTSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertserve}
MODEL=${MODEL:-$CACHE/models/default}
DATA=${DATA:-$ROOT/../shared/data}
SPEC=$(realpath -m "${SPEC:-$ROOT/../shared/specs/tei-openapi.json}")
CLIENTS_DIR=${CLIENTS_DIR:-$CACHE/clients}
PORT_A=${PORT_A:-18181}
PORT_B=${PORT_B:-18182}
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-25}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bertserve-clients.XXXXXX")
ADMIN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '== %s\n' "$*"; }
for f in "$MODEL/model.onnx" "$DATA/sst2/train.tsv" "$SPEC"; do
  [ -e "$f" ] || { echo "missing $f: run make setup, and keep the shared data at ../shared" >&2; exit 1; }
done

say "installing the clients (once) into $CLIENTS_DIR"
t0=$SECONDS
mkdir -p "$CLIENTS_DIR"
pyreq=scripts/clients/python/requirements.txt
pystamp=$(sha256sum "$pyreq" | cut -c1-16)
if [ ! -x "$CLIENTS_DIR/venv-$pystamp/bin/python" ]; then
  rm -rf "$CLIENTS_DIR"/venv-*
  python3 -m venv "$CLIENTS_DIR/venv-$pystamp"
  "$CLIENTS_DIR/venv-$pystamp/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$pyreq"
fi
PY=$CLIENTS_DIR/venv-$pystamp/bin/python
nodestamp=$(sha256sum scripts/clients/node/package-lock.json | cut -c1-16)
NODE_DIR=$CLIENTS_DIR/node-$nodestamp
if [ ! -d "$NODE_DIR/node_modules" ]; then
  rm -rf "$CLIENTS_DIR"/node-*
  mkdir -p "$NODE_DIR"
  cp scripts/clients/node/package.json scripts/clients/node/package-lock.json "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --silent --no-audit --no-fund)
fi
cp scripts/clients/node/clients.test.mjs "$NODE_DIR/"
say "clients ready in $((SECONDS - t0))s"

say "training the sentiment head on 1,200 SST-2 rows"
head -n 1201 "$DATA/sst2/train.tsv" > "$WORK/train.tsv"
"$BIN" train --model "$MODEL" --data "$WORK/train.tsv" --label-names 0=negative,1=positive \
  --out "$WORK/heads/sentiment" > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; exit 1; }
cp -r "$WORK/heads/sentiment" "$WORK/heads/sentiment-copy"
{ head -n 1 "$DATA/sst2/train.tsv"; sed -n '1202,1501p' "$DATA/sst2/train.tsv"; } > "$WORK/ref-train.tsv"

serve() { # serve PORT LOG [flags]
  local port=$1 log=$2; shift 2
  BERTSERVE_ADMIN_TOKEN=$ADMIN "$BIN" serve --model "$MODEL" --heads "$WORK/heads" --addr "127.0.0.1:$port" \
    --heads-refresh 1s "$@" > "$log" 2>&1 &
  pids+=($!)
}
serve "$PORT_A" "$WORK/a.log"
serve "$PORT_B" "$WORK/b.log" --default-head sentiment
for port in "$PORT_A" "$PORT_B"; do
  for _ in $(seq 300); do curl -sf "127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done
  curl -sf "127.0.0.1:$port/ready" >/dev/null || { echo "server on $port did not get ready"; cat "$WORK"/*.log; exit 1; }
done

say "reference outputs of bertserve embed and bertserve predict"
mkdir -p "$WORK/ref"
cp "$WORK/ref-train.tsv" "$WORK/ref/train.tsv"
cat > "$WORK/ref/texts.txt" <<'TEXTS'
a gorgeous, witty, seductive movie.
the plot is nothing but boilerplate clichés from start to finish.
Crème brûlée and naïve charm — it works, mostly.
an utterly incompetent conclusion
TEXTS
"$BIN" embed --model "$MODEL" --input "$WORK/ref/texts.txt" --output "$WORK/ref/embed.jsonl" 2>/dev/null
"$BIN" predict --head "$WORK/heads/sentiment" --model "$MODEL" --top-k 0 < "$WORK/ref/texts.txt" > "$WORK/ref/predict.jsonl" 2>/dev/null
export BERTSERVE_A=http://127.0.0.1:$PORT_A BERTSERVE_B=http://127.0.0.1:$PORT_B BERTSERVE_REF=$WORK/ref BERTSERVE_ADMIN_TOKEN=$ADMIN

status=0
say "Node clients: openai, @huggingface/inference"
t0=$SECONDS
(cd "$NODE_DIR" && node --test clients.test.mjs) || status=1
say "Node clients took $((SECONDS - t0))s"

say "Python clients: openai, huggingface_hub, tritonclient[http]; replicas sharing heads"
t0=$SECONDS
"$PY" scripts/clients/python/test_clients.py || status=1
say "Python clients took $((SECONDS - t0))s"

say "schemathesis: TEI's OpenAPI document against server B ($EXAMPLES examples per operation)"
t0=$SECONDS
# Operations bertserve does not serve (sparse/all-token embeddings, rerank,
# similarity, decode) are left out; every other one is generated from the
# document. Checks: no 5xx, and every answer valid against its schema.
# (Run from $WORK: schemathesis keeps its example database in ./.schemathesis.)
(cd "$WORK" && "$CLIENTS_DIR/venv-$pystamp/bin/schemathesis" run "$SPEC" --url "http://127.0.0.1:$PORT_B" \
  --checks not_a_server_error,response_schema_conformance --max-examples "$EXAMPLES" --seed 1 \
  --exclude-path /embed_all --exclude-path /embed_sparse --exclude-path /rerank \
  --exclude-path /similarity --exclude-path /decode --request-timeout 30) || status=1
say "schemathesis took $((SECONDS - t0))s"

if [ "$status" != 0 ]; then
  echo "server logs:"; tail -n 40 "$WORK"/a.log "$WORK"/b.log
fi
exit $status
