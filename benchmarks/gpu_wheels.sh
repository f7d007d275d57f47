#!/usr/bin/env bash
# Download the wheels benchmarks/gpu_check.py installs on a GPU machine without network, into .whl/
# (ignored by git; the device tool carries it: carry [".whl"]). Linux x86-64, CPython 3.12.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/.whl}"
PIP="${PIP:-$ROOT/.venv/bin/pip}"
mkdir -p "$OUT"
grep -qxF "/.whl/" "$(git -C "$ROOT" rev-parse --git-common-dir)/info/exclude" 2>/dev/null \
  || echo "/.whl/" >> "$(git -C "$ROOT" rev-parse --git-common-dir)/info/exclude"
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_5 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
"$PIP" download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d "$OUT" -r "$ROOT/benchmarks/gpu_wheels.txt"
# sox has no wheel on PyPI: build its pure-Python one.
"$PIP" wheel -q --no-deps -w "$OUT" sox==1.5.0
du -sh "$OUT"
