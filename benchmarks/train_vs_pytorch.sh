#!/usr/bin/env bash
# Training throughput of the `small` model: seq2seq bench train against PyTorch float32 and bf16
# autocast, same model and batches, alternating rounds; a table, and benchmarks/results/train.json.
#   benchmarks/train_vs_pytorch.sh [--rounds 3] [--threads 1,2] [--precisions float32,bf16]
# --help lists every option. One benchmark at a time: the machine's cores are shared, and anything
# else running is measured too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/_python.sh"
exec "$PYTHON" "$here/train_vs_pytorch.py" "$@"
