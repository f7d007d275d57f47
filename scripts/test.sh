#!/usr/bin/env bash
# Install what is missing, lint, then run the whole test suite (unit and end-to-end through the
# real Triton server with the tiny checkpoints). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QWEN_TTS_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$ROOT/scripts/install.sh"

echo "[test] ruff" >&2
"$VENV/bin/ruff" check api tts_engine tts_contract tiny_checkpoints benchmarks devtools qwen_tts_cli scripts tests
echo "[test] mypy" >&2
"$VENV/bin/mypy" api tts_engine tts_contract tiny_checkpoints benchmarks devtools qwen_tts_cli
echo "[test] import layering" >&2
"$VENV/bin/lint-imports" --no-cache
echo "[test] pytest" >&2
exec "$VENV/bin/python" -m pytest "$@"
