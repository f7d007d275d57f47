#!/usr/bin/env bash
# Install what is missing, then serve: local Triton (CPU, from the nvidia-pytriton wheel) and the
# API on port 8080. Ctrl-C stops both. Weights: QWEN_TTS_WEIGHTS_DIR if set, else the hub ids
# (Hugging Face cache); when neither can be had, the tiny random checkpoints with a loud warning.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QWEN_TTS_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$ROOT/scripts/install.sh"

warn() { printf '\033[1;31m%s\033[0m\n' "$*" >&2; }

if [[ -z "${QWEN_TTS_WEIGHTS_DIR:-}" ]]; then
  # Real weights are usable when the hub answers or the Hugging Face cache already holds them.
  if ! "$VENV/bin/python" - <<'PY' 2>/dev/null
import sys
from huggingface_hub import model_info, try_to_load_from_cache
repo = "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"
if isinstance(try_to_load_from_cache(repo, "config.json"), str):
    sys.exit(0)
model_info(repo, timeout=5)
PY
  then
    export QWEN_TTS_WEIGHTS_DIR="${QWEN_TTS_TINY_DIR:-$ROOT/.cache/tiny-checkpoints}"
    warn "=================================================================================="
    warn " No Qwen3-TTS weights reachable (no hub access, nothing local): serving the TINY"
    warn " RANDOM checkpoints from $QWEN_TTS_WEIGHTS_DIR. They speak NOISE."
    warn " Set QWEN_TTS_WEIGHTS_DIR to a folder of real checkpoints to serve real speech."
    warn "=================================================================================="
  fi
fi

export TRITON_HTTP_PORT="${TRITON_HTTP_PORT:-8000}" TRITON_GRPC_PORT="${TRITON_GRPC_PORT:-8001}"
export TRITON_METRICS_PORT="${TRITON_METRICS_PORT:-8002}"
export QWEN_TTS_TRITON_URL="${QWEN_TTS_TRITON_URL:-127.0.0.1:$TRITON_GRPC_PORT}"
API_PORT="${QWEN_TTS_API_PORT:-8080}"
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"  # as in the images (README, "Soak")

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

setsid "$ROOT/scripts/run_triton.sh" &
pids+=($!)
printf '[serve] waiting for Triton on :%s ' "$TRITON_HTTP_PORT" >&2
until curl -sf "http://127.0.0.1:$TRITON_HTTP_PORT/v2/health/ready" >/dev/null; do
  kill -0 "${pids[0]}" 2>/dev/null || { warn "Triton exited during start-up"; exit 1; }
  printf '.' >&2; sleep 1
done
echo " ready" >&2

setsid "$VENV/bin/python" -m uvicorn api.main:app --host "${QWEN_TTS_API_HOST:-0.0.0.0}" --port "$API_PORT" &
pids+=($!)
echo "[serve] API on http://127.0.0.1:$API_PORT/api/v1 (docs: /docs); Ctrl-C stops everything" >&2
wait -n "${pids[@]}"
