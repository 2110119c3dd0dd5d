#!/usr/bin/env bash
# `seq2seq export --format huggingface` against real transformers and CTranslate2 (scripts/check-export.py):
# trains small models on corpora/sample, imports the Marian and GPT-2 fixtures, exports each, and
# checks that transformers and CTranslate2 tokenize, score and decode as seq2seq does. The Python
# side is benchmarks/.venv (benchmarks/setup.sh: PyTorch for CPUs, transformers, CTranslate2).
#
#   SEQ2SEQ_CLI   the binary (default .build/release/seq2seq)
set -euo pipefail
cd "$(dirname "$0")/.."
cli="${SEQ2SEQ_CLI:-.build/release/seq2seq}"
[ -x "$cli" ] || { echo "check-export: $cli not found; build it first (swift build -c release)" >&2; exit 1; }
bash benchmarks/setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
benchmarks/.venv/bin/python scripts/check-export.py --cli "$cli" --work "$work"
