#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build,
# generate the built-in synthetic KiTS-like data set, preprocess it, train
# cross-validation fold 0 with the small demo spec (deploy/demo.yaml), validate
# it, decide postprocessing, then segment three held-out synthetic cases and
# score them (metrics table + preview PNGs).
# Usage: deploy/demo.sh [WORKDIR]   (default ./demo)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-demo}"
bash deploy/install-deps.sh
bash deploy/build.sh
./build/jobs/nephron synth --out "$WORK/data" --cases 20 --seed 0 --size small
rm -rf "$WORK/experiment"
./build/jobs/nephron preprocess --data "$WORK/data" --experiment "$WORK/experiment" --spec deploy/demo.yaml
./build/jobs/nephron train --experiment "$WORK/experiment" --fold 0 --spec deploy/demo.yaml
./build/jobs/nephron validate --experiment "$WORK/experiment" --fold 0
./build/jobs/nephron crossval --experiment "$WORK/experiment"
./build/jobs/nephron synth --out "$WORK/heldout" --cases 3 --seed 100 --size small
./build/jobs/nephron predict --experiment "$WORK/experiment" --input "$WORK/heldout" --output "$WORK/predictions"
./build/jobs/nephron evaluate --pred "$WORK/predictions" --gt "$WORK/heldout"
echo
echo "Experiment folder: $WORK/experiment (plans.json, splits_final.json, nnUNetPlans_3d_fullres/, fold_0/,"
echo "  postprocessing.json, crossval/); predictions, evaluation.{json,csv} and previews/ in $WORK/predictions"
