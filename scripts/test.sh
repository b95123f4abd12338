#!/usr/bin/env bash
# The project's test command (README, "Quick start"). On a Debian 12 machine:
#   1. installs missing packages (scripts/setup-debian.sh)
#   2. gcc Release build in build/ with -Werror, then ctest (unit tests, fuzz corpus replays,
#      exported-symbol check, install/link test)
#   3. clang-14 build in build-clang/ with -Werror, fuzzers included (compiled, not run)
#   4. decoder-only build in build-decoder/, checked with nm to hold no tcodec_writer_* symbol
#   5. end to end on the three PaddleOCR models (scripts/e2e-ocr.sh; TCODEC_SKIP_E2E=1 skips)
# The last line is "N passed, M failed": ctest's tests plus the build checks of steps 3-4
# (and step 2's build). Exit status is non-zero if anything failed.
# Env: TCODEC_JOBS (default 2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${TCODEC_JOBS:-2}

banner() { printf '\n==================== %s ====================\n' "$*"; }

checks_passed=0
checks_failed=0
failed_names=()
# check NAME COMMAND...: runs COMMAND, records the outcome, never stops the script.
check() {
  local name=$1
  shift
  if "$@"; then
    checks_passed=$((checks_passed + 1))
  else
    checks_failed=$((checks_failed + 1))
    failed_names+=("$name")
    echo "FAILED: $name" >&2
  fi
}

configure_build() { # DIR CMAKE_ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"$JOBS"
}

no_writer_symbols() { # DIR
  local dir=$1 found
  found=$( {
    nm -A "$dir/lib/libtcodec.a"
    nm -A -D "$dir/lib/libtcodec.so"
  } 2>/dev/null | grep -E '[[:space:]]tcodec_writer_' || true)
  if [ -n "$found" ]; then
    echo "decoder-only library contains writer symbols:" >&2
    echo "$found" >&2
    return 1
  fi
  [ -f "$dir/lib/libtcodec.a" ] || { echo "no $dir/lib/libtcodec.a" >&2; return 1; }
  echo "decoder-only library: no tcodec_writer_* symbol"
}

banner "Debian packages"
bash scripts/setup-debian.sh

banner "gcc Release build (build/, -Werror)"
gcc_ok=1
check "gcc build" configure_build build -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
  -DTCODEC_WERROR=ON || true
[ ${#failed_names[@]} -eq 0 ] || gcc_ok=0

ctest_passed=0
ctest_failed=0
if [ "$gcc_ok" = 1 ]; then
  banner "ctest (build/)"
  set +e
  ctest --test-dir build --output-on-failure --timeout 900 -j"$JOBS" 2>&1 | tee build/ctest.log
  ctest_rc=${PIPESTATUS[0]}
  set -e
  summary=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' build/ctest.log | tail -n 1 || true)
  if [ -n "$summary" ]; then
    read -r ctest_failed _ _ _ _ ctest_total <<<"$summary"
    ctest_passed=$((ctest_total - ctest_failed))
  fi
  if [ "$ctest_rc" -ne 0 ] && [ "$ctest_failed" -eq 0 ]; then
    ctest_failed=1 # ctest failed without a summary (crash, bad configuration)
  fi
  [ "$ctest_failed" -eq 0 ] || failed_names+=("ctest: $ctest_failed test(s)")
fi

banner "clang-14 build (build-clang/, -Werror, fuzzers)"
check "clang-14 build" configure_build build-clang -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-14 -DTCODEC_WERROR=ON -DTCODEC_BUILD_FUZZERS=ON

banner "decoder-only build (build-decoder/)"
check "decoder-only build" configure_build build-decoder -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=gcc -DTCODEC_WERROR=ON -DTCODEC_DECODER_ONLY=ON \
  -DTCODEC_BUILD_TOOLS=OFF -DTCODEC_BUILD_TESTS=OFF -DTCODEC_BUILD_BENCH=OFF
check "decoder-only has no tcodec_writer_*" no_writer_symbols build-decoder

# End to end on the three real PaddleOCR models (npm registry: models and onnxruntime-node):
# lossless round trips byte-identical with identical onnxruntime outputs, ternary ones checked.
e2e_passed=0
e2e_failed=0
if [ "$gcc_ok" = 1 ] && [ "${TCODEC_SKIP_E2E:-0}" != 1 ]; then
  banner "end to end: PaddleOCR det/rec/cls (scripts/e2e-ocr.sh build)"
  set +e
  TCODEC_E2E_NO_BUILD=1 bash scripts/e2e-ocr.sh build 2>&1 | tee build/e2e.log
  e2e_rc=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' build/e2e.log | tail -n 1 || true)
  if [ -n "$line" ]; then
    read -r _ e2e_passed _ e2e_failed _ <<<"${line//,/}"
  fi
  if [ "$e2e_rc" -ne 0 ] && [ "$e2e_failed" -eq 0 ]; then
    e2e_failed=1 # the script stopped before its summary (setup, network)
  fi
  [ "$e2e_failed" -eq 0 ] || failed_names+=("e2e: $e2e_failed check(s)")
fi

banner "summary"
echo "ctest: $ctest_passed passed, $ctest_failed failed; build checks: $checks_passed passed, $checks_failed failed; e2e: $e2e_passed passed, $e2e_failed failed"
if [ ${#failed_names[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed_names[@]}"
fi
total_failed=$((ctest_failed + checks_failed + e2e_failed))
echo "$((ctest_passed + checks_passed + e2e_passed)) passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
