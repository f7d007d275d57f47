"""The soak's memory figures (benchmarks/process_memory.py): growth is measured between the second
and the last quarter of the run, the first quarter being warm-up; /proc readings of a live process."""

from __future__ import annotations

import os

from benchmarks.process_memory import Sample, growth, open_fds, rss_bytes

MB = 2**20


def run(rss_mb: list[float], fds: list[int] | None = None) -> list[Sample]:
    """One sample a second of a process named "api"."""
    fds = fds or [10] * len(rss_mb)
    pairs = enumerate(zip(rss_mb, fds, strict=True))
    return [Sample(float(at), {"api": int(mb * MB)}, {"api": n}) for at, (mb, n) in pairs]


def test_warm_up_in_the_first_quarter_is_not_growth() -> None:
    samples = run([100, 300, 500, 500, 500, 500, 500, 500])  # 8 s: quarters of 2 s
    report = growth(samples, 8.0)["api"]
    assert (report["rss_mb_second_quarter"], report["rss_mb_last_quarter"]) == (500, 500)
    assert report["rss_growth_percent"] == 0 and report["rss_mb_peak"] == 500


def test_growth_is_last_quarter_median_over_second_quarter_median() -> None:
    samples = run([100, 100, 200, 200, 210, 210, 220, 220], fds=[5, 5, 6, 6, 6, 6, 9, 9])
    report = growth(samples, 8.0)["api"]
    assert report["rss_growth_percent"] == 10.0
    assert (report["fds_second_quarter"], report["fds_last_quarter"]) == (6, 9)


def test_a_process_missing_from_a_quarter_is_left_out() -> None:
    samples = run([100] * 8)
    for sample in samples[6:]:
        sample.rss.clear()  # it exited before the last quarter
    assert growth(samples, 8.0) == {}


def test_this_process_can_be_read() -> None:
    assert (rss_bytes(os.getpid()) or 0) > MB and (open_fds(os.getpid()) or 0) >= 3
    assert rss_bytes(2**22 + 12345) is None  # no such process
