"""Speech codes to audio with the package's speech tokenizer, batched over rows.

- A whole row (`start` 0) is decoded exactly as the package's `generate_*` decodes it: voice-clone
  ICL reference codes in front as context, then that part of the audio cut off.
- A streamed piece (`start` > 0 frames already sent) is decoded with up to `LEFT_CONTEXT_FRAMES`
  earlier frames in front (the reference codes count as earlier frames), whose samples are then
  dropped. The codec decoder is causal with a 72-frame attention window: with that much context a
  chunk matches the same span of a whole-row decode closely (public servers found 25 frames too
  few: audible joins).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

LEFT_CONTEXT_FRAMES = 72

Piece = tuple[torch.Tensor | None, Sequence[Sequence[int]], int]
"""(ICL reference codes [R, G] or None, the row's frames (G codes each), first frame to decode)."""


def _history(piece: Piece) -> tuple[torch.Tensor, int]:
    """The row's codes with its reference in front, and where its own frames begin."""
    ref_code, frames, _ = piece
    codes = torch.tensor(list(frames), dtype=torch.long)
    if ref_code is None:
        return codes, 0
    return torch.cat([ref_code.to(codes.device), codes]), int(ref_code.shape[0])


def codec_batch_rows(device: Any) -> int:
    """Rows per codec call. On the CPU, 39 frames decoded in about 20 ms per row in calls of 8 rows
    and about 30 ms per row in one call of 32 (the 24 kHz activations of a big batch fall out of
    cache; tiny real-shape codec, 2 cores); on a GPU one big call keeps it busy (at batch 1 the
    codec was a published bottleneck)."""
    return 32 if torch.device(device).type == "cuda" else 8


def _decode(tts: Any, codes: list[torch.Tensor]) -> list[np.ndarray]:
    rows = codec_batch_rows(tts.model.device)
    out: list[np.ndarray] = []
    for start in range(0, len(codes), rows):
        wavs, _ = tts.model.speech_tokenizer.decode([{"audio_codes": c} for c in codes[start : start + rows]])
        out += [np.asarray(w, dtype=np.float32).reshape(-1) for w in wavs]
    return out


def decode_final(tts: Any, pieces: Sequence[Piece]) -> list[np.ndarray]:
    """The audio each row still owes its client: all of it, or what follows its streamed chunks."""
    whole = [i for i, piece in enumerate(pieces) if piece[2] == 0]
    out: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(pieces)
    if whole:
        histories = [_history(pieces[i]) for i in whole]
        for i, (codes, offset), wav in zip(whole, histories, _decode(tts, [h[0] for h in histories]), strict=True):
            # the package's own cut: the reference's share of the samples
            out[i] = wav[int(offset / max(codes.shape[0], 1) * wav.shape[0]) :] if offset else wav
    rest = [i for i, piece in enumerate(pieces) if piece[2] > 0 and len(piece[1]) > piece[2]]
    for i, chunk in zip(rest, decode_chunks(tts, [pieces[i] for i in rest]), strict=True):
        out[i] = chunk
    return out


def decode_chunks(tts: Any, pieces: Sequence[Piece]) -> list[np.ndarray]:
    """Each row's frames from `start` on, decoded with left context, context samples dropped."""
    if not pieces:
        return []
    spans = []
    for piece in pieces:
        codes, offset = _history(piece)
        begin = offset + piece[2]
        left = min(LEFT_CONTEXT_FRAMES, begin)
        spans.append((codes[begin - left :], left))
    wavs = _decode(tts, [codes for codes, _ in spans])
    chunks = []
    for (codes, left), wav in zip(spans, wavs, strict=True):
        per_frame = wav.shape[0] // max(codes.shape[0], 1)
        chunks.append(wav[left * per_frame :])
    return chunks
