#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build and test libtcodec, skipping those already
# installed (checked with dpkg -s). Runs `apt-get update` once, and only if something is missing.
#
#   scripts/setup-debian.sh [--optional] [PACKAGE...]
#
#   --optional   also the packages used by the end-to-end model checks (nodejs, npm)
#   PACKAGE...   any further Debian packages a caller needs
# Uses sudo when not run as root.
set -euo pipefail

REQUIRED=(
  build-essential cmake pkg-config
  libzstd-dev libcbor-dev libcriterion-dev libxxhash-dev
  clang-14 libclang-rt-14-dev llvm-14 # fuzzers, sanitizers; llvm-symbolizer for readable reports
  zstd
  libjansson-dev # JSON for the safetensors module and the policy file (formats/, tools/)
  python3-numpy python3-onnx # independent fixture writers and the ONNX checker in the tests
)
OPTIONAL=(
  nodejs npm
)

wanted=("${REQUIRED[@]}")
for arg in "$@"; do
  case "$arg" in
    --optional) wanted+=("${OPTIONAL[@]}") ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "setup-debian.sh: unknown option $arg" >&2
      exit 2
      ;;
    *) wanted+=("$arg") ;;
  esac
done

is_installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

# A machine may already have node and npm from elsewhere (e.g. NodeSource's nodejs, which
# bundles npm and conflicts with Debian's npm package): the commands are what counts.
provided_by_command() {
  case "$1" in
    nodejs) command -v node >/dev/null 2>&1 ;;
    npm) command -v npm >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

missing=()
for pkg in "${wanted[@]}"; do
  is_installed "$pkg" || provided_by_command "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian.sh: all ${#wanted[@]} packages already installed"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup-debian.sh: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi

echo "setup-debian.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
  install -y --no-install-recommends "${missing[@]}"
