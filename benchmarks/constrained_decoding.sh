#!/usr/bin/env bash
# Lexically constrained decoding on Multi30k test2016, constraints from the references: share met, BLEU
# and sentences/s without and with --constraints; a table, and benchmarks/results/constraints.json.
#   benchmarks/constrained_decoding.sh --model runs/m30k [--beam 5] [--threads 2] [--rounds 2]
# Only the standard library is needed (no benchmarks/setup.sh). One benchmark at a time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONDONTWRITEBYTECODE=1
exec python3 "$here/constrained_decoding.py" "$@"
