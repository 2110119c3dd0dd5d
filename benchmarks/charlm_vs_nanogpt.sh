#!/usr/bin/env bash
# Character-level GPT on tinyshakespeare: seq2seq train --lm against nanoGPT's shakespeare_char
# CPU configuration in PyTorch, wall time and validation loss; benchmarks/results/charlm.json.
#   benchmarks/charlm_vs_nanogpt.sh [--threads 2] [--seq2seq-precisions float32,bf16]
# --help lists every option. One benchmark at a time: the machine's cores are shared, and anything
# else running is measured too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/_python.sh"
exec "$PYTHON" "$here/charlm_vs_nanogpt.py" "$@"
