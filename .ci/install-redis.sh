#!/bin/sh
# Installs Debian's redis-server for the sweep queue tests (packages/sweep/test/queue.slow.test.ts),
# which start their own server on a free port. Idempotent: does nothing when redis-server exists.
# Needs root (CI images run as root).
set -eu

if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server already installed: $(redis-server --version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-redis.sh: run as root (or install sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends redis-server
redis-server --version
