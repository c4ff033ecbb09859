#!/usr/bin/env bash
# One compiler run per runtime, so the compiler enforces where code may run: the E2EE library against
# the language alone, the media worker against worker APIs, pages against the DOM, Node code against Node.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in e2ee/tsconfig.json e2ee/transform/worker/tsconfig.json room/tsconfig.json \
  test/fixtures/outsider/tsconfig.json test/fixtures/outsider/tsconfig.worker.json \
  bot/page/tsconfig.json bot/page/tsconfig.worker.json \
  bench/recorder-baseline/tsconfig.json bench/recorder-baseline/tsconfig.worker.json tsconfig.json; do
  tsc -p "$project" --noEmit || { echo "typecheck: $project failed" >&2; exit 1; }
done
