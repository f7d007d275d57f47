#!/bin/sh
# Start the API with uvicorn. Clears PROMETHEUS_MULTIPROC_DIR first: prometheus_client's
# multiprocess mode keeps one file per worker process there, and files of a previous run would be
# added to this run's counters. Extra arguments go to uvicorn.
set -eu
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
fi
exec uvicorn api.main:app \
  --host 0.0.0.0 --port "${PORT:-8080}" \
  --workers "${WEB_CONCURRENCY:-2}" \
  --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" \
  --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-90}" \
  --no-server-header \
  "$@"
