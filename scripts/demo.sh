#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing, builds, and runs the two-party encrypted
# call demo inside a private network namespace created for this run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
npm run --silent build
exec scripts/in-private-network.sh node dist/node/demo.mjs "$@"
