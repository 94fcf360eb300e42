#!/usr/bin/env bash
# Headless Chromium for the status-page browser test: installs Debian's
# chromium-headless-shell when it is missing (needs root and apt), then prints its path.
# usage: scripts/chromium.sh
set -euo pipefail
find_binary() {
  for candidate in /usr/bin/chromium-headless-shell /usr/lib/chromium/headless_shell /usr/lib/chromium/chromium-headless-shell /usr/bin/chromium; do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
if ! find_binary >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "headless Chromium is not installed and cannot be installed here: run 'apt-get install chromium-headless-shell' as root" >&2
    exit 1
  fi
  echo "installing chromium-headless-shell from Debian packages..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null
fi
find_binary
