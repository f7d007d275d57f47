"""Speech codes to audio with the package's speech tokenizer, batched over rows.

- A whole row (`start` 0) is decoded exactly as the package's `generate_*` decodes it: voice-clone
  ICL reference codes in front as context, then that part of the audio cut off.
- A streamed piece (`start` > 0 frames already sent) is decoded with up to `LEFT_CONTEXT_FRAMES`
  earlier frames in front (the reference codes count as earlier frames), whose samples are then
  dropped. The codec decoder is causal with a 72-frame attention window: with that much context a
  chunk matches the same span of a whole-row decode closely (public servers found 25 frames too
  few: audible joins).

Whole rows and streamed pieces share codec calls: every piece becomes a span of codes, the spans
are grouped by length bucket (`FRAME_BUCKETS`, so a call pads its rows to similar lengths, not to
the longest of the lot) and each group is decoded in calls of up to `codec_batch_rows` rows. The
decoder is causal, so a row's padding never changes its samples (the package trims each row).
The codec worker picks its calls one at a time, shortest first (`next_call`), within a frame
budget per call (`codec_call_frames`), so a short request never waits behind long rows' decodes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tts_engine.codec.graphed import FRAME_BUCKETS as GRAPH_FRAME_BUCKETS
from tts_engine.codec.graphed import CodecGraphs

LEFT_CONTEXT_FRAMES = 72

FRAME_BUCKETS = (*GRAPH_FRAME_BUCKETS, 384, 512, 768, 1024, 1536, 2048)
"""Span lengths (frames) that share a call: a streamed chunk with its context (72 + 8) falls in 96."""

Piece = tuple[torch.Tensor | None, Sequence[Any], int]
"""(ICL reference codes [R, G] or None, the row's frames (G codes each), first frame to decode)."""


@dataclass(frozen=True)
class Span:
    codes: torch.Tensor
    """[T, G] what the codec decodes: context frames, then the frames owed."""
    context: int
    """Frames in front whose samples are dropped (a streamed piece's left context)."""
    reference: int
    """ICL reference frames in front of a whole row (cut the package's way)."""


def _codes(frames: Sequence[Any]) -> torch.Tensor:
    rows = list(frames)
    if rows and isinstance(rows[0], torch.Tensor):
        return torch.stack(rows).cpu()
    return torch.tensor(rows, dtype=torch.long)


def _reference_frames(piece: Piece) -> int:
    return 0 if piece[0] is None else int(piece[0].shape[0])


def _window(piece: Piece) -> tuple[int, int, int] | None:
    """Where `piece`'s span lies in its row's history (reference codes, then the row's frames):
    (first frame decoded, context frames whose samples are dropped, reference frames cut the
    package's way); None when it owes no audio (a final piece after its last chunk)."""
    _, frames, start = piece
    offset = _reference_frames(piece)
    if start == 0:
        return 0, 0, offset
    if len(frames) <= start:
        return None
    begin = offset + start
    left = min(LEFT_CONTEXT_FRAMES, begin)
    return begin - left, left, 0


def span(piece: Piece) -> Span | None:
    """What decoding `piece` takes; None when it owes no audio."""
    window = _window(piece)
    if window is None:
        return None
    first, context, reference = window
    ref_code, frames, _ = piece
    offset = _reference_frames(piece)
    # only the frames the span decodes become a tensor: a streamed piece of a long row would
    # otherwise convert the row's whole history (Python lists) for every chunk
    codes = _codes(frames[max(first - offset, 0) :])
    if ref_code is not None and first < offset:
        codes = torch.cat([ref_code[first:].to(codes.device), codes])
    return Span(codes, context, reference)


def span_frames(piece: Piece) -> int:
    """Frames `span(piece)` decodes (0: none), without building it."""
    window = _window(piece)
    return 0 if window is None else _reference_frames(piece) + len(piece[1]) - window[0]


def codec_batch_rows(device: Any) -> int:
    """Rows per codec call. On the CPU, 39 frames decoded in about 20 ms per row in calls of 8 rows
    and about 30 ms per row in one call of 32 (the 24 kHz activations of a big batch fall out of
    cache; tiny real-shape codec, 2 cores); on a GPU one big call keeps it busy (at batch 1 the
    codec was a published bottleneck)."""
    return 32 if torch.device(device).type == "cuda" else 8


def codec_call_frames(device: Any) -> int:
    """Frames one codec call decodes at most (rows x frame bucket; a longer span still gets a call
    of its own). Bounds how long a short request's audio can wait for the call before it: on the
    CPU 768 frames (8 streamed chunks with context, or one 400-frame row) take 50-80 ms; a GPU
    decodes a full call of `codec_batch_rows` rows in a few milliseconds."""
    return 32 * 512 if torch.device(device).type == "cuda" else 768


def frame_bucket(frames: int) -> int:
    """The bucket of a span this long (spans longer than the last bucket share the last one)."""
    return FRAME_BUCKETS[min(bisect.bisect_left(FRAME_BUCKETS, frames), len(FRAME_BUCKETS) - 1)]


def calls(spans: Sequence[Span], rows: int) -> list[list[int]]:
    """Indices of `spans` per codec call: same length bucket, at most `rows` each, shortest first."""
    order = sorted(range(len(spans)), key=lambda i: spans[i].codes.shape[0])
    groups: dict[int, list[int]] = {}
    for index in order:
        groups.setdefault(frame_bucket(spans[index].codes.shape[0]), []).append(index)
    return [group[i : i + rows] for group in groups.values() for i in range(0, len(group), rows)]


def next_call(spans: Sequence[Span | None], ready: Sequence[bool], rows: int, frames: int) -> list[int]:
    """The worker's next codec call, as indices of `spans`: the shortest ready span, then the
    shortest other ready spans of its length bucket while the call holds at most `rows` rows and
    `frames` frames (rows x bucket; the first is always taken). A span that is not ready (an
    earlier piece of its row is still pending) or owes nothing (None) is not taken. [] when none is."""
    order = sorted((i for i, s in enumerate(spans) if s is not None and ready[i]), key=lambda i: _length(spans[i]))
    if not order:
        return []
    bucket = frame_bucket(_length(spans[order[0]]))
    most = max(1, min(rows, frames // bucket))
    return [i for i in order if frame_bucket(_length(spans[i])) == bucket][:most]


def _length(span: Span | None) -> int:
    return span.codes.shape[0] if span is not None else 0


def _audio(span: Span, wav: np.ndarray) -> np.ndarray:
    frames = max(span.codes.shape[0], 1)
    if span.context:
        return wav[span.context * (wav.shape[0] // frames) :]
    if span.reference:  # the package's own cut: the reference's share of the samples
        return wav[int(span.reference / frames * wav.shape[0]) :]
    return wav


def decode_pieces(tts: Any, pieces: Sequence[Piece], graphs: CodecGraphs | None = None) -> list[np.ndarray]:
    """The audio each piece owes its client (float32, 24 kHz): whole rows and streamed pieces alike.
    A call that fits a codec graph's bucket replays it (`graphed`), the rest take the package's path."""
    out: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(pieces)
    owed = [(i, s) for i, s in ((i, span(p)) for i, p in enumerate(pieces)) if s is not None]
    spans = [s for _, s in owed]
    for call in calls(spans, codec_batch_rows(tts.model.device)):
        for index, wav in zip(call, decode_spans(tts, [spans[i] for i in call], graphs), strict=True):
            out[owed[index][0]] = wav
    return out


def decode_spans(tts: Any, spans: Sequence[Span], graphs: CodecGraphs | None = None) -> list[np.ndarray]:
    """One codec call: the audio each span owes (a call that fits a codec graph's bucket replays it)."""
    return owed_audio(spans, decode_codes(tts.model.speech_tokenizer, [span.codes for span in spans], graphs))


def decode_codes(codec: Any, codes: list[torch.Tensor], graphs: CodecGraphs | None = None) -> list[Any]:
    """One codec call on the package's speech tokenizer: each row's whole audio, from its codes [T, G]."""
    if graphs is not None and graphs.takes([c.shape[0] for c in codes]):
        return list(graphs.decode(codes))
    wavs, _ = codec.decode([{"audio_codes": c} for c in codes])
    return list(wavs)


def owed_audio(spans: Sequence[Span], wavs: Sequence[Any]) -> list[np.ndarray]:
    """What each span owes its client of its decoded audio (context or reference samples cut off)."""
    return [_audio(span, np.asarray(wav, dtype=np.float32).reshape(-1)) for span, wav in zip(spans, wavs, strict=True)]
