#!/usr/bin/env bash
# Makes the CURVE keys the compose file mounts: DIR/coordinator.{key,pub},
# DIR/worker.{key,pub} and DIR/workers/worker.pub (the authorized keys).
# Usage: make-keys.sh DIR [NEPHRON]   (NEPHRON: the nephron binary, default from PATH)
set -euo pipefail
dir="$1"
nephron="${2:-nephron}"
mkdir -p "$dir/workers"
[ -f "$dir/coordinator.key" ] || "$nephron" keygen --out "$dir/coordinator"
[ -f "$dir/worker.key" ] || "$nephron" keygen --out "$dir/worker"
cp "$dir/worker.pub" "$dir/workers/worker.pub"
# The containers run as the image's `nephron` user (uid 10001): give it the
# secret keys (mode 0600 stays).
if [ "$(id -u)" -eq 0 ]; then
  chown 10001 "$dir/coordinator.key" "$dir/worker.key"
else
  echo "run as root, or: sudo chown 10001 $dir/coordinator.key $dir/worker.key (the containers' user)" >&2
fi
echo "keys in $dir; keep $dir/*.key private"
