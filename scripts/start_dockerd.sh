#!/usr/bin/env bash
# Starts the Docker engine when none answers, detached so it never holds the caller's stdout/stderr
# open (a daemon that keeps a CI job's pipes open keeps the job from ever finishing).
set -euo pipefail
LOG="${DOCKERD_LOG:-/var/log/synthgen-dockerd.log}"
TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"

if docker info >/dev/null 2>&1; then
  echo "dockerd: already running"
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  echo "error: dockerd not installed; run 'bash scripts/install_system_deps.sh' (apt package docker.io)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
mkdir -p "$(dirname "$LOG")" 2>/dev/null || true
# setsid + stdin from /dev/null + output to a file: fully detached from this shell.
$SUDO setsid dockerd >>"$LOG" 2>&1 </dev/null &
deadline=$((SECONDS + TIMEOUT))
until docker info >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ]; then
    echo "error: dockerd did not answer 'docker info' within ${TIMEOUT}s; see $LOG:" >&2
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "dockerd: started (log: $LOG)"
