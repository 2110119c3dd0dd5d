#!/usr/bin/env bash
# Generation speed on the same weights: seq2seq (float32 and int8) against CTranslate2's Generator
# (float32 and int8) on a random GPT-2-small-shaped model; a table, and benchmarks/results/generate.json.
#   benchmarks/generate_vs_ctranslate2.sh [--threads 1,2] [--batch-sizes 1,16] [--rounds 2]
# --help lists every option. One benchmark at a time: the machine's cores are shared, and anything
# else running is measured too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/_python.sh"
exec "$PYTHON" "$here/generate_vs_ctranslate2.py" "$@"
