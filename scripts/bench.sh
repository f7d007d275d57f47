#!/usr/bin/env bash
# From a fresh clone: install what is missing, then run the engine benchmark (python -m benchmarks.bench).
# Arguments go to it: --engine continuous|grouped, --sampler counter|reference, --quick, --json PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QWEN_TTS_VENV:-$ROOT/.venv}"
"$ROOT/scripts/install.sh" >&2
cd "$ROOT"
exec "$VENV/bin/python" -m benchmarks.bench "$@"
