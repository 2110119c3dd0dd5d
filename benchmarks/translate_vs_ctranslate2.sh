#!/usr/bin/env bash
# Translation speed on the same weights: seq2seq (float32 and int8) against CTranslate2 (float32
# and int8) and PyTorch, on Multi30k test2016; a table, and benchmarks/results/translate.json.
#   benchmarks/translate_vs_ctranslate2.sh --model runs/m30k [--int8-model runs/m30k-int8] [--threads 1,2]
# --help lists every option. One benchmark at a time: the machine's cores are shared, and anything
# else running is measured too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/_python.sh"
exec "$PYTHON" "$here/translate_vs_ctranslate2.py" "$@"
