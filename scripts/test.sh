#!/usr/bin/env bash
# The test command: installs what is missing, type-checks, lints, then runs every test (unit and
# end-to-end) inside a private network namespace created for this run. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
npm run --silent typecheck
npm run --silent lint
npm run --silent build
mkdir -p artifacts
NODE_OPTIONS=--experimental-vm-modules exec scripts/in-private-network.sh jest --json --outputFile=artifacts/jest-results.json "$@"
