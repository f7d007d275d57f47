"""A one-line progress bar on stderr: items finished, audio seconds, rate and ETA (from this run's pace)."""

from __future__ import annotations

import sys
import time
from typing import Any

WIDTH = 30


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first: int | None = None
        self.printed = 0.0
        self.tty = sys.stderr.isatty()

    def line(self, batch: dict[str, Any]) -> str:
        counts, total = batch["counts"], batch["total"]
        done = counts["completed"] + counts["failed"] + counts["cancelled"]
        self.first = done if self.first is None else self.first
        elapsed = time.monotonic() - self.started
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        eta = f"{(total - done) / rate:.0f} s" if rate > 0 else "?"
        filled = int(WIDTH * done / total) if total else WIDTH
        bar = "#" * filled + "." * (WIDTH - filled)
        failed = f", {counts['failed']} failed" if counts["failed"] else ""
        return (f"[{bar}] {done}/{total} items{failed}, {batch['audio_seconds']:.1f} s of audio, "
                f"{rate:.1f} items/s, ETA {eta}")  # fmt: skip

    def show(self, batch: dict[str, Any]) -> None:
        text = self.line(batch)
        if self.tty:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        elif time.monotonic() - self.printed >= 5.0:  # a log, not a terminal: a line every 5 s
            self.printed = time.monotonic()
            print(text, file=sys.stderr, flush=True)

    def end(self, message: str) -> None:
        print(("\n" if self.tty else "") + message, file=sys.stderr, flush=True)
