#!/usr/bin/env python3
"""Write the five tiny random Qwen3-TTS checkpoints (noise models for tests and offline runs).

    python scripts/make_tiny_checkpoints.py [--out DIR] [--real-codebook] [--seed N] [--force]

Folders whose marker already matches the parameters are kept, so a second run takes milliseconds.
The weights are random: the models load and run through the real qwen-tts code, and speak noise.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / ".cache" / "tiny-checkpoints"


def _tiny_checkpoints() -> ModuleType:
    """Import `tiny_checkpoints`, from this checkout if the package is not importable."""
    if importlib.util.find_spec("tiny_checkpoints") is None:
        sys.path.insert(0, str(REPO_ROOT))
    import tiny_checkpoints

    return tiny_checkpoints


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"root folder (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--real-codebook",
        action="store_true",
        help="real codec shape (codebook 2048, 16 code groups; about 15 MB each) instead of 64 and 4",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument("--force", action="store_true", help="rewrite folders that are already up to date")
    return parser.parse_args(argv)


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    tiny = _tiny_checkpoints()
    started = time.perf_counter()
    last = [started]

    def report(path: Path, written: bool) -> None:
        now = time.perf_counter()
        action = "wrote" if written else "kept (up to date)"
        print(f"{action:18} {path}  {_folder_size(path) / 1e6:.1f} MB  {now - last[0]:.2f} s", flush=True)
        last[0] = now

    seed, force = args.seed, args.force
    tiny.write_all(args.out, real_codebook=args.real_codebook, seed=seed, force=force, on_result=report)
    print(f"tiny random checkpoints ready in {args.out} ({time.perf_counter() - started:.2f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
