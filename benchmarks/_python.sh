# Sourced by the benchmark scripts (with their arguments): sets PYTHON to benchmarks/.venv's
# interpreter. Without the environment only --help works, with the system's python3: the helpers
# import PyTorch, CTranslate2 and the tokenizers only when they measure.
PYTHON="$here/.venv/bin/python"
if [ ! -x "$PYTHON" ]; then
    for arg in "$@"; do
        case "$arg" in
            -h|--help) PYTHON=python3 ;;
        esac
    done
fi
if [ "$PYTHON" != python3 ] && [ ! -x "$PYTHON" ]; then
    echo "error: $here/.venv does not exist: run benchmarks/setup.sh first (it installs PyTorch for CPUs," >&2
    echo "CTranslate2, sentencepiece, Hugging Face tokenizers and sacrebleu into it)" >&2
    exit 1
fi
# The helpers import each other: keep their compiled copies out of the checkout.
export PYTHONDONTWRITEBYTECODE=1
