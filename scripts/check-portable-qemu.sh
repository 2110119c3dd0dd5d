#!/usr/bin/env bash
# One binary for every x86-64: translates with the same release binary natively (the highest kernel
# level this processor runs) and under `qemu-x86_64 -cpu Nehalem` (no AVX: CPUID reports none, so the
# portable kernels and OpenBLAS's Nehalem kernels run), and compares the two outputs line by line.
# At least 99% of the lines must be equal; the portable level rounds differently (no fused
# multiply-add), which can flip a near-tie in beam search.
#
#   scripts/check-portable-qemu.sh [MODEL_DIR [INPUT]]
#
# Without a model, one is trained for a minute on corpora/sample. Needs Debian's qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/seq2seq
[ -x "$bin" ] || swift build -c release --product seq2seq
[ "$(uname -m)" = x86_64 ] || { echo "check-portable-qemu: skipped (not an x86-64 machine)"; exit 0; }
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 is missing: apt-get install qemu-user" >&2; exit 1; }
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    # The machine pins OpenBLAS's kernels; under an emulated Nehalem they would need instructions it
    # lacks. This check does not change OPENBLAS_* settings, so it cannot run here.
    echo "check-portable-qemu: skipped (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE pins kernels a Nehalem lacks)"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=${1:-}
input=${2:-corpora/sample/test.de}
if [ -z "$model" ]; then
    model=$work/model
    echo "training a small model on corpora/sample for 60 s ..."
    "$bin" train --src corpora/sample/train.de --tgt corpora/sample/train.en \
        --valid-src corpora/sample/valid.de --valid-tgt corpora/sample/valid.en --model "$model" \
        --d-model 128 --heads 4 --d-ff 512 --layers 2 --dropout 0.1 --warmup-steps 100 --lr 2e-3 \
        --batch-tokens 1024 --max-time 60s --validate-every 100000 --vocab vocab 2>"$work/train.log" \
        || { cat "$work/train.log" >&2; exit 1; }
fi
head -n 100 "$input" > "$work/input"
echo "native: $("$bin" --version | tail -n 1)"
"$bin" translate --model "$model" --threads 1 < "$work/input" > "$work/native"
echo "qemu-x86_64 -cpu Nehalem: $(qemu-x86_64 -cpu Nehalem "$bin" --version | tail -n 1)"
qemu-x86_64 -cpu Nehalem "$bin" --version | grep -q "kernels portable" \
    || { echo "under Nehalem the kernels are not at the portable level" >&2; exit 1; }
start=$(date +%s)
qemu-x86_64 -cpu Nehalem "$bin" translate --model "$model" --threads 1 < "$work/input" > "$work/nehalem"
lines=$(wc -l < "$work/input")
same=$(paste -d '\n' "$work/native" "$work/nehalem" | awk 'NR % 2 == 1 { a = $0; next } { if (a == $0) n++ } END { print n + 0 }')
echo "equal lines: $same of $lines ($(($(date +%s) - start)) s under qemu)"
if [ "$same" -ne "$lines" ]; then
    echo "lines that differ (native | Nehalem):"
    diff "$work/native" "$work/nehalem" | head -n 20 || true
fi
[ $((same * 100)) -ge $((lines * 99)) ] || { echo "fewer than 99% of the lines are equal" >&2; exit 1; }
echo "check-portable-qemu: passed"
