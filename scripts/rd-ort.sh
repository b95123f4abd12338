#!/usr/bin/env bash
# Model-level effect of quantization: for each of the three PaddleOCR models (det, rec, cls) and
# each configuration of a small list, pack with tcpack (quantizing the Conv/MatMul/Gemm weights),
# rebuild with tcunpack, and run the original and the round-tripped model through
# onnxruntime-node on the same synthetic input (tests/e2e/run_ort.mjs).
#
#   scripts/rd-ort.sh [BUILD_DIR]          (default: build/)
#
# One row per (model, config): .tc size / ONNX size, coded bits/weight over the quantized tensors
# (sum of their stored bytes x 8 / their element count, from tcpack --json), worst-tensor SQNR,
# output relative L2 error and cosine (first output), and the task metric (det: text-mask IoU at
# threshold 0.3; rec: CTC text equal + per-step argmax agreement; cls: predicted class equal).
# Prints a table per model and writes OUT/summary.md and OUT/summary.json
# (OUT = BUILD_DIR/rd-ort, or $TCODEC_RDORT_OUT). Reports; judges nothing.
#
# Needs (each set up when missing): the tools in BUILD_DIR/bin (cmake), the models in models/
# (scripts/fetch-models.sh), onnxruntime-node in tests/e2e/node_modules (npm ci),
# node and /usr/bin/python3.
#
# Environment:
#   TCODEC_RDORT_ONLY   subset of "det rec cls" (default: all three)
#   TCODEC_RDORT_SEED   seed of the synthetic input (default 1)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in -h | --help)
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
  ;;
esac
BUILD=${1:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
OUT=${TCODEC_RDORT_OUT:-$BUILD/rd-ort}
MODELS=${TCODEC_E2E_MODELS:-$ROOT/models}
ONLY=${TCODEC_RDORT_ONLY:-det rec cls}
SEED=${TCODEC_RDORT_SEED:-1}
E2E=$ROOT/tests/e2e
PY=/usr/bin/python3
start=$SECONDS

die() {
  echo "rd-ort.sh: $*" >&2
  exit 1
}

if [ ! -x "$BUILD/bin/tcpack" ] || [ ! -x "$BUILD/bin/tcunpack" ]; then
  echo "rd-ort.sh: building tcpack/tcunpack in $BUILD" >&2
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTCODEC_BUILD_TESTS=OFF >/dev/null ||
    die "cmake configure failed"
  cmake --build "$BUILD" -j2 >/dev/null || die "cmake build failed"
fi
TCPACK=$BUILD/bin/tcpack
TCUNPACK=$BUILD/bin/tcunpack
{ [ -x "$TCPACK" ] && [ -x "$TCUNPACK" ]; } || die "no tcpack/tcunpack in $BUILD/bin"
command -v node >/dev/null || die "node not found (scripts/setup-debian.sh --optional)"
if [ ! -d "$E2E/node_modules/onnxruntime-node" ]; then
  echo "rd-ort.sh: npm ci in tests/e2e (onnxruntime-node)" >&2
  (cd "$E2E" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund \
    --loglevel=error) || die "npm ci failed in tests/e2e"
fi

declare -A FILE=(
  [det]=ch_PP-OCRv4_det_infer.onnx
  [rec]=ch_PP-OCRv4_rec_infer.onnx
  [cls]=ch_ppocr_mobile_v2.0_cls_infer.onnx
)
for m in $ONLY; do
  [ -n "${FILE[$m]:-}" ] || die "unknown model '$m' (det rec cls)"
  if [ ! -f "$MODELS/${FILE[$m]}" ]; then
    bash "$ROOT/scripts/fetch-models.sh" "$MODELS" >/dev/null || die "fetching the models failed"
  fi
  [ -f "$MODELS/${FILE[$m]}" ] || die "missing $MODELS/${FILE[$m]}"
done

OPS="--ops Conv,MatMul,Gemm"
# name|tcpack options
CONFIGS=(
  "lossless|"
  "twn t=0.7|--quantize twn --threshold 0.7 $OPS"
  "twn t=1.0|--quantize twn --threshold 1.0 $OPS"
  "ec2t λ=0.1|--quantize ec2t --lambda 0.1 $OPS"
  "ec2t λ=0.3|--quantize ec2t --lambda 0.3 $OPS"
  "binary|--quantize binary $OPS"
  "kbit 8|--quantize kbit --bits 8 $OPS"
  "kbit 4|--quantize kbit --bits 4 $OPS"
  "kbit depth 8:2|--quantize kbit --bits-by-depth 8:2 $OPS"
  "hybrid eb=0.4|--quantize hybrid --error-budget 0.4 $OPS"
  "adaptive|--quantize adaptive $OPS"
)

mkdir -p "$OUT" || die "cannot create $OUT"
rows=$OUT/rows.tsv
: >"$rows"
fails=0
for m in $ONLY; do
  src=$MODELS/${FILE[$m]}
  i=0
  for c in "${CONFIGS[@]}"; do
    name=${c%%|*}
    args=${c#*|}
    tag=$m.$i
    i=$((i + 1))
    t0=$SECONDS
    status=ok
    # shellcheck disable=SC2086
    if ! "$TCPACK" -q -f $args --json "$OUT/$tag.pack.json" -o "$OUT/$tag.tc" "$src" 2>"$OUT/$tag.log"; then
      status=pack-failed
    elif ! "$TCUNPACK" -q -f -o "$OUT/$tag.onnx" "$OUT/$tag.tc" 2>>"$OUT/$tag.log"; then
      status=unpack-failed
    elif ! (cd "$E2E" && node run_ort.mjs "$src" "$OUT/$tag.onnx" --seed "$SEED" \
      --keys "$MODELS/ppocr_keys_v1.txt" --compact) >"$OUT/$tag.ort.json" 2>>"$OUT/$tag.log"; then
      status=ort-failed
    fi
    [ "$status" = ok ] || fails=$((fails + 1))
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$name" "$args" "$status" "$OUT/$tag" "$src" >>"$rows"
    printf 'rd-ort: %-3s %-16s %-13s %3ds\n' "$m" "$name" "$status" $((SECONDS - t0)) >&2
    rm -f "$OUT/$tag.onnx"
  done
done

"$PY" "$E2E/ort_table.py" "$rows" "$OUT/summary.md" "$OUT/summary.json" || die "ort_table.py failed"
echo "rd-ort: $((SECONDS - start)) s; $fails failed runs; wrote $OUT/summary.md and $OUT/summary.json"
[ "$fails" -eq 0 ]
