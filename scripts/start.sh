#!/usr/bin/env bash
# One command for a new user: installs the toolchain and dependencies, builds, and runs the main demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TURBO_TELEMETRY_DISABLED=1
if ! command -v pnpm >/dev/null 2>&1; then
  echo "installing pnpm 10.34.8"
  npm install -g pnpm@10.34.8 >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm --silent demo
