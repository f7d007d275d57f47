"""CPU seconds of the servers' processes, read from /proc (Linux): where a benchmark's CPU went.

A server started by devtools.servers is a process group of its own (Triton: tritonserver and one
Python stub per model; the API: uvicorn). `snapshot` sums user + system time of every live process
of the groups by program name; the difference of two snapshots is what ran between them.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
NAMES = {"triton_python_b": "model", "tritonserver": "tritonserver", "python": "api"}
"""Program names (15 characters at most in /proc) as reported: the model stub, Triton, the API."""


def snapshot(groups: list[int], *, client: bool = False) -> dict[str, float]:
    """CPU seconds so far of the processes in these process groups, by role (empty without /proc),
    and with `client` this process's own (`client`)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    if client:
        found["client"] = os.times().user + os.times().system
    for entry in PROC.glob("[0-9]*") if PROC.is_dir() else []:
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) in groups:  # fields from the state on: ppid, pgrp, ...
            role = NAMES.get(name, name)
            found[role] = found.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return found


def per_item_ms(before: dict[str, float], after: dict[str, float], items: int) -> dict[str, float]:
    """Milliseconds of CPU per item by role between two snapshots, and their sum (`total`)."""
    spent = {role: round((after[role] - before.get(role, 0.0)) / items * 1000, 2) for role in sorted(after)}
    return {**spent, "total": round(sum(spent.values()), 2)}
