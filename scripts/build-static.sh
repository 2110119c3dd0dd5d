#!/usr/bin/env bash
# Builds one self-contained seq2seq binary that needs nothing but the C library at run time:
# Swift's standard library and Foundation (--static-swift-stdlib), OpenBLAS with gfortran and
# quadmath, ICU and libstdc++ are linked from the static archives Debian ships
# (libopenblas-dev, libicu-dev, libgfortran-12-dev, libstdc++-12-dev).
#
# Debian ships no static oneDNN or Open MPI, so this build leaves them out (the package's OneDNN and MPI traits are off:
# --disable-default-traits): int8 products of many rows use our AVX2 tiles instead of oneDNN, and training
# under mpirun is refused with an error saying to use the normal build. Everything else is the same
# code: translate, serve, train on one machine, generate, quantize, eval, ...
#
#   scripts/build-static.sh                 # → .build-static/release/seq2seq, then ldd check
#   SCRATCH=/tmp/s2s-static scripts/build-static.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${SCRATCH:-.build-static}
archives="$scratch/static-archives"
mkdir -p "$archives"

# A directory holding only the .a files, searched before the system's (swiftc's -L comes ahead of
# clang's own library paths), so that -lopenblas, -licuuc, -lstdc++ ... resolve to archives.
multiarch=/usr/lib/x86_64-linux-gnu
gcc_dir=$(dirname "$(gcc -print-file-name=libgfortran.a 2>/dev/null || echo /usr/lib/gcc/x86_64-linux-gnu/12/libgfortran.a)")
link() { [ -f "$1" ] || { echo "missing $1: install $2" >&2; exit 1; }; ln -sf "$1" "$archives/$(basename "$1")"; }
link "$multiarch/openblas-pthread/libopenblas.a" libopenblas-dev
for l in icui18n icuuc icudata; do link "$multiarch/lib$l.a" libicu-dev; done
link "$gcc_dir/libgfortran.a" libgfortran-12-dev
link "$gcc_dir/libquadmath.a" libgfortran-12-dev
link "$gcc_dir/libstdc++.a" libstdc++-12-dev

# OpenBLAS comes through pkg-config (Sources/CBLAS), whose -L would find the shared library first:
# this openblas.pc points at the archives instead, with what the static library needs after it.
cat > "$archives/openblas.pc" <<PC
Name: openblas
Description: OpenBLAS, static (scripts/build-static.sh)
Version: 0.3.21
Cflags: $(pkg-config --cflags openblas)
Libs: -L$PWD/$archives -lopenblas -lgfortran -lquadmath -lm
PC

PKG_CONFIG_PATH="$PWD/$archives${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" swift build -c release --disable-default-traits --product seq2seq --scratch-path "$scratch" \
    --static-swift-stdlib \
    -Xswiftc -L -Xswiftc "$PWD/$archives" \
    -Xlinker -lgfortran -Xlinker -lquadmath -Xlinker -lm

bin="$scratch/release/seq2seq"
echo "built $bin ($(du -h "$bin" | cut -f1))"
ldd "$bin"
# Only the C library and its parts may remain.
if ldd "$bin" | grep -v -E '^\s*(linux-vdso|/lib64/ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libgcc_s\.so|libutil\.so)' | grep -q .; then
    echo "error: the binary still needs libraries beyond the C library (see ldd above)" >&2
    exit 1
fi
echo "ok: needs only the C library"
