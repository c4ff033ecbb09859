# syntax=docker/dockerfile:1.7
# Chaperone: one image, five services — deploy/entrypoint.sh <keyservice|recorder|pipeline|records|lifecycle> — and
# the database migration (deploy/entrypoint.sh migrate, the chart's hook Job).
# Base pinned to an exact Node release; pin it by digest as well in your registry mirror (see docs/runbook.md).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- build: all dependencies, bundle with esbuild ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# ---- deps: production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# Debian's Chromium (driven by puppeteer-core), ffmpeg (muxing, no re-encoding), tini as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium ffmpeg tini fonts-liberation ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root uid/gid the chart's securityContext names (runAsUser 10001).
RUN groupadd --system --gid 10001 chaperone \
 && useradd --system --uid 10001 --gid chaperone --home-dir /nonexistent --shell /usr/sbin/nologin chaperone \
 && mkdir -p /var/spool/chaperone \
 && chown chaperone:chaperone /var/spool/chaperone
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY deploy/entrypoint.sh deploy/healthcheck.sh ./deploy/
# The root filesystem is read-only in Kubernetes: Chromium and Node write only to /tmp and the spool.
ENV NODE_ENV=production \
    HOME=/tmp \
    XDG_CONFIG_HOME=/tmp/.config \
    XDG_CACHE_HOME=/tmp/.cache \
    CHROMIUM_PATH=/usr/bin/chromium \
    CHAPERONE_APP_DIR=/app \
    CHAPERONE_RECORDER_WEB_DIR=/app/dist/web \
    CHAPERONE_RECORDER_SPOOL_DIR=/var/spool/chaperone \
    CHAPERONE_OPS_HOST=0.0.0.0 \
    CHAPERONE_OPS_PORT=9464
# The ops listener of every service: /metrics (Prometheus), /healthz (liveness), /readyz (readiness).
EXPOSE 9464
VOLUME ["/var/spool/chaperone", "/tmp"]
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/app/deploy/healthcheck.sh"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/entrypoint.sh"]
CMD ["keyservice"]
