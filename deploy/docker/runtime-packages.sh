#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries the programs in
# DIR load (for a slim runtime image). Usage: runtime-packages.sh DIR
set -euo pipefail
dir="$1"
ldd "$dir"/* | awk '/=> \//{print $3}' | sort -u | while read -r lib; do
  dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u
