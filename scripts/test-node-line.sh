#!/usr/bin/env bash
# Runs `npm test` on another Node major line, in a copy of this checkout, so that this
# one's node_modules stays built for the machine's Node:
#   1. scripts/node-line.sh installs the line (cached in .cache/node-lines);
#   2. the working tree (tracked and untracked, not ignored files) is copied to
#      .cache/node-tests/<major>, with node_modules hard-linked from here, except the
#      native addon `zookeeper`, which is copied and rebuilt against that line's headers;
#   3. `npm test` runs there, with that line's node first in PATH.
# ZooKeeper and Chromium are the caller's, as for `npm test` (.ci/run starts them).
#
# usage: scripts/test-node-line.sh <major>     (npm ci must have run here first)
set -euo pipefail
major=${1:?usage: $0 <major>}
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -d node_modules ] || { echo "$0: run npm ci first" >&2; exit 1; }
bin="$(bash scripts/node-line.sh "$major")"
tree="$root/.cache/node-tests/$major"
started=$(date +%s)

rm -rf "$tree"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$tree"
cp -al node_modules "$tree/node_modules"
if [ -d node_modules/zookeeper ]; then
  rm -rf "$tree/node_modules/zookeeper"
  cp -a node_modules/zookeeper "$tree/node_modules/zookeeper"
  # nodedir: the line's own headers (this machine's npm is set to build against Node 20's in /usr).
  (cd "$tree" && PATH="$bin:$PATH" npm_config_nodedir="$(dirname "$bin")" npm rebuild zookeeper --loglevel=error >/dev/null)
fi
prepared=$(date +%s)
echo "node $("$bin/node" --version): tree ready in $((prepared - started)) s ($tree)"

status=0
(cd "$tree" && PATH="$bin:$PATH" npm test) || status=$?
echo "node $("$bin/node" --version): npm test exited $status after $(($(date +%s) - prepared)) s"
exit "$status"
