#!/usr/bin/env bash
# One command for a new user: installs the toolchain and dependencies, builds, makes a profile on the embedded
# default (SQLite, no broker) if there is none, runs the example workflow and shows its provenance.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TURBO_TELEMETRY_DISABLED=1
if ! command -v pnpm >/dev/null 2>&1; then
  echo "installing pnpm 10.34.8"
  npm install -g pnpm@10.34.8 >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm --silent build --output-logs=errors-only

verdi() { node packages/aiida-ts/dist/bin/verdi.js "$@"; }

if ! verdi profile list --json 2>/dev/null | grep -q '"name"'; then
  echo "== verdi presto (a profile on SQLite, no broker)"
  verdi presto --no-broker
fi

echo "== verdi run examples/arithmetic-workflow.ts 4"
output=$(verdi run examples/arithmetic-workflow.ts 4)
printf '%s\n' "$output"
pk=$(printf '%s\n' "$output" | tail -n 1 | tr -dc '0-9')

echo
echo "== verdi process status $pk"
verdi process status "$pk"
echo
echo "== verdi node show $pk"
verdi node show "$pk"
