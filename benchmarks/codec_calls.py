"""Codec calls timed eagerly (the package's decode) and replayed from graphs, per (rows, frames).

The shapes the engine sends: a stream's first chunk (2 frames with 72 of context), a later one (8
with 72), batches of those, and whole short rows. Each is timed over `repeats` calls after two
warm-up calls (the graphed path captures in those), the device synchronised around each call.
The ratio says where graphs pay (`QWEN_TTS_CODEC_GRAPHS`).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from tts_engine.codec.graphed import CodecGraphs
from tts_engine.step.graphs import backend_for

SHAPES = ((1, 74), (1, 80), (4, 80), (16, 80), (32, 80), (8, 160), (32, 256))
QUICK_SHAPES = ((1, 74), (4, 80))


def _time(call: Any, repeats: int, sync: Any) -> float:
    for _ in range(2):
        call()
    sync()
    started = time.perf_counter()
    for _ in range(repeats):
        call()
        sync()
    return 1000 * (time.perf_counter() - started) / repeats


def codec_calls(tts: Any, mode: str, shapes: tuple[tuple[int, int], ...], repeats: int) -> list[dict[str, Any]]:
    """ms per call at each (rows, frames), eager and graphed (`mode`: auto on a GPU, record on the CPU)."""
    codec = tts.model.speech_tokenizer
    device = torch.device(codec.device)
    backend = backend_for(mode, device)
    graphs = CodecGraphs(codec, backend, max_rows=max(rows for rows, _ in shapes))
    config = codec.model.config.decoder_config
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    results = []
    for rows, frames in shapes:
        codes = [torch.randint(0, config.codebook_size, (frames, config.num_quantizers)) for _ in range(rows)]
        eager = _time(lambda codes=codes: codec.decode([{"audio_codes": c} for c in codes]), repeats, sync)
        entry: dict[str, Any] = {"rows": rows, "frames": frames, "eager_ms": round(eager, 3)}
        if backend is not None and graphs.takes([frames] * rows):
            graphed = _time(lambda codes=codes: graphs.decode(codes), repeats, sync)
            entry.update(graphed_ms=round(graphed, 3), eager_over_graphed=round(eager / graphed, 2))
        results.append(entry)
    entry_fallbacks = graphs.graphs.fallbacks
    if entry_fallbacks:
        results.append({"graph_fallbacks": entry_fallbacks})
    return results
