#!/usr/bin/env bash
# Fuzzes the readers of user files with libFuzzer and AddressSanitizer: safetensors, tokenizer.json,
# config.json, the UTF-8 line readers and the BPE encoder (Sources/seq2seq-fuzz/FuzzTargets.swift).
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 600 s for each of the five targets
#
# Seeds are scripts/fuzz/corpus/TARGET/; new inputs libFuzzer finds go to .build-fuzz/corpus/TARGET/
# (not committed), crashes to .build-fuzz/crash-*. Prints each target's executions and coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(safetensors tokenizer config lines bpe)
# swiftc's -sanitize=fuzzer links libFuzzer but (in Swift 6.3) instruments with trace-pc-guard, which
# this libFuzzer no longer reads: ask for inline 8-bit counters and compare tracing explicitly.
FLAGS=(-c release --scratch-path .build-fuzz --sanitize fuzzer --sanitize address -Xswiftc -DFUZZING
       -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table)
swift build "${FLAGS[@]}" --product seq2seq-fuzz
BIN=$(swift build "${FLAGS[@]}" --show-bin-path)/seq2seq-fuzz
status=0
for t in "${TARGETS[@]}"; do
    mkdir -p ".build-fuzz/corpus/$t"
    echo "== $t: $SECONDS_EACH s"
    log=".build-fuzz/fuzz-$t.log"
    if SEQ2SEQ_FUZZ_TARGET=$t "$BIN" ".build-fuzz/corpus/$t" "scripts/fuzz/corpus/$t" -max_total_time="$SECONDS_EACH" \
        -rss_limit_mb=4096 -max_len=65536 -artifact_prefix=".build-fuzz/crash-$t-" -print_final_stats=1 > "$log" 2>&1; then
        grep -E "DONE|stat::number_of_executed_units|stat::peak_rss" "$log" | tail -3 || true
    else
        echo "FAILED: $t (see $log; the input is in .build-fuzz/crash-$t-*)"
        grep -E "==[0-9]+==ERROR|SUMMARY|Fatal error|deadly signal|crash-" "$log" | head -8 || true
        status=1
    fi
done
exit $status
