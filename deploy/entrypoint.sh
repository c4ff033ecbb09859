#!/bin/sh
# One image, one entrypoint per service: deploy/entrypoint.sh <keyservice|recorder|pipeline|records|lifecycle|migrate> [node args...]
# (records: the records staff access service; lifecycle: the retention sweep and deletions)
# (migrate: the database migration the chart's hook Job runs before a release's services start)
# tini is PID 1 (the image's ENTRYPOINT) and forwards SIGTERM to node, which drains.
set -eu

APP_DIR="${CHAPERONE_APP_DIR:-/app}"
usage="usage: entrypoint.sh <keyservice|recorder|pipeline|records|lifecycle|migrate>"

if [ "$#" -lt 1 ]; then
  echo "chaperone: no service named; $usage" >&2
  exit 2
fi
service="$1"
shift

case "$service" in
  keyservice) bundle="keyservice.mjs" ;;
  recorder) bundle="recorder.mjs" ;;
  pipeline) bundle="pipeline.mjs" ;;
  records) bundle="records.mjs" ;;
  lifecycle) bundle="lifecycle.mjs" ;;
  migrate) bundle="migrate.mjs" ;;
  *)
    echo "chaperone: unknown service '$service'; $usage" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" = "0" ]; then
  echo "chaperone: refusing to run $service as root" >&2
  exit 2
fi

entry="$APP_DIR/dist/node/$bundle"
if [ ! -r "$entry" ]; then
  echo "chaperone: $entry is missing (npm run build)" >&2
  exit 2
fi

# For the image's HEALTHCHECK (deploy/healthcheck.sh).
run_dir="${CHAPERONE_RUN_DIR:-/tmp/chaperone}"
mkdir -p "$run_dir" && printf '%s\n' "$service" > "$run_dir/service" || echo "chaperone: $run_dir is not writable; the HEALTHCHECK will fail" >&2

# Streaming services (gigabytes through short-lived buffers) run with a small young generation so dead
# buffers are freed every few frames: queue/node-flags.ts explains it, and a deploy test keeps both equal.
node_flags=""
case "$service" in
  pipeline | records) node_flags="--max-semi-space-size=1" ;;
esac

cd "$APP_DIR"
# shellcheck disable=SC2086 # node_flags is a list of flags without spaces inside any one of them
exec node --enable-source-maps $node_flags "$@" "$entry"
