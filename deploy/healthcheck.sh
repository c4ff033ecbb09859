#!/bin/sh
# The image's HEALTHCHECK (Docker; Kubernetes probes the same endpoints through the chart): the service's ops
# listener answers /healthz on CHAPERONE_OPS_PORT (default 9464). The entrypoint records which service this
# container runs in $CHAPERONE_RUN_DIR/service.
set -eu
run_dir="${CHAPERONE_RUN_DIR:-/tmp/chaperone}"
service="$(cat "$run_dir/service" 2>/dev/null || true)"
case "$service" in
  keyservice | recorder | pipeline | records | lifecycle)
    exec node -e "fetch('http://127.0.0.1:' + (process.env.CHAPERONE_OPS_PORT || '9464') + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
    ;;
  migrate)
    # A one-off job: it is healthy while it runs.
    exit 0
    ;;
  *)
    echo "healthcheck: no service has started in this container" >&2
    exit 1
    ;;
esac
