#!/usr/bin/env bash
# Main job on a fresh Debian 12 machine: install what is missing, build, write a
# model-like container with every tensor encoding, read it back and verify it,
# then print the ternary size/speed benchmark (ratios measured in the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTCODEC_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p out
./build/bin/tcdemo -f out/demo.tc
echo
./build/bin/tcbench --reps 3 out/demo.tc
echo
./build/bin/tcbench --reps 3
