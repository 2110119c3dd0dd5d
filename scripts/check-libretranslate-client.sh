#!/usr/bin/env bash
# A real LibreTranslate client against `seq2seq serve` with two models: libretranslatepy (PyPI), which
# posts HTML forms as LibreTranslate's own clients do, lists the pairs and translates de→en and en→de;
# each answer must equal `seq2seq translate --split-sentences` with that pair's model.
#
#   SEQ2SEQ_CLI   the binary (default .build/release/seq2seq)
set -euo pipefail
cd "$(dirname "$0")/.."
cli="${SEQ2SEQ_CLI:-.build/release/seq2seq}"
[ -x "$cli" ] || { echo "check-libretranslate-client: $cli not found; build it first (swift build -c release)" >&2; exit 1; }

venv=.build/venv-libretranslate
if ! "$venv/bin/python" -c 'import libretranslatepy' 2>/dev/null; then
    python3 -m venv "$venv" || { echo "check-libretranslate-client: python3 -m venv failed; install python3-venv (bash .ci/setup does)" >&2; exit 1; }
    "$venv/bin/pip" install --quiet "libretranslatepy>=2.1,<3"
fi

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

sample=corpora/sample
for pair in de-en en-de; do
    src=${pair%-*}; tgt=${pair#*-}
    "$cli" train --src $sample/train.$src --tgt $sample/train.$tgt --model "$work/$pair" --d-model 32 --d-ff 64 \
        --layers 1 --heads 2 --vocab-size 500 --max-steps 40 --threads 1 > "$work/train-$pair.log" 2>&1
    head -5 $sample/test.$src > "$work/in.$pair"
    "$cli" translate --model "$work/$pair" --input "$work/in.$pair" --split-sentences --source-lang "$src" --threads 1 > "$work/expected.$pair"
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$cli" serve --model de-en="$work/de-en" --model en-de="$work/en-de" --port "$port" --threads 1 > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
    grep -q "serving" "$work/serve.log" && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done

"$venv/bin/python" - "$port" "$work" <<'PY'
import sys
from libretranslatepy import LibreTranslateAPI

port, work = sys.argv[1], sys.argv[2]
lt = LibreTranslateAPI(f"http://127.0.0.1:{port}/")
languages = lt.languages()
pairs = sorted((l["code"], t) for l in languages for t in l["targets"])
assert pairs == [("de", "en"), ("en", "de")], languages
for pair in ["de-en", "en-de"]:
    source, target = pair.split("-")
    lines = open(f"{work}/in.{pair}", encoding="utf-8").read().splitlines()
    expected = open(f"{work}/expected.{pair}", encoding="utf-8").read().splitlines()
    got = [lt.translate(line, source, target) for line in lines]
    assert got == expected, (pair, got, expected)
    print(f"check-libretranslate-client: {pair}: {len(got)} lines as seq2seq translate gives them")
try:
    lt.translate(lines[0], "fr", "en")
    raise SystemExit("a pair the server does not have was translated")
except Exception as e:
    assert "400" in str(e), e
print("check-libretranslate-client: ok (libretranslatepy, two pairs)")
PY
