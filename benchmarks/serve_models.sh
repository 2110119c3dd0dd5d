#!/usr/bin/env bash
# `seq2seq serve` with one model and with two (two pairs) under concurrent clients: sentences/s and
# resident memory; a table, and benchmarks/results/serve.json.
#   benchmarks/serve_models.sh --model runs/m30k [--second-model runs/other] [--clients 16] [--seconds 30]
# Only the standard library is needed (no benchmarks/setup.sh). One benchmark at a time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONDONTWRITEBYTECODE=1
exec python3 "$here/serve_models.py" "$@"
