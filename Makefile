# bertserve: the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/bertserve
CACHE ?= $(or $(BERTSERVE_CACHE),$(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME)/bertserve,$(HOME)/.cache/bertserve))
VOCAB := $(CACHE)/vocab/bert-base-uncased/tokenizer.json
TESTMODEL := $(CACHE)/models/minilm-l6-h384-random
DATA  ?= ../shared/data

.PHONY: all build setup testmodel demo test test-e2e vet fmt-check ci bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/bertserve

## setup: the ONNX Runtime library and the vocabulary (scripts/setup.sh), then the binary.
setup:
	bash scripts/setup.sh
	$(MAKE) build

## testmodel: the MiniLM-L6-H384-shaped BERT with seeded random weights (for benchmarks).
testmodel: build
	@if [ -f $(TESTMODEL)/model.onnx ]; then echo "test model already at $(TESTMODEL)"; else \
	  $(BIN) build-model --config models/testdata/configs/minilm-l6-h384.json --random --seed 1 \
	    --tokenizer $(VOCAB) --out $(TESTMODEL); fi

## demo: set everything up and run the main job on the default model.
demo: setup testmodel
	$(BIN) embed --model $(TESTMODEL) --input $(DATA)/sst2/train.tsv --output out/sst2-train.npy

## test: formatting, vet and the unit tests under the race detector (installs what they need first).
test: setup testmodel fmt-check vet
	$(GO) test -race -count=1 ./...

## test-e2e: slower end-to-end tests behind BERTSERVE_E2E=1.
test-e2e: setup
	BERTSERVE_E2E=1 $(GO) test -count=1 -timeout 30m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

## ci: what .ci/run runs: the README's test command, then the end-to-end suite.
ci: test test-e2e

## bench: (a) embed end to end vs (b) the ONNX Runtime floor on 5,000 GLUE SST-2 sentences.
bench: testmodel
	$(BIN) bench --model $(TESTMODEL) --input $(DATA)/sst2-glue/train.tsv --n 5000 --threads 2

clean:
	rm -rf bin out
