#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build, then
# `nephron local --demo`: a coordinator and two workers on this machine run the
# whole experiment graph on a freshly generated synthetic KiTS-like data set
# (fingerprint, plan, preprocess, 5 cross-validation folds, validation,
# postprocessing decision, ensemble prediction of 4 held-out cases,
# evaluation) and print the results table.
# Usage: deploy/demo.sh [WORKDIR]   (default ./demo)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-demo}"
bash deploy/install-deps.sh
bash deploy/build.sh
exec ./build/jobs/nephron local --demo --workdir "$WORK"
