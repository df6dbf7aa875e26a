#!/usr/bin/env bash
# Configures and builds Nephron into ./build (Release with debug info, -j2).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" > build-configure.log || { cat build-configure.log; exit 1; }
cmake --build build -j2
