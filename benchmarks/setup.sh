#!/usr/bin/env bash
# Creates benchmarks/.venv with the reference tools the benchmarks compare seq2seq against: PyTorch
# for CPUs, numpy, safetensors, sacrebleu, sentencepiece, Hugging Face tokenizers, CTranslate2 and
# threadpoolctl (over a gigabyte, mostly PyTorch). Run again, it does nothing once the environment
# imports them all.
#
# PyTorch: a local CPU wheel (torch-*+cpu*.whl for this Python) from a directory in $PIP_FIND_LINKS
# or /opt/wheels when there is one, else PyTorch's CPU index (https://download.pytorch.org/whl/cpu),
# else (that index unreachable) PyPI's default wheel, which brings gigabytes of CUDA libraries.
# Everything else comes from pip's usual index. scripts/check-export.sh (part of the test command)
# uses this environment too.
#
# Usage: benchmarks/setup.sh [--help]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
modules="torch numpy safetensors sacrebleu sentencepiece tokenizers ctranslate2 threadpoolctl transformers"
packages="numpy safetensors sacrebleu sentencepiece tokenizers ctranslate2 threadpoolctl transformers"

case "${1:-}" in
    -h|--help) sed -n '2,/^# Usage/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

imports_all() {  # the environment's Python imports every module
    [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import ${modules// /, }" 2>/dev/null
}

report() {
    "$venv/bin/python" - <<'EOF'
from importlib import metadata
names = ["torch", "numpy", "safetensors", "sacrebleu", "sentencepiece", "tokenizers", "ctranslate2", "threadpoolctl", "transformers"]
print("benchmarks/.venv: " + ", ".join(f"{n} {metadata.version(n)}" for n in names))
EOF
}

if imports_all; then
    report
    exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is not installed (Debian/Ubuntu: sudo apt-get install python3 python3-venv)" >&2
    exit 1
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "error: python3 cannot create virtual environments here: install python3-venv" >&2
    echo "(Debian/Ubuntu: sudo apt-get install python3-venv), then run benchmarks/setup.sh again" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)

if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
    tag="$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    wheel=""
    for dir in ${PIP_FIND_LINKS:-} /opt/wheels; do
        [ -d "$dir" ] || continue  # find-links may also hold URLs: only local directories are searched
        for w in "$dir"/torch-*+cpu*-"$tag"-"$tag"-*.whl; do
            [ -f "$w" ] && wheel="$w"
        done
        [ -n "$wheel" ] && break
    done
    if [ -n "$wheel" ]; then
        echo "installing PyTorch from $wheel"
        "${pip[@]}" "$wheel"
    else
        echo "installing PyTorch for CPUs from https://download.pytorch.org/whl/cpu"
        if ! "${pip[@]}" torch --index-url https://download.pytorch.org/whl/cpu; then
            echo "PyTorch's CPU index cannot be reached: installing torch from pip's usual index (with CUDA libraries: gigabytes)" >&2
            "${pip[@]}" torch
        fi
    fi
fi

echo "installing $packages"
# shellcheck disable=SC2086
"${pip[@]}" $packages

if ! imports_all; then
    echo "error: benchmarks/.venv still cannot import all of: $modules" >&2
    "$venv/bin/python" -c "import ${modules// /, }" || true
    exit 1
fi
report
