#!/usr/bin/env bash
# `npm run lint`: every house-rule check, each run even when an earlier one fails, so that
# one run lists everything; exits 1 if any failed.
#   1. biome check (format and lint, biome.json) of src, workers, tests, bench, examples, scripts
#   2. no import cycle in src and workers, type-only imports included (dpdm)
#   3. no file over 400 lines in src and workers
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
step() { # name command...
  local name=$1; shift
  echo "== lint: $name"
  if ! "$@"; then failed+=("$name"); fi
}
step biome npx --no-install biome check src workers tests bench examples scripts
step 'import cycles' npx --no-install dpdm --no-tree --no-warning --exit-code circular:1 'src/**/*.ts' 'workers/**/*.ts'
step 'file length' node scripts/check-file-lines.mjs 400 src workers
if [ ${#failed[@]} -gt 0 ]; then
  echo "lint failed: ${failed[*]}" >&2
  exit 1
fi
echo "lint passed"
