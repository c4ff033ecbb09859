#!/bin/sh
# The image's HEALTHCHECK (Docker; Kubernetes uses the chart's probes). The entrypoint records which service
# this container runs in $CHAPERONE_RUN_DIR/service.
set -eu
run_dir="${CHAPERONE_RUN_DIR:-/tmp/chaperone}"
service="$(cat "$run_dir/service" 2>/dev/null || true)"
case "$service" in
  keyservice)
    exec node -e "fetch('http://127.0.0.1:' + (process.env.KEYSERVICE_PORT || '8443') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
    ;;
  recorder | pipeline)
    # Alive while its node process runs and its spool is writable.
    grep -qs "$service.mjs" /proc/[0-9]*/cmdline || exit 1
    test -w "${CHAPERONE_RECORDER_SPOOL_DIR:-/var/spool/chaperone}"
    ;;
  *)
    echo "healthcheck: no service has started in this container" >&2
    exit 1
    ;;
esac
