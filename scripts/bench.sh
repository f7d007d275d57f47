#!/usr/bin/env bash
# From a fresh clone: install what is missing, then run the engine benchmark (scripts/bench.py).
# Arguments go to bench.py: --engine continuous|grouped, --quick, --json PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QWEN_TTS_VENV:-$ROOT/.venv}"
"$ROOT/scripts/install.sh" >&2
exec "$VENV/bin/python" "$ROOT/scripts/bench.py" "$@"
