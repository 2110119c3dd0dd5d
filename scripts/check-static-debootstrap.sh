#!/usr/bin/env bash
# Shows that the single-file build (scripts/build-static.sh) needs nothing but the C library: makes
# a minimal Debian root (debootstrap --variant=minbase bookworm; no OpenBLAS, ICU or Swift in it,
# which the script checks), copies the binary and a model into it, and inside it
#   1. translates a file and compares the output with the normal build's on this machine,
#   2. serves the model, answers POST /translate over loopback with the same text, exits 0 on SIGTERM.
# Needs root (chroot, mount) and Debian's mirror for debootstrap. Not part of CI.
#
#   scripts/check-static-debootstrap.sh MODEL_DIR INPUT_FILE [STATIC_BINARY] [NORMAL_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: $0 MODEL_DIR INPUT_FILE [STATIC_BINARY] [NORMAL_BINARY]}
input=${2:?usage: $0 MODEL_DIR INPUT_FILE [STATIC_BINARY] [NORMAL_BINARY]}
static=${3:-.build-static/release/seq2seq}
normal=${4:-.build/release/seq2seq}
root=${DEBOOTSTRAP_ROOT:-/tmp/s2s-debroot}
port=${PORT:-18089}

if [ ! -x "$root/bin/sh" ]; then
    command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
echo "== the root has no OpenBLAS, ICU, gfortran or Swift:"
if find "$root" \( -name 'libopenblas*' -o -name 'libicu*' -o -name 'libgfortran*' -o -name 'libswift*' -o -name 'libdnnl*' -o -name 'libmpi*' \) | grep .; then
    echo "error: the root holds one of the libraries the binary must not need" >&2; exit 1
fi
echo "   none found; packages: $(chroot "$root" dpkg-query -f '.' -W | wc -c)"

rm -rf "$root/s2s" && mkdir -p "$root/s2s"
cp "$static" "$root/s2s/seq2seq"
cp -r "$model" "$root/s2s/model"
cp "$input" "$root/s2s/input.txt"
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
trap 'kill "$server" 2>/dev/null || true; umount "$root/proc" 2>/dev/null || true' EXIT
server=""

echo "== ldd inside the root:"
chroot "$root" ldd /s2s/seq2seq || true

echo "== translate inside the root vs the normal build here:"
chroot "$root" /s2s/seq2seq translate --model /s2s/model --input /s2s/input.txt --output /s2s/static.out --threads 2
"$normal" translate --model "$model" --input "$input" --output "$root/s2s/normal.out" --threads 2
if cmp "$root/s2s/static.out" "$root/s2s/normal.out"; then
    echo "   identical: $(wc -l < "$root/s2s/static.out") lines"
else
    echo "   differ in $(diff "$root/s2s/static.out" "$root/s2s/normal.out" | grep -c '^<') lines"
fi

echo "== serve inside the root:"
chroot "$root" /s2s/seq2seq serve --model /s2s/model --port "$port" --threads 2 > "$root/s2s/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "serving" "$root/s2s/serve.log" && break; sleep 0.1; done
first=$(head -1 "$input")
answer=$(python3 -c 'import json,sys,urllib.request
r = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/translate", json.dumps({"q": sys.argv[2]}).encode(), {"Content-Type": "application/json"}))
print(json.load(r)["translatedText"])' "$port" "$first")
echo "   POST /translate {\"q\": \"$first\"} → \"$answer\""
[ "$answer" = "$(head -1 "$root/s2s/normal.out")" ] && echo "   equals the normal build's translate" || { echo "error: differs from $(head -1 "$root/s2s/normal.out")" >&2; exit 1; }
kill -TERM "$server"
status=0; wait "$server" || status=$?
server=""
echo "   SIGTERM → exit status $status"
[ "$status" -eq 0 ]
echo "ok"
