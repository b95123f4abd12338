#!/usr/bin/env bash
# Rate-distortion report on the three PaddleOCR models (docs/rd-report.md).
#
#   scripts/rd-sweep.sh [BUILD_DIR] [OUT_DIR]     (defaults: build/ and BUILD_DIR/rd/)
#
# Builds tcsweep if needed, fetches the models (scripts/fetch-models.sh models), runs tcsweep on
# each model (coded sizes at zstd level $RD_ZSTD_LEVEL, default 19) into OUT_DIR/NAME.{csv,json,
# svg,txt} and OUT_DIR/NAME-layers.svg, and converts the SVGs to PNG when rsvg-convert or
# ImageMagick is present (optional).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
case "$BUILD" in -h | --help)
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
esac
OUT=${2:-$BUILD/rd}
LEVEL=${RD_ZSTD_LEVEL:-19}

if [ ! -x "$BUILD/bin/tcsweep" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target tcodec_tool_tcsweep
fi
"$ROOT/scripts/fetch-models.sh" "$ROOT/models"
mkdir -p "$OUT"

to_png() {
  local svg=$1 png=${1%.svg}.png
  if command -v rsvg-convert >/dev/null 2>&1; then
    rsvg-convert -b white -o "$png" "$svg"
  elif command -v magick >/dev/null 2>&1; then
    magick "$svg" "$png"
  elif command -v convert >/dev/null 2>&1; then
    convert "$svg" "$png"
  else
    return 0
  fi
  echo "rd-sweep.sh: wrote $png"
}

for name in ch_ppocr_mobile_v2.0_cls_infer ch_PP-OCRv4_det_infer ch_PP-OCRv4_rec_infer; do
  echo "rd-sweep.sh: $name"
  start=$(date +%s)
  "$BUILD/bin/tcsweep" "$ROOT/models/$name.onnx" -o "$OUT/$name" --zstd-level "$LEVEL" -q |
    tee "$OUT/$name.txt"
  echo "rd-sweep.sh: $name took $(($(date +%s) - start)) s"
  to_png "$OUT/$name.svg" || echo "rd-sweep.sh: PNG conversion failed (optional)" >&2
  to_png "$OUT/$name-layers.svg" || echo "rd-sweep.sh: PNG conversion failed (optional)" >&2
done
echo "rd-sweep.sh: results in $OUT"
