#!/usr/bin/env bash
# Debian's python3-grpcio for the cross-language gRPC test (tests/integration/grpc-python.test.ts):
# installs it when /usr/bin/python3 cannot import grpc (needs root and apt). The package is
# built for Debian's own interpreter, /usr/bin/python3, which the test calls by that path
# (a `python3` earlier on PATH, such as pyenv's, does not see it).
# usage: scripts/python-grpcio.sh
set -euo pipefail
if /usr/bin/python3 -c 'import grpc' 2>/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "python3-grpcio is not installed and cannot be installed here: run 'apt-get install python3-grpcio' as root" >&2
  exit 1
fi
echo "installing python3-grpcio from Debian packages..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-grpcio >/dev/null
/usr/bin/python3 -c 'import grpc'
