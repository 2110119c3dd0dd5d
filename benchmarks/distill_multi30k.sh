#!/usr/bin/env bash
# The distillation worked example of docs/distillation.md on Multi30k German→English: a teacher
# (`--preset small`), its two best translations of each line of train.de as the student's corpus
# (`seq2seq distill --n-best 2`, in a 4,000-entry student vocabulary), a `--preset tiny` student
# trained for 12,000 updates, int8 copies of both; then BLEU
# on test2016 and translation speed (1 thread, beam 5 batch 32 and greedy batch 1) of all four,
# teacher and student alternated.
#
#   benchmarks/distill_multi30k.sh [--out runs/distill-example] [--teacher-time 60m]
#       [--student-steps 12000] [--precision bf16] [--teacher DIR] [--repeats 3]
#
# Steps whose output exists are skipped, so the script resumes where it stopped; --teacher uses a
# teacher trained elsewhere. Needs Multi30k under $SEQ2SEQ_CORPORA (default ../shared/corpora).
# One benchmark at a time: anything else running is measured too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${SEQ2SEQ:-$root/.build/release/seq2seq}"
M="${SEQ2SEQ_CORPORA:-$root/../shared/corpora}/multi30k"
out=runs/distill-example teacher_time=60m student_steps=12000 precision=auto teacher="" repeats=3
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --teacher-time) teacher_time="$2"; shift 2 ;;
        --student-steps) student_steps="$2"; shift 2 ;;
        --precision) precision="$2"; shift 2 ;;
        --teacher) teacher="$2"; shift 2 ;;
        --repeats) repeats="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "$bin not found: swift build -c release first" >&2; exit 1; }
[ -f "$M/train.de" ] || { echo "$M/train.de not found: set SEQ2SEQ_CORPORA to the folder holding multi30k/" >&2; exit 1; }
mkdir -p "$out"
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
"$bin" --version >&2
grep -m1 "model name" /proc/cpuinfo >&2 || true
echo "load average: $(cut -d' ' -f1 /proc/loadavg)" >&2

teacher="${teacher:-$out/teacher}"
if [ ! -f "$teacher/model.safetensors" ]; then
    log "teacher: the small preset's recipe for $teacher_time"
    "$bin" train --src "$M/train.de" --tgt "$M/train.en" --valid-src "$M/val.de" --valid-tgt "$M/val.en" \
        --model "$teacher" --preset small --max-time "$teacher_time" --keep-last 8 --threads 2 --precision "$precision"
fi
[ -f "$out/teacher-int8/model.safetensors" ] || "$bin" quantize --model "$teacher" --output "$out/teacher-int8"

if [ ! -f "$out/student-vocab/tokenizer.json" ]; then
    log "student vocabulary: joint BPE, 4,000 entries"
    "$bin" vocab --src "$M/train.de" --tgt "$M/train.en" --size 4000 --output "$out/student-vocab"
fi
if [ ! -f "$out/distilled/header.json" ]; then
    log "distill train.de with the teacher (beam 5, the 2 best translations of each line)"
    resume=""; [ -d "$out/distilled/shards" ] && resume="--resume"
    "$bin" distill --teacher "$teacher" --src "$M/train.de" --vocab "$out/student-vocab" --output "$out/distilled" \
        --n-best 2 --threads 2 $resume
fi
if [ ! -f "$out/student/model.safetensors" ]; then
    log "student: --preset tiny for $student_steps updates on the distilled corpus"
    "$bin" train --data "$out/distilled" --valid-src "$M/val.de" --valid-tgt "$M/val.en" --model "$out/student" \
        --preset tiny --lr 2e-3 --dropout 0.1 --max-steps "$student_steps" --keep-last 8 --threads 2 --precision "$precision"
fi
[ -f "$out/student-int8/model.safetensors" ] || "$bin" quantize --model "$out/student" --output "$out/student-int8"

log "BLEU on test2016 (beam 5, length penalty 1.4)"
for m in teacher teacher-int8 student student-int8; do
    dir="$out/$m"; [ "$m" = teacher ] && dir="$teacher"
    "$bin" translate --model "$dir" --input "$M/test2016.de" --ref "$M/test2016.en" --output "$out/$m.test2016.en" \
        --threads 2 2> "$out/$m.bleu"
    echo "$m: $(grep -m1 BLEU "$out/$m.bleu")"
done

log "speed: 1 thread, test2016, best of $repeats, teacher and student alternated"
for round in 1 2; do
    for m in teacher-int8 student-int8 teacher student; do
        dir="$out/$m"; [ "$m" = teacher ] && dir="$teacher"
        "$bin" bench translate --model "$dir" --threads 1 --beams 5,1 --batch-sizes 32,1 --length-penalty 1.4 \
            --repeats "$repeats" 2>&1 | grep "sent/s" | sed "s/^/$m round $round: /"
    done
done
