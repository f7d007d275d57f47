#!/usr/bin/env bash
# Tools for the offline deployment checks (tests/deploy) that are not Python packages, installed
# idempotently (a second run only checks a version and returns at once):
#   promtool, from Debian's `prometheus` package: only the promtool binary is extracted from the
#   .deb into the virtual environment's bin/ (no Prometheus server, service or user is installed).
# The Python tools (Helm's Go SDK via helm-python-sdk, kubernetes-validate, check-jsonschema,
# the prometheus-operator CRD models, dockerfile) are pinned in requirements/dev.txt.
# Called by scripts/install.sh; QWEN_TTS_SKIP_DEPLOY_TOOLS=1 skips it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QWEN_TTS_VENV:-$ROOT/.venv}"
# Debian 12's prometheus package; if the archive has moved on to a newer security update, the
# current candidate is taken instead (and its version printed).
PROMETHEUS_DEB_VERSION="${PROMETHEUS_DEB_VERSION:-2.42.0+ds-5+deb12u1}"

log() { printf '\033[1;34m[install-deploy-tools]\033[0m %s\n' "$*" >&2; }

target="$VENV/bin/promtool"
if [[ -x "$target" ]] && "$target" --version >/dev/null 2>&1; then
  exit 0
fi

SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
download() {
  (cd "$work" && apt-get download "$@" >/dev/null 2>&1)
}
if ! download "prometheus=$PROMETHEUS_DEB_VERSION"; then
  log "updating the Debian package lists"
  $SUDO apt-get update -qq
  if ! download "prometheus=$PROMETHEUS_DEB_VERSION"; then
    log "prometheus=$PROMETHEUS_DEB_VERSION is gone from the archive; taking the current candidate"
    download prometheus
  fi
fi
deb=("$work"/prometheus_*.deb)
dpkg-deb --fsys-tarfile "${deb[0]}" | tar -x -C "$work" ./usr/bin/promtool
mkdir -p "$VENV/bin"
install -m 0755 "$work/usr/bin/promtool" "$target"
log "promtool installed: $("$target" --version 2>&1 | head -1)"
