"""Joining segments: order, pauses, fades, exact length."""

from __future__ import annotations

import numpy as np

from api.audio.join import join_segments, joined_length


def test_length_is_the_segments_plus_the_pauses_and_order_is_kept() -> None:
    rate = 1000
    a, b, c = np.full(300, 0.5, np.float32), np.full(200, -0.5, np.float32), np.full(100, 0.25, np.float32)
    track = join_segments([a, b, c], rate, pause_seconds=0.05, fade_seconds=0.01)
    assert track.size == 600 + 2 * 50 == joined_length([300, 200, 100], rate, pause_seconds=0.05)
    assert track[150] == 0.5 and np.all(track[300:350] == 0) and track[450] == -0.5 and track[-50] == 0.25
    # faded edges: silent at the cut, full level past the fade
    assert track[0] == 0 and abs(track[299]) < 0.01 and track[20] == 0.5


def test_one_segment_is_returned_untouched() -> None:
    audio = np.linspace(-1, 1, 50, dtype=np.float32)
    assert np.array_equal(join_segments([audio], 24000, pause_seconds=0.3, fade_seconds=0.01), audio)
    assert join_segments([], 24000, pause_seconds=0.3, fade_seconds=0.01).size == 0
