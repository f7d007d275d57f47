"""The codec's decoder as step graphs: one capture per (rows, frames) bucket, replayed per call.

A call's rows are padded to a row bucket and their codes to a frame bucket (code 0 after a row's
end, as the package pads: the decoder is causal, so padding never changes a row's own samples)
in a static input of that bucket; the decoder runs on it eagerly the first time, is captured the
second and replayed after (`step.graphs`: a failed capture stays eager, counted). Spans longer
than the package's one-chunk length (300 frames) and calls of more rows than the largest bucket
take the package's own path. On a GPU this pays where launches dominate (a stream's first chunks,
few rows); `QWEN_TTS_CODEC_GRAPHS` (off by default until measured: `benchmarks/gpu_check.py`).
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
import torch

from tts_engine.step.graphs import GraphBackend, StepGraphs

ROW_BUCKETS = (1, 2, 4, 8, 16, 32)
FRAME_BUCKETS = (16, 32, 64, 96, 128, 192, 256)
"""At most the package's chunk (300 frames): a longer span is decoded in chunks, not one pass."""
SAMPLES_PER_FRAME = 1920


def _bucket(value: int, buckets: tuple[int, ...]) -> int | None:
    index = bisect.bisect_left(buckets, value)
    return buckets[index] if index < len(buckets) else None


class CodecGraphs:
    def __init__(self, codec: Any, backend: GraphBackend | None, *, max_rows: int) -> None:
        """`codec`: the package's speech tokenizer (`Qwen3TTSTokenizer`)."""
        self._decoder = codec.model.decoder
        self._device = codec.device
        self._rows = tuple(b for b in ROW_BUCKETS if b <= max_rows) or (1,)
        self._inputs: dict[tuple[int, int], torch.Tensor] = {}
        self.graphs = StepGraphs(backend, name="codec")

    def takes(self, lengths: list[int]) -> bool:
        """Whether a call of rows this long fits a bucket (else: the package's path)."""
        return (
            self.graphs.enabled
            and _bucket(len(lengths), self._rows) is not None
            and _bucket(max(lengths), FRAME_BUCKETS) is not None
        )

    @torch.no_grad()
    def decode(self, codes: list[torch.Tensor]) -> list[np.ndarray]:
        """Each row's audio (float32), from its codes [T, G] (rows and lengths as `takes` accepted)."""
        lengths = [int(c.shape[0]) for c in codes]
        rows, frames = _bucket(len(codes), self._rows), _bucket(max(lengths), FRAME_BUCKETS)
        assert rows is not None and frames is not None, "call `takes` first"
        key = (rows, frames)
        static = self._inputs.get(key)
        if static is None:
            groups = codes[0].shape[1]
            static = self._inputs[key] = torch.zeros(rows, groups, frames, dtype=torch.long, device=self._device)
        static.zero_()
        for row, row_codes in enumerate(codes):
            static[row, :, : row_codes.shape[0]] = row_codes.t().clamp(min=0).to(self._device)
        wav = self.graphs.run(key, lambda: self._decoder(static))  # [rows, 1, frames x 1920]
        host = wav[: len(codes), 0].to(torch.float32).cpu().numpy()
        return [host[row, : length * SAMPLES_PER_FRAME].copy() for row, length in enumerate(lengths)]
