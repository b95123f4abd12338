#!/usr/bin/env bash
# End-to-end check of tcpack/tcunpack on three real models (PaddleOCR det, rec, cls; ONNX, float32).
#
#   scripts/e2e-ocr.sh [BUILD_DIR]          (default: build/)
#
# For each model:
#   lossless  tcpack MODEL -> .tc -> tcunpack -> ONNX, which must be
#             - byte-identical to the original (cmp),
#             - accepted by python3-onnx's checker and equal to the original as a graph, with
#               bit-identical tensors (tests/e2e/onnx_check.py),
#             - bitwise identical to the original in its outputs under onnxruntime-node on the
#               same input (tests/e2e/run_ort.mjs);
#   ternary   tcpack with TWN ternarization of the Conv/MatMul/Gemm weights -> tcunpack -> ONNX,
#             which must pass the checker (same graph; tensors may differ), run, and give finite
#             outputs; its agreement with the original (relative L2 error, cosine, detector mask
#             IoU, recogniser text, classifier class) and with an independent Python TWN of the
#             same weights (tests/e2e/perturb.py) are reported, not judged.
# Each pack and unpack runs under /usr/bin/time -v (wall time and peak memory). Prints the tools'
# own reports, a summary table, and a closing line "e2e: N passed, M failed"; exits 1 if any check
# failed (any lossless mismatch, a tool or model that fails, a ternary model that does not run or
# gives non-finite outputs), 0 otherwise.
#
# Before that it installs what is missing: Debian packages (scripts/setup-debian.sh with
# python3-onnx, python3-numpy, time, and nodejs/npm unless node and npm are there), the tools
# (cmake build of tcpack and tcunpack in BUILD_DIR), the models (scripts/fetch-models.sh into
# models/) and onnxruntime-node (npm ci in tests/e2e/, install script skipped: the npm package
# carries the linux-x64 CPU binary).
#
# Environment:
#   TCODEC_E2E_MODELS      models folder (default: models/ at the repository root)
#   TCODEC_E2E_OUT         work folder for .tc files, round-tripped models and logs
#                          (default: BUILD_DIR/e2e; emptied of this script's files first)
#   TCODEC_E2E_ONLY        subset of "det rec cls" (default: all three)
#   TCODEC_E2E_TWN_ARGS    tcpack options of the ternary run
#                          (default: --quantize twn --threshold 0.7 --ops Conv,MatMul,Gemm)
#   TCODEC_E2E_NO_BUILD=1  use the tools in BUILD_DIR/bin as they are
#   TCODEC_E2E_NO_SETUP=1  install nothing (no apt-get, no npm); fail if something is missing
#   TCODEC_E2E_SEED        seed of the synthetic input image (default 1)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in -h | --help)
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
  ;;
esac
BUILD=${1:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
MODELS=${TCODEC_E2E_MODELS:-$ROOT/models}
OUT=${TCODEC_E2E_OUT:-$BUILD/e2e}
ONLY=${TCODEC_E2E_ONLY:-det rec cls}
TWN_ARGS=${TCODEC_E2E_TWN_ARGS:---quantize twn --threshold 0.7 --ops Conv,MatMul,Gemm}
SEED=${TCODEC_E2E_SEED:-1}
E2E=$ROOT/tests/e2e
PY=/usr/bin/python3
start=$SECONDS

banner() { printf '\n==================== %s  [%ds]\n' "$*" $((SECONDS - start)); }
die() {
  echo "e2e-ocr.sh: $*" >&2
  echo "e2e: 0 passed, 1 failed"
  exit 1
}

# ------------------------------------------------------------------------------------- set-up
banner "set-up"
if [ "${TCODEC_E2E_NO_SETUP:-0}" != 1 ]; then
  # Debian's nodejs and npm only when the commands are missing: a node installed otherwise (e.g.
  # NodeSource's, which bundles npm and conflicts with Debian's npm package) is kept.
  extra=(python3-onnx python3-numpy time)
  command -v node >/dev/null 2>&1 || extra+=(nodejs)
  command -v npm >/dev/null 2>&1 || extra+=(npm)
  bash "$ROOT/scripts/setup-debian.sh" "${extra[@]}" || die "installing Debian packages failed"
fi
for tool in node npm cmp sha256sum /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/setup-debian.sh --optional time)"
done
"$PY" -c 'import onnx, numpy' 2>/dev/null ||
  die "$PY cannot import onnx and numpy (Debian: python3-onnx python3-numpy)"

if [ "${TCODEC_E2E_NO_BUILD:-0}" != 1 ]; then
  for t in tcpack tcunpack; do
    [ -f "$ROOT/tools/$t.c" ] || die "tools/$t.c not found: nothing to build $t from"
  done
  build_log=$(mktemp)
  # A new build tree gets a Release configuration; an existing one keeps its options and is only
  # re-configured (so that tools added since its configuration become targets).
  config=()
  [ -f "$BUILD/CMakeCache.txt" ] ||
    config=(-DCMAKE_BUILD_TYPE=Release -DTCODEC_BUILD_TESTS=OFF -DTCODEC_BUILD_BENCH=OFF)
  if ! cmake -S "$ROOT" -B "$BUILD" "${config[@]}" >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    rm -f "$build_log"
    die "cmake configure of $BUILD failed"
  fi
  if ! cmake --build "$BUILD" -j"$(nproc)" --target tcodec_tool_tcpack tcodec_tool_tcunpack >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    rm -f "$build_log"
    die "building tcpack and tcunpack in $BUILD failed"
  fi
  rm -f "$build_log"
fi
TCPACK=$BUILD/bin/tcpack
TCUNPACK=$BUILD/bin/tcunpack
[ -x "$TCPACK" ] || die "$TCPACK not found"
[ -x "$TCUNPACK" ] || die "$TCUNPACK not found"
"$TCPACK" --version | head -n 2

if [ "${TCODEC_E2E_NO_SETUP:-0}" != 1 ]; then
  bash "$ROOT/scripts/fetch-models.sh" "$MODELS" || die "fetching the models failed"
fi

if [ ! -f "$E2E/node_modules/onnxruntime-node/package.json" ]; then
  [ "${TCODEC_E2E_NO_SETUP:-0}" != 1 ] || die "onnxruntime-node missing in $E2E/node_modules"
  echo "e2e-ocr.sh: npm ci in tests/e2e (onnxruntime-node, ~110 MB download)"
  (cd "$E2E" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
    die "npm ci in tests/e2e failed"
fi
(cd "$E2E" && node -e "require('onnxruntime-node')") || die "onnxruntime-node does not load"

# Ternary flags: as tcpack --help lists them.
help=$("$TCPACK" --help 2>&1)
twn_ok=1
read -r -a twn_words <<<"$TWN_ARGS"
for opt in "${twn_words[@]}"; do
  case "$opt" in --*)
    if ! grep -q -- "${opt%%=*}" <<<"$help"; then
      echo "e2e-ocr.sh: tcpack --help does not list $opt (set TCODEC_E2E_TWN_ARGS)" >&2
      twn_ok=0
    fi
    ;;
  esac
done

# The same threshold and operators for the reference ternarization (tests/e2e/perturb.py).
REF_ARGS=()
read -r -a twn_words <<<"$TWN_ARGS"
for ((i = 0; i < ${#twn_words[@]}; i++)); do
  case "${twn_words[i]}" in
    --threshold=* | --ops=*) REF_ARGS+=("${twn_words[i]%%=*}" "${twn_words[i]#*=}") ;;
    --threshold | --ops) REF_ARGS+=("${twn_words[i]}" "${twn_words[i + 1]:-}") ;;
  esac
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STATUS=$OUT/status.tsv
: >"$STATUS"

# ------------------------------------------------------------------------------------ helpers
declare -A FILE=(
  [det]=ch_PP-OCRv4_det_infer.onnx
  [rec]=ch_PP-OCRv4_rec_infer.onnx
  [cls]=ch_ppocr_mobile_v2.0_cls_infer.onnx
)

# brief FILE.json: one line about a check's result
brief() { "$PY" "$E2E/summary.py" --brief "$1"; }

# status MODEL STEP RC [DETAIL]: one row of the results
status() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$STATUS"; }

# timed NAME CMD...: runs CMD under /usr/bin/time -v, output in $OUT/NAME.log (shown), time
# figures in $OUT/NAME.time; returns CMD's exit status.
timed() {
  local name=$1
  shift
  echo "\$ ${*/#$ROOT\//}"
  /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  sed 's/^/    /' "$OUT/$name.log"
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/$name.time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/$name.time")
  printf '    [%s: exit %d, wall %s, max RSS %s KB]\n' "$name" "$rc" "${wall:-?}" "${rss:-?}"
  return $rc
}

# ---------------------------------------------------------------------------------- the models
read -r -a only_list <<<"$ONLY"
for m in "${only_list[@]}"; do
  src=$MODELS/${FILE[$m]:?unknown model $m (det, rec, cls)}
  [ -f "$src" ] || die "$src not found"
  rm -f "$OUT/$m".*

  banner "$m: lossless  ($(basename "$src"), $(stat -c %s "$src") bytes)"
  if timed "$m.pack" "$TCPACK" "$src" -o "$OUT/$m.tc"; then
    status "$m" pack 0 "$(stat -c %s "$OUT/$m.tc")"
    if timed "$m.unpack" "$TCUNPACK" "$OUT/$m.tc" -o "$OUT/$m.rt.onnx"; then
      status "$m" unpack 0
      if cmp "$src" "$OUT/$m.rt.onnx"; then
        status "$m" cmp 0
        echo "    cmp: byte-identical"
      else
        status "$m" cmp 1 "$(stat -c %s "$OUT/$m.rt.onnx") bytes"
      fi
      "$PY" "$E2E/onnx_check.py" --compact "$src" "$OUT/$m.rt.onnx" >"$OUT/$m.check.json"
      status "$m" onnx_check $?
      brief "$OUT/$m.check.json"
      (cd "$E2E" && node run_ort.mjs "$src" "$OUT/$m.rt.onnx" --seed "$SEED" \
        --keys "$MODELS/ppocr_keys_v1.txt" --compact) >"$OUT/$m.ort.json"
      status "$m" ort $?
      brief "$OUT/$m.ort.json"
    else
      status "$m" unpack 1
    fi
  else
    status "$m" pack 1
  fi

  banner "$m: ternary  (tcpack $TWN_ARGS)"
  if [ $twn_ok = 0 ]; then
    status "$m" twn-pack 1 "flags not supported"
    continue
  fi
  if timed "$m.twn-pack" "$TCPACK" "${twn_words[@]}" "$src" -o "$OUT/$m.twn.tc"; then
    status "$m" twn-pack 0 "$(stat -c %s "$OUT/$m.twn.tc")"
    if timed "$m.twn-unpack" "$TCUNPACK" "$OUT/$m.twn.tc" -o "$OUT/$m.twn.onnx"; then
      status "$m" twn-unpack 0
      "$PY" "$E2E/onnx_check.py" --lossy --compact "$src" "$OUT/$m.twn.onnx" >"$OUT/$m.twn-check.json"
      status "$m" twn-onnx_check $?
      brief "$OUT/$m.twn-check.json"
      (cd "$E2E" && node run_ort.mjs "$src" "$OUT/$m.twn.onnx" --seed "$SEED" \
        --keys "$MODELS/ppocr_keys_v1.txt" --compact) >"$OUT/$m.twn-ort.json"
      status "$m" twn-ort $?
      brief "$OUT/$m.twn-ort.json"
      # An independent ternarization of the same weights (Python, numpy) to compare tcpack's with.
      if "$PY" "$E2E/perturb.py" twn "$src" "$OUT/$m.ref-twn.onnx" "${REF_ARGS[@]}" >/dev/null; then
        "$PY" "$E2E/onnx_check.py" --lossy --compact "$OUT/$m.ref-twn.onnx" "$OUT/$m.twn.onnx" \
          >"$OUT/$m.twn-vs-ref.json"
      fi
    else
      status "$m" twn-unpack 1
    fi
  else
    status "$m" twn-pack 1
  fi
done

# ------------------------------------------------------------------------------------ summary
banner "summary"
read -r -a only_list <<<"$ONLY"
"$PY" "$E2E/summary.py" "$OUT" "${only_list[@]}"
rc=$?
echo "work folder: $OUT  (total ${SECONDS}s)"
exit $rc
