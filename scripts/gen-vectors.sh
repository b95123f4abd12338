#!/usr/bin/env bash
# Regenerate the spec test vectors (spec/vectors/) with tools/tcvectors.c.
#
#   scripts/gen-vectors.sh [BUILD_DIR]           write spec/vectors/
#   scripts/gen-vectors.sh --check [BUILD_DIR]   only compare; exit 1 if a file differs
#
# BUILD_DIR is an existing CMake build tree (default: build-vectors/, configured here if
# needed). The output is deterministic: running this twice gives the same bytes, and
# tests/test_vectors.c fails if the committed vectors differ from what the generator makes.
# Files the generator no longer makes are removed (write mode) or reported (check mode).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
BUILD=${1:-$ROOT/build-vectors}
OUT=$ROOT/spec/vectors
JOBS=${TCODEC_JOBS:-2}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTCODEC_BUILD_TESTS=OFF \
    -DTCODEC_BUILD_BENCH=OFF -DTCODEC_BUILD_TOOLS=ON
fi
cmake --build "$BUILD" --target tcodec_tool_tcvectors -j"$JOBS"
TOOL=$BUILD/bin/tcvectors

if [ "$check" = 1 ]; then
  "$TOOL" --check "$OUT"
  exit $?
fi

# Write into a fresh folder, then replace spec/vectors/ with it, so that vectors that were
# renamed or dropped do not linger.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TOOL" "$tmp/vectors"
rm -rf "$OUT/valid" "$OUT/invalid" "$OUT/README.md"
mkdir -p "$OUT"
cp -R "$tmp/vectors/." "$OUT/"
"$TOOL" --check "$OUT" # determinism: a second run gives the same bytes
echo "spec/vectors: $(find "$OUT" -name '*.tc' | wc -l) vectors, $(find "$OUT" -type f | wc -l) files"
