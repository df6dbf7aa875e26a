#!/usr/bin/env bash
# Installs dependencies, builds and runs the whole test suite (unit and
# integration; later: e2e). Exit code is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
cd build
ctest -j2 --output-on-failure --timeout 600
