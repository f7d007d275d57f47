#!/usr/bin/env bash
# Start Triton with the Qwen3-TTS model repository, as scripts/run_triton.sh does locally:
# explicit model control, the models of QWEN_TTS_MODELS loaded at start (engine_info always).
# Environment: QWEN_TTS_MODELS, QWEN_TTS_DEVICE, QWEN_TTS_DTYPE, QWEN_TTS_WEIGHTS_DIR, HF_HOME,
# TRITON_MODEL_REPOSITORY. Extra arguments go to tritonserver.
set -euo pipefail
REPO="${TRITON_MODEL_REPOSITORY:-/opt/app/model_repository}"
MODELS="${QWEN_TTS_MODELS:-custom_voice_1_7b,voice_design_1_7b,voice_clone_1_7b,custom_voice_0_6b,voice_clone_0_6b}"

load_args=(--load-model=engine_info)
IFS=',' read -ra names <<< "$MODELS"
for name in "${names[@]}"; do
  name="${name// /}"
  [[ -n "$name" ]] && load_args+=("--load-model=$name")
done

exec tritonserver \
  --model-repository="$REPO" \
  --model-control-mode=explicit "${load_args[@]}" \
  --http-port=8000 --grpc-port=8001 --metrics-port=8002 \
  --allow-metrics=true --allow-gpu-metrics=true --allow-cpu-metrics=true \
  --exit-timeout-secs="${TRITON_EXIT_TIMEOUT:-60}" \
  --log-verbose=0 \
  "$@"
