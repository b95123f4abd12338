#!/usr/bin/env bash
# Install test (libcbor test/linkage/): installs BUILD_DIR into a temporary prefix, then builds
# and runs a consumer of the installed tree in four ways:
#   find_package(tcodec) + tcodec::tcodec         (C, shared)
#   find_package(tcodec) + tcodec::tcodec_static  (C, static: must not need libtcodec.so)
#   find_package(tcodec) + tcodec::tcodec         (C++: the header is C++-clean)
#   pkg-config tcodec, shared and --static
# Usage: tests/install/run.sh BUILD_DIR      (ctest runs it as install_consumer)
# Env: CC (default cc), TCODEC_BUILD_CONFIG (for multi-config builds), TCODEC_KEEP_TMP=1.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CC=${CC:-cc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tcodec-install.XXXXXX")
if [ "${TCODEC_KEEP_TMP:-0}" = 1 ]; then
  echo "keeping $TMP"
else
  trap 'rm -rf "$TMP"' EXIT
fi
PREFIX=$TMP/prefix

step() { printf -- '--- %s\n' "$*"; }
fail() {
  echo "install test FAILED: $*" >&2
  exit 1
}
# needs_libtcodec BINARY: true if the dynamic section lists libtcodec.so*
needs_libtcodec() { LC_ALL=C readelf -d "$1" | grep -q 'NEEDED.*\[libtcodec\.so'; }

step "install $BUILD_DIR into $PREFIX"
config_args=()
if [ -n "${TCODEC_BUILD_CONFIG:-}" ]; then config_args=(--config "$TCODEC_BUILD_CONFIG"); fi
cmake --install "$BUILD_DIR" --prefix "$PREFIX" "${config_args[@]}" >"$TMP/install.log" ||
  { cat "$TMP/install.log"; fail "cmake --install"; }

pc=$(find "$PREFIX" -path '*/pkgconfig/tcodec.pc' | head -n 1)
[ -n "$pc" ] || fail "tcodec.pc not installed"
PC_DIR=$(dirname "$pc")
LIB_DIR=$(dirname "$PC_DIR") # lib/ or lib/<multiarch>/, whatever GNUInstallDirs chose
[ -f "$PREFIX/include/tcodec/tcodec.h" ] || fail "tcodec.h not installed"
[ -f "$PREFIX/include/tcodec/tcodec_export.h" ] || fail "tcodec_export.h not installed"
ls "$LIB_DIR"/libtcodec.so* >/dev/null 2>&1 || fail "libtcodec.so not in $LIB_DIR"
[ -f "$LIB_DIR/libtcodec.a" ] || fail "libtcodec.a not in $LIB_DIR"
[ -f "$LIB_DIR/cmake/tcodec/tcodecConfig.cmake" ] || fail "tcodecConfig.cmake not in $LIB_DIR/cmake/tcodec"
if find "$PREFIX/include" -name '*.h' ! -path '*/tcodec/tcodec.h' ! -path '*/tcodec/tcodec_export.h' |
  grep -q .; then
  find "$PREFIX/include" -name '*.h'
  fail "headers other than the public ones were installed"
fi

step "find_package(tcodec) consumer (C shared, C static, C++)"
cmake -S "$HERE" -B "$TMP/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DTCODEC_EXPECT_PREFIX="$PREFIX" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$TMP/consumer-configure.log" ||
  { cat "$TMP/consumer-configure.log"; fail "consumer configure"; }
grep 'found tcodec' "$TMP/consumer-configure.log" || true
cmake --build "$TMP/consumer" >"$TMP/consumer-build.log" 2>&1 ||
  { cat "$TMP/consumer-build.log"; fail "consumer build"; }
LD_LIBRARY_PATH="$LIB_DIR" "$TMP/consumer/consumer_c" || fail "consumer_c"
needs_libtcodec "$TMP/consumer/consumer_c" || fail "consumer_c does not use libtcodec.so"
LD_LIBRARY_PATH="$LIB_DIR" "$TMP/consumer/consumer_cxx" || fail "consumer_cxx"
"$TMP/consumer/consumer_static" || fail "consumer_static"
if needs_libtcodec "$TMP/consumer/consumer_static"; then fail "consumer_static needs libtcodec.so"; fi

export PKG_CONFIG_PATH="$PC_DIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
step "pkg-config tcodec $(pkg-config --modversion tcodec) (shared)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
"$CC" -std=c99 -Wall -Wextra -pedantic -Werror -o "$TMP/pc_shared" "$HERE/main.c" \
  $(pkg-config --cflags --libs tcodec) || fail "pkg-config shared link"
LD_LIBRARY_PATH="$LIB_DIR" "$TMP/pc_shared" || fail "pc_shared"
needs_libtcodec "$TMP/pc_shared" || fail "pc_shared does not use libtcodec.so"

step "pkg-config --static tcodec"
# -l:libtcodec.a picks the archive although libtcodec.so sits beside it; the rest of the line
# (Requires.private, Libs.private) must be enough to resolve its dependencies.
static_libs=$(pkg-config --static --libs tcodec | sed -E 's/(^|[[:space:]])-ltcodec([[:space:]]|$)/\1-l:libtcodec.a\2/')
# shellcheck disable=SC2046,SC2086
"$CC" -std=c99 -Wall -Wextra -pedantic -Werror -o "$TMP/pc_static" "$HERE/main.c" \
  $(pkg-config --static --cflags tcodec) $static_libs || fail "pkg-config --static link"
LD_LIBRARY_PATH="$LIB_DIR" "$TMP/pc_static" || fail "pc_static"
if needs_libtcodec "$TMP/pc_static"; then fail "pc_static needs libtcodec.so"; fi

echo "install test passed"
