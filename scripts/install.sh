#!/usr/bin/env bash
# Install everything this project needs on a fresh Debian machine, idempotently:
# Debian packages (ffmpeg, sox; chromium, curl and node for the browser and contract-example tests),
# a virtual environment with pinned packages, the Triton Python
# backend stub from the nvidia-pytriton wheel, and the tiny random checkpoints for offline runs.
# A second run only checks stamps and returns in a few seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QWEN_TTS_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
cd "$ROOT"

log() { printf '\033[1;34m[install]\033[0m %s\n' "$*" >&2; }

# --- Debian packages -----------------------------------------------------------------------------
need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
# The playground's browser tests drive Debian's Chromium with Playwright (never a downloaded browser);
# the contract's cURL and JavaScript (Node) examples run as written.
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
if ((${#need_apt[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  log "installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- Python environment --------------------------------------------------------------------------
stamp_value=$(cat requirements/*.txt scripts/install.sh pyproject.toml | sha256sum | cut -c1-16)
stamp_file="$VENV/.install-stamp"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
if [[ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp_value" ]]; then
  log "installing Python packages (pinned; torch is the CPU wheel)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r requirements/engine.txt -r requirements/api.txt -r requirements/dev.txt
  # qwen-tts pins gradio (demo only) and a CUDA torchaudio: install both without their deps.
  "$VENV/bin/pip" install -q --no-deps qwen-tts==0.1.1 torchaudio==2.11.0
  # PyPI's torchaudio is a CUDA build whose compiled extension cannot load next to CPU torch;
  # qwen-tts only imports its pure-Python parts, which work once the extension is absent.
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  rm -f "$site"/torchaudio/lib/*.so
  "$VENV/bin/pip" install -q --no-deps -e .
  echo "$stamp_value" > "$stamp_file"
fi

# --- Triton Python backend stub ------------------------------------------------------------------
"$VENV/bin/python" - <<'PY'
import shutil, sys
from pathlib import Path
import pytriton
base = Path(pytriton.__file__).parent / "tritonserver"
stub = base / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}" / "triton_python_backend_stub"
target = base / "backends" / "python" / "triton_python_backend_stub"
if not target.exists() or target.stat().st_size != stub.stat().st_size:
    shutil.copy2(stub, target)
    print(f"[install] Triton Python stub for {sys.version_info.major}.{sys.version_info.minor} installed", file=sys.stderr)
PY

# --- Tiny random checkpoints (offline runs and tests) -------------------------------------------
"$VENV/bin/python" scripts/make_tiny_checkpoints.py --out "${QWEN_TTS_TINY_DIR:-$ROOT/.cache/tiny-checkpoints}" >&2

# --- Deployment check tools (tests/deploy): promtool from Debian's prometheus package ---------------
if [[ "${QWEN_TTS_SKIP_DEPLOY_TOOLS:-0}" != 1 ]]; then
  QWEN_TTS_VENV="$VENV" "$ROOT/scripts/install_deploy_tools.sh"
fi
log "ready: $VENV"
