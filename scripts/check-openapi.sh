#!/usr/bin/env bash
# The HTTP API against its contract: starts `seq2seq serve` on loopback with a tiny translation model
# and then a tiny language model, and runs schemathesis (PyPI) over docs/openapi.json: every answer
# must be documented, match its schema and content type, and never be a 5xx.
#
#   SEQ2SEQ_CLI       the binary (default .build/release/seq2seq)
#   ST_MAX_EXAMPLES   generated cases per operation (default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
cli="${SEQ2SEQ_CLI:-.build/release/seq2seq}"
[ -x "$cli" ] || { echo "check-openapi: $cli not found; build it first (swift build -c release)" >&2; exit 1; }

venv=.build/venv-openapi
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
    python3 -m venv "$venv" || { echo "check-openapi: python3 -m venv failed; install python3-venv (bash .ci/setup does)" >&2; exit 1; }
    "$venv/bin/pip" install --quiet "schemathesis>=4,<5"
fi

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

sample=corpora/sample
"$cli" train --src $sample/train.de --tgt $sample/train.en --model "$work/mt" --d-model 32 --d-ff 64 --layers 1 \
    --heads 2 --vocab-size 500 --max-steps 30 --threads 1 > "$work/train-mt.log" 2>&1
"$cli" train --lm --text $sample/train.en --model "$work/lm" --d-model 32 --d-ff 64 --layers 1 --heads 2 \
    --max-steps 30 --threads 1 > "$work/train-lm.log" 2>&1

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status=0
for model in mt lm; do
    echo "== schemathesis against serve --model ($model)"
    "$cli" serve --model "$work/$model" --port "$port" --threads 1 \
        > "$work/serve-$model.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$port/openapi.json" | python3 -c 'import json,sys; assert json.load(sys.stdin) == json.load(open("docs/openapi.json")), "GET /openapi.json differs from docs/openapi.json: run scripts/sync-openapi.sh"'
    "$venv/bin/st" run docs/openapi.json --url "http://127.0.0.1:$port" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples "${ST_MAX_EXAMPLES:-40}" --request-timeout 30 --no-color || status=1
    kill "$server"; wait "$server" 2>/dev/null || true
    server=""
done
exit $status
