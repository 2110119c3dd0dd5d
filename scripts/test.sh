#!/usr/bin/env bash
# The test command (README, and what CI runs after .ci/setup): the whole suite at the kernel level
# this processor chooses, the kernel-dependent suites again at every lower level it runs
# (SEQ2SEQ_ISA), the same binary under an emulated processor without AVX, the library's DocC build,
# the HTTP API against its OpenAPI contract and a LibreTranslate client, exported models in transformers and
# CTranslate2, and a package that depends on Seq2SeqKit by version.
set -euo pipefail
cd "$(dirname "$0")/.."
swift test -c release --disable-swift-testing --disable-testable-imports

# The levels below the one chosen here (the suite above ran at the highest).
# (swift test builds the seq2seq binary beside the tests, which run it.)
top=$(.build/release/seq2seq --version | sed -n 's/^kernels \([a-z0-9]*\) .*/\1/p')
case "$top" in
    avx512) lower="avx2 portable" ;;
    avx2) lower="portable" ;;
    *) lower="" ;;
esac
for level in $lower; do
    echo "== the kernel-dependent suites at SEQ2SEQ_ISA=$level"
    SEQ2SEQ_ISA=$level swift test -c release --disable-swift-testing --disable-testable-imports \
        --filter 'KernelLevelTests|KernelTests|Int8LinearTests|ParityTests|ModelTests|BeamSearchTests|MixedPrecisionTests|TrainingTests|LanguageModelTests|QuantizedModelTests|MarianTests|GPT2Tests|AttentionTests|SteeringTests'
done

bash scripts/check-portable-qemu.sh
# The library's DocC catalog and comments build without a warning (broken symbol links, parameters
# left undocumented).
swift package --disable-sandbox generate-documentation --target Seq2SeqKit --warnings-as-errors
# The HTTP API against docs/openapi.json (schemathesis): documented statuses, schemas, no 5xx.
SEQ2SEQ_CLI=.build/release/seq2seq bash scripts/check-openapi.sh
# Exported Hugging Face folders in real transformers and CTranslate2 (benchmarks/.venv).
SEQ2SEQ_CLI=.build/release/seq2seq bash scripts/check-export.sh
# A real LibreTranslate client (libretranslatepy) against a server of two models.
SEQ2SEQ_CLI=.build/release/seq2seq bash scripts/check-libretranslate-client.sh
# The example builds Seq2SeqKit as a dependency (no build flags, so the same code as here) and
# compares its translations with this build's binary.
SEQ2SEQ_CLI=.build/release/seq2seq bash scripts/check-example.sh
