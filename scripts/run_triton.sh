#!/usr/bin/env bash
# Run the real Triton server (2.51, from the nvidia-pytriton wheel) on this machine's CPU with our
# model repository. Foreground; Ctrl-C or SIGTERM stops it. Configuration, all optional:
#   QWEN_TTS_MODELS       comma-separated Triton model names to load (default: every TTS model)
#   QWEN_TTS_WEIGHTS_DIR  folder with checkpoints named like the hub ids (see README)
#   TRITON_HTTP_PORT / TRITON_GRPC_PORT / TRITON_METRICS_PORT (8000 / 8001 / 8002)
#   TRITON_MODEL_REPOSITORY (default: model_repository/ of this checkout)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QWEN_TTS_VENV:-$ROOT/.venv}"
REPO="${TRITON_MODEL_REPOSITORY:-$ROOT/model_repository}"
MODELS="${QWEN_TTS_MODELS:-custom_voice_1_7b,voice_design_1_7b,voice_clone_1_7b,custom_voice_0_6b,voice_clone_0_6b}"

site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
TRITON_HOME="$site/pytriton/tritonserver"
export LD_LIBRARY_PATH="$site/nvidia_pytriton.libs:${LD_LIBRARY_PATH:-}"
# The Python stub imports from the first python on PATH: the venv (torch, qwen_tts, tts_engine).
export PATH="$VENV/bin:$PATH"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" TOKENIZERS_PARALLELISM=false
# Two malloc arenas, as in the images: glibc's one per thread lets the model processes creep up.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

load_args=(--load-model=engine_info)
IFS=',' read -ra names <<< "$MODELS"
for name in "${names[@]}"; do
  [[ -n "$name" ]] && load_args+=("--load-model=$name")
done

exec "$TRITON_HOME/bin/tritonserver" \
  --model-repository="$REPO" \
  --backend-directory="$TRITON_HOME/backends" \
  --model-control-mode=explicit "${load_args[@]}" \
  --http-port="${TRITON_HTTP_PORT:-8000}" \
  --grpc-port="${TRITON_GRPC_PORT:-8001}" \
  --metrics-port="${TRITON_METRICS_PORT:-8002}" \
  --allow-cpu-metrics=true \
  --exit-timeout-secs="${TRITON_EXIT_TIMEOUT:-10}" \
  --log-verbose=0
