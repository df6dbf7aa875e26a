#!/usr/bin/env bash
# Builds the LibTorch engine core alone against the machine's own LibTorch
# (e.g. a CUDA PyTorch install; no Debian packages needed) and runs the
# training benchmark on the GPU. Output goes to stdout and to $OUT if set.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp}"
TORCH_PREFIX="${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
cmake -S . -B build-gpu -DNEPHRON_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
  > "$OUT/gpu-cmake.log" 2>&1 || { tail -30 "$OUT/gpu-cmake.log"; exit 1; }
cmake --build build-gpu -j"$(nproc)" > "$OUT/gpu-build.log" 2>&1 || { tail -30 "$OUT/gpu-build.log"; exit 1; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
./build-gpu/nephron-train-bench --device cuda:0 --config bdci --iterations 20 --aug-batches 20 --pipeline \
  --loader-threads 8 --threads 8 | tee "$OUT/gpu-bdci.txt"
./build-gpu/nephron-train-bench --device cuda:0 --config small --iterations 20 --no-augmentation --threads 8 \
  | tee "$OUT/gpu-small.txt"
