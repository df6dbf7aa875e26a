#!/usr/bin/env bash
# Installs every build and test dependency of Nephron from Debian 12 packages.
# Idempotent and fast when everything is already there (one dpkg query).
# Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev                 # LibTorch (CPU build) for the training/inference engines
  libinsighttoolkit5-dev       # ITK: NIfTI I/O
  libzmq3-dev cppzmq-dev       # ZeroMQ transport
  libmsgpack-cxx-dev           # wire format
  libsqlite3-dev               # coordinator state
  libspdlog-dev                # logging
  libgtest-dev libgmock-dev    # tests
  libyaml-cpp-dev              # job specs
  libcpp-httplib-dev           # coordinator HTTP API
  libssl-dev                   # SHA-256 of artifacts (OpenSSL)
  nlohmann-json3-dev           # JSON files (plans, fingerprints, reports)
  libcli11-dev                 # command-line parsing
  zlib1g-dev
  iproute2                     # `ip netns`: the multi-host test's network namespaces
  chromium fonts-dejavu-core   # headless browser (and a font) for the web UI tests
)
# Container builds need no browser (NEPHRON_NO_BROWSER=1).
if [ "${NEPHRON_NO_BROWSER:-0}" = 1 ]; then
  PACKAGES=("${PACKAGES[@]/chromium}")
  PACKAGES=("${PACKAGES[@]/fonts-dejavu-core}")
  PACKAGES=($(printf '%s\n' "${PACKAGES[@]}" | grep -v '^$'))
fi
# npm installs the web UI's charting library at build time and playwright-core
# for the browser tests; the machine's own Node.js (>= 18) is used when present.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
