#!/usr/bin/env bash
# BPE learning and encoding, 8,000 entries on Multi30k train: seq2seq bench bpe against
# sentencepiece and Hugging Face tokenizers; a table, and benchmarks/results/bpe.json.
#   benchmarks/bpe_vs_sentencepiece.sh [--threads 1,2] [--rounds 1]
# --help lists every option. One benchmark at a time: the machine's cores are shared, and anything
# else running is measured too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/_python.sh"
exec "$PYTHON" "$here/bpe_vs_sentencepiece.py" "$@"
