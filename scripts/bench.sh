#!/usr/bin/env bash
# `npm run bench -- <name> [options]`: installs and builds what is missing, then runs the benchmark inside
# a private network namespace (media benchmarks need one; the others do not mind). The last line on stdout
# is the benchmark's JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
export PATH="$PWD/node_modules/.bin:$PATH"
npm run --silent build >&2
exec scripts/in-private-network.sh node --experimental-strip-types bench/run.ts "$@"
