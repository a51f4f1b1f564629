#!/usr/bin/env bash
# bertserve setup: installs what the encoder needs, idempotently.
#
#   1. The ONNX Runtime shared library, from the npm registry package
#      onnxruntime-node (pinned version, sha256 checked), into the cache.
#   2. The bert-base-uncased WordPiece tokenizer.json of all-MiniLM-L6-v2,
#      from the Go module github.com/clems4ever/all-minilm-l6-v2-go.
#
# The cache is $BERTSERVE_CACHE, else $XDG_CACHE_HOME/bertserve, else
# ~/.cache/bertserve. Run it again at any time: finished steps are skipped.
set -euo pipefail

ORT_VERSION=1.24.1
ORT_TGZ_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
ORT_LIB_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
MINILM_MODULE=github.com/clems4ever/all-minilm-l6-v2-go@v0.0.9
# --cuda: ONNX Runtime with the CUDA provider (needs CUDA 12 and cuDNN 9 on the machine).
GPU_VERSION=0.4.9
GPU_CORE_SHA256=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
GPU_PROV_SHA256=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412

CACHE=${BERTSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertserve}
ORT_DIR=$CACHE/onnxruntime/$ORT_VERSION
ORT_LIB=$ORT_DIR/libonnxruntime.so.1

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

install_ort() {
	if [ -f "$ORT_LIB" ] && [ "$(sha256 "$ORT_LIB")" = "$ORT_LIB_SHA256" ]; then
		say "ONNX Runtime $ORT_VERSION already at $ORT_LIB"
		return
	fi
	case "$(uname -s)/$(uname -m)" in
	Linux/x86_64) ;;
	*) die "the pinned ONNX Runtime library is for Linux x86_64; on $(uname -s)/$(uname -m) set ONNXRUNTIME_LIB to a libonnxruntime $ORT_VERSION you installed" ;;
	esac
	command -v npm >/dev/null 2>&1 || die "npm is not installed; install Node.js and npm (e.g. apt-get install nodejs npm), or set ONNXRUNTIME_LIB to an existing libonnxruntime.so $ORT_VERSION"
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	say "fetching onnxruntime-node@$ORT_VERSION with npm pack (~85 MB)"
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) ||
		die "npm pack onnxruntime-node@$ORT_VERSION failed; check that the npm registry is reachable (npm config get registry)"
	local tgz=$tmp/onnxruntime-node-$ORT_VERSION.tgz
	[ "$(sha256 "$tgz")" = "$ORT_TGZ_SHA256" ] || die "checksum mismatch for $tgz: got $(sha256 "$tgz"), want $ORT_TGZ_SHA256"
	tar -xzf "$tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	local lib=$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	[ "$(sha256 "$lib")" = "$ORT_LIB_SHA256" ] || die "checksum mismatch for libonnxruntime.so.1"
	mkdir -p "$ORT_DIR"
	cp "$lib" "$ORT_LIB.tmp.$$"
	mv -f "$ORT_LIB.tmp.$$" "$ORT_LIB"
	say "installed ONNX Runtime $ORT_VERSION at $ORT_LIB"
}

install_vocab() {
	local dst=$CACHE/vocab/bert-base-uncased/tokenizer.json
	if [ -s "$dst" ]; then
		say "bert-base-uncased tokenizer.json already at $dst"
		return
	fi
	command -v go >/dev/null 2>&1 || die "go is not installed; install Go 1.26 or newer"
	local dir
	dir=$(GOFLAGS=-mod=mod go mod download -json "$MINILM_MODULE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] && [ -f "$dir/all_minilm_l6_v2/tokenizer.json" ] ||
		die "could not fetch $MINILM_MODULE through the Go module proxy (go env GOPROXY)"
	mkdir -p "$(dirname "$dst")"
	cp "$dir/all_minilm_l6_v2/tokenizer.json" "$dst.tmp.$$"
	mv -f "$dst.tmp.$$" "$dst"
	say "installed bert-base-uncased tokenizer.json at $dst"
}

install_cuda() {
	local dir=$CACHE/onnxruntime-gpu/$GPU_VERSION
	if [ -f "$dir/libonnxruntime.so" ] && [ -f "$dir/libonnxruntime_providers_cuda.so" ]; then
		say "ONNX Runtime with CUDA already at $dir"
	else
		command -v npm >/dev/null 2>&1 || die "npm is not installed; install Node.js and npm"
		local tmp
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' RETURN
		say "fetching the CUDA build of ONNX Runtime (npm com.github.asus4.onnxruntime*@$GPU_VERSION, ~330 MB)"
		(cd "$tmp" && npm pack --silent "com.github.asus4.onnxruntime@$GPU_VERSION" "com.github.asus4.onnxruntime.linux-x64-gpu@$GPU_VERSION" >/dev/null) ||
			die "npm pack of the CUDA packages failed; check that the npm registry is reachable"
		local core=$tmp/com.github.asus4.onnxruntime-$GPU_VERSION.tgz prov=$tmp/com.github.asus4.onnxruntime.linux-x64-gpu-$GPU_VERSION.tgz
		[ "$(sha256 "$core")" = "$GPU_CORE_SHA256" ] || die "checksum mismatch for $core"
		[ "$(sha256 "$prov")" = "$GPU_PROV_SHA256" ] || die "checksum mismatch for $prov"
		mkdir -p "$tmp/x" "$dir.tmp.$$"
		tar -xzf "$core" -C "$tmp/x" package/Plugins/Linux/x64/libonnxruntime.so
		tar -xzf "$prov" -C "$tmp/x" package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
		mv "$tmp"/x/package/Plugins/Linux/x64/*.so "$dir.tmp.$$"/
		rm -rf "$dir"
		mv "$dir.tmp.$$" "$dir"
		say "installed ONNX Runtime with the CUDA provider at $dir"
	fi
	say "to use it: export ONNXRUNTIME_LIB=$dir/libonnxruntime.so and pass --device cuda (CUDA 12 and cuDNN 9 libraries must be on the loader path)"
}

mkdir -p "$CACHE"
install_ort
install_vocab
if [ "${1:-}" = "--cuda" ]; then
	install_cuda
fi
say "done; cache is $CACHE"
