"""Resident memory and open file descriptors of the stack's processes, sampled from /proc (Linux),
and their growth between two parts of a run (benchmarks/soak.py)."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def children(pid: int) -> list[int]:
    """Every descendant of `pid`."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                kids = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                found.append(kid)
                frontier.append(kid)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return [arg.decode(errors="replace") for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if arg]
    except OSError:
        return []


def triton_processes(server_pid: int) -> dict[str, int]:
    """tritonserver itself and each model's Python backend stub, by model name."""
    named = {"tritonserver": server_pid}
    for pid in children(server_pid):
        model = next((arg.split("/")[-3] for arg in cmdline(pid) if arg.endswith("/1/model.py")), None)
        if model is not None:
            named[model] = pid
    return named


@dataclass
class Sample:
    at: float
    """Seconds since the run started."""
    rss: dict[str, int]
    fds: dict[str, int]


@dataclass
class Sampler:
    """Samples `processes()` (name -> pid, looked up at every sample: a restarted stub is followed)
    every `interval` seconds in a thread."""

    processes: Callable[[], dict[str, int]]
    interval: float
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: float = field(default_factory=time.monotonic)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def stop(self) -> list[Sample]:
        self._stop.set()
        return self.samples

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, fds = {}, {}
            for name, pid in self.processes().items():
                if (memory := rss_bytes(pid)) is not None:
                    rss[name] = memory
                if (count := open_fds(pid)) is not None:
                    fds[name] = count
            self.samples.append(Sample(time.monotonic() - self._started, rss, fds))
            self._stop.wait(self.interval)


def growth(samples: list[Sample], duration: float) -> dict[str, dict[str, float]]:
    """Per process: median RSS (MB) and open fds in the second quarter of the run and in the last,
    and the growth between them in percent (the first quarter is warm-up)."""
    second = [s for s in samples if duration / 4 <= s.at < duration / 2]
    last = [s for s in samples if s.at >= duration * 3 / 4]
    report: dict[str, dict[str, float]] = {}
    names = {name for s in samples for name in s.rss}
    for name in sorted(names):
        early = [s.rss[name] for s in second if name in s.rss]
        late = [s.rss[name] for s in last if name in s.rss]
        early_fds = [s.fds[name] for s in second if name in s.fds]
        late_fds = [s.fds[name] for s in last if name in s.fds]
        if not early or not late:
            continue
        before, after = statistics.median(early), statistics.median(late)
        report[name] = {
            "rss_mb_second_quarter": round(before / 2**20, 1),
            "rss_mb_last_quarter": round(after / 2**20, 1),
            "rss_growth_percent": round(100 * (after - before) / before, 2),
            "rss_mb_peak": round(max(s.rss.get(name, 0) for s in samples) / 2**20, 1),
            "fds_second_quarter": statistics.median(early_fds) if early_fds else 0,
            "fds_last_quarter": statistics.median(late_fds) if late_fds else 0,
        }
    return report
