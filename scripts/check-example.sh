#!/usr/bin/env bash
# Checks that a package depending on seq2seq by version builds and translates: publishes the
# committed tree as a throwaway git repository tagged with a version, builds Examples/TranslateLines
# against it by file:// URL in release mode, trains a tiny model with the seq2seq command of that
# same build, and checks that the example prints one translation per input line, the same as
# `seq2seq translate`.
#
#   bash scripts/check-example.sh
#
# Environment:
#   SEQ2SEQ_SOURCE_DIR       git checkout whose committed tree (HEAD) is published (default: this one)
#   SEQ2SEQ_PACKAGE_VERSION  the version it is tagged with and that the example asks for (default 0.9.0)
#   SEQ2SEQ_CLI              a seq2seq binary to use instead of building the package's own
#   KEEP_TMP=1               keep the temporary folder (its path is printed) instead of removing it
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source_dir="$(cd "${SEQ2SEQ_SOURCE_DIR:-$root}" && pwd)"
version="${SEQ2SEQ_PACKAGE_VERSION:-0.9.0}"
example="$root/Examples/TranslateLines"

started=$SECONDS
step() { printf '\n==> [%4ds] %s\n' $((SECONDS - started)) "$*"; }
fail() { printf '\ncheck-example: FAILED: %s\n' "$*" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/check-example.XXXXXX")"
cleanup() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# 1. The dependency, as a dependent sees it: a git repository with a version tag. Its folder is
#    named seq2seq, so the package's identity (the URL's last component) is the one that
#    Examples/TranslateLines/Package.swift names.
git -C "$source_dir" rev-parse --verify -q HEAD >/dev/null || fail "$source_dir is not a git checkout with a commit"
commit="$(git -C "$source_dir" rev-parse --short HEAD)"
step "publishing the committed tree of $source_dir ($commit) as $tmp/seq2seq, tagged $version"
if [ -n "$(git -C "$source_dir" status --porcelain --untracked-files=no)" ]; then
    echo "note: $source_dir has uncommitted changes; only what is committed is published"
fi
mkdir "$tmp/seq2seq"
git -C "$source_dir" archive HEAD | tar -x -C "$tmp/seq2seq"
publish() { git -C "$tmp/seq2seq" -c user.name=check-example -c user.email=check-example@localhost "$@"; }
publish init -q
publish add -A -f
publish commit -q -m "seq2seq $commit"
publish tag "$version"

# 2. The example, copied so that its Package.resolved and build stay out of the checkout.
step "building Examples/TranslateLines (release) against file://$tmp/seq2seq from: $version"
mkdir "$tmp/TranslateLines"
tar -C "$example" --exclude=.build --exclude=.swiftpm --exclude=Package.resolved -c . | tar -x -C "$tmp/TranslateLines"
export SEQ2SEQ_PACKAGE_URL="file://$tmp/seq2seq" SEQ2SEQ_PACKAGE_VERSION="$version"
build=(swift build -c release --package-path "$tmp/TranslateLines" --scratch-path "$tmp/build"
       --cache-path "$tmp/cache" --manifest-cache local)
"${build[@]}" || fail "the example did not build against seq2seq $version (see above)"
translate_lines="$tmp/build/release/translate-lines"
[ -x "$translate_lines" ] || fail "no $translate_lines after the build"
grep -A6 '"identity" : "seq2seq"' "$tmp/TranslateLines/Package.resolved" | grep -q "\"version\" : \"$version\"" \
    || fail "Package.resolved does not pin seq2seq at $version: $(cat "$tmp/TranslateLines/Package.resolved")"
echo "seq2seq resolved at version $version; built $translate_lines"

# 3. The command-line tool: the dependency's seq2seq product from the same build (the same compiled
#    Seq2SeqKit as the example), unless one is given.
if [ -n "${SEQ2SEQ_CLI:-}" ]; then
    cli="$SEQ2SEQ_CLI"
    step "using $cli"
else
    step "building the dependency's seq2seq command in the same build folder"
    "${build[@]}" --product seq2seq || fail "seq2seq did not build (see above)"
    cli="$tmp/build/release/seq2seq"
fi
[ -x "$cli" ] || fail "$cli is not an executable"

# 4. A tiny model: 100 small steps on the bundled sample corpus (under a minute). Its translations
#    are poor but differ from line to line, and are deterministic.
corpus="$tmp/seq2seq/corpora/sample"
step "training a tiny model on $corpus for 100 steps"
"$cli" train --src "$corpus/train.de" --tgt "$corpus/train.en" --model "$tmp/model" \
    --vocab-size 500 --d-model 64 --heads 2 --d-ff 128 --layers 1 --max-positions 64 --dropout 0 \
    --batch-tokens 1024 --max-steps 100 --lr 5e-3 --warmup-steps 10 --seed 1 \
    || fail "seq2seq train did not make a model (see above)"
ls "$tmp/model"

# 5. Translate a few held-out lines and an empty one: from standard input, and as arguments.
{ sed -n 1,3p "$corpus/test.de"; echo; sed -n 4,5p "$corpus/test.de"; } > "$tmp/input.txt"
lines=(); while IFS= read -r l; do lines+=("$l"); done < "$tmp/input.txt"
n=${#lines[@]}
step "translating $n lines with translate-lines (standard input, then arguments) and seq2seq translate"
"$translate_lines" "$tmp/model" < "$tmp/input.txt" > "$tmp/example-stdin.txt" \
    || fail "translate-lines exited with status $? reading standard input"
"$translate_lines" "$tmp/model" "${lines[@]}" > "$tmp/example-args.txt" \
    || fail "translate-lines exited with status $? given the lines as arguments"
"$cli" translate --model "$tmp/model" < "$tmp/input.txt" > "$tmp/cli.txt" \
    || fail "seq2seq translate exited with status $?"
paste -d '\n' "$tmp/input.txt" "$tmp/example-stdin.txt" | sed 'n;s/^/    -> /'

# 6. One translation per line, the same as the command-line tool's.
for f in example-stdin example-args cli; do
    count=$(wc -l < "$tmp/$f.txt")
    [ "$count" -eq "$n" ] || fail "$f: $count output lines for $n input lines"
done
diff -u "$tmp/cli.txt" "$tmp/example-stdin.txt" || fail "translate-lines (standard input) differs from seq2seq translate"
diff -u "$tmp/cli.txt" "$tmp/example-args.txt" || fail "translate-lines (arguments) differs from seq2seq translate"
grep -q '[^[:space:]]' "$tmp/cli.txt" || fail "every translation is empty; the check would prove little"

step "passed: translate-lines built against seq2seq $version and printed $n translations, equal to seq2seq translate's"
