"""Codec batching on the real tiny codec: whole rows and streamed pieces share calls grouped by
length bucket, and every piece gets exactly the audio it gets decoded alone (to float rounding)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch

from tts_engine.codec.graphed import CodecGraphs
from tts_engine.codec.stream import (
    FRAME_BUCKETS,
    LEFT_CONTEXT_FRAMES,
    Piece,
    Span,
    calls,
    decode_pieces,
    frame_bucket,
    next_call,
    span,
    span_frames,
)
from tts_engine.codec.worker import CodecWorker, DecodeJob
from tts_engine.step.graph_record import RecordingBackend

SAMPLES = 1920


def frames(tts: Any, count: int, seed: int) -> list[list[int]]:
    config = tts.model.speech_tokenizer.model.config.decoder_config
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.codebook_size, (count, config.num_quantizers), generator=g).tolist()


class CountingCodec:
    """Counts the codec's calls and the rows of each."""

    def __init__(self, tts: Any) -> None:
        self.codec, self.lock = tts.model.speech_tokenizer, threading.Lock()
        self.rows: list[list[int]] = []

    def __enter__(self) -> CountingCodec:
        original = self.codec.decode

        def decode(encoded: list[dict[str, torch.Tensor]]) -> Any:
            with self.lock:
                self.rows.append([item["audio_codes"].shape[0] for item in encoded])
            return original(encoded)

        self.codec.decode = decode
        return self

    def __exit__(self, *exc: object) -> None:
        del self.codec.decode


def test_spans_share_calls_by_length_bucket_and_row_limit() -> None:
    def spans(*lengths: int) -> list[Span]:
        return [Span(torch.zeros(n, 2, dtype=torch.long), 0, 0) for n in lengths]

    assert [frame_bucket(n) for n in (1, 16, 17, 80, 96, 97, 5000)] == [16, 16, 32, 96, 96, 128, FRAME_BUCKETS[-1]]
    grouped = calls(spans(80, 10, 90, 12, 300, 85, 81), rows=2)
    assert grouped == [[1, 3], [0, 6], [5, 2], [4]]


def test_the_next_call_takes_the_shortest_ready_spans_of_one_bucket_within_the_budget() -> None:
    def spans(*lengths: int) -> list[Span | None]:
        return [Span(torch.zeros(n, 2, dtype=torch.long), 0, 0) if n else None for n in lengths]

    queued = spans(400, 90, 0, 12, 85, 10, 81)
    ready = [True, True, True, True, True, False, True]  # 5: an earlier piece of its row is pending
    assert next_call(queued, ready, rows=8, frames=768) == [3]  # 10 is not ready; 0 owes nothing
    queued[3] = None
    assert next_call(queued, ready, rows=8, frames=768) == [6, 4, 1]  # the 96 bucket, shortest first
    assert next_call(queued, ready, rows=2, frames=768) == [6, 4]
    assert next_call(queued, ready, rows=8, frames=200) == [6, 4]  # 2 x 96 frames fit, 3 do not
    assert next_call(spans(400, 410), [True, True], rows=8, frames=768) == [0]  # 512 each: one a call
    assert next_call(spans(3000), [True], rows=8, frames=768) == [0]  # longer than the budget: alone
    assert next_call(spans(12, 0), [False, True], rows=8, frames=768) == []


def test_whole_rows_and_streamed_pieces_decode_together_as_they_would_alone(tts: Any) -> None:
    reference = torch.tensor(frames(tts, 6, 99))
    long_row = frames(tts, 40, 1)
    pieces: list[Piece] = [
        (None, frames(tts, 12, 2), 0),  # a whole row
        (None, long_row, 36),  # a streamed chunk: 36 frames of context, 4 owed
        (reference, frames(tts, 20, 3), 0),  # a whole ICL row: the reference's audio cut off
        (None, frames(tts, 30, 4), 30),  # a final piece after its last chunk: owes nothing
        (reference, frames(tts, 9, 5), 4),  # a chunk whose context reaches into the reference
        (None, frames(tts, 15, 6), 0),
    ]
    for piece in pieces:
        decoded = span(piece)
        assert span_frames(piece) == (decoded.codes.shape[0] if decoded is not None else 0)
    with CountingCodec(tts) as counted:
        together = decode_pieces(tts, pieces)
    alone = [decode_pieces(tts, [piece])[0] for piece in pieces]
    assert counted.rows == [[12, 15, 15], [26], [40]], "spans of one length bucket share a call"
    owed = [12, 4, 20, 0, 5, 15]
    for got, want, count in zip(together, alone, owed, strict=True):
        assert got.shape == want.shape == (count * SAMPLES,)
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_span_is_its_window_of_the_rows_history_and_only_that_is_converted() -> None:
    """A streamed piece decodes its left context and the frames it owes: the window of the row's
    history (reference codes, then its frames), converting no frame outside it."""

    class Frames(list[list[int]]):
        read: set[int] = set()

        def __getitem__(self, index: Any) -> Any:
            picked = super().__getitem__(index)
            rows = range(len(self))[index] if isinstance(index, slice) else [index]
            Frames.read.update(rows)
            return Frames(picked) if isinstance(index, slice) else picked

    reference = torch.arange(12 * 3).view(12, 3)
    row = Frames([[i, i, i] for i in range(1000, 1300)])
    for ref, start in ((None, 290), (reference, 290), (reference, 40), (None, 0)):
        Frames.read = set()
        got = span((ref, row, start))
        assert got is not None
        offset = 0 if ref is None else 12
        whole = torch.tensor(list(row)) if ref is None else torch.cat([ref, torch.tensor(list(row))])
        first = 0 if start == 0 else max(offset + start - LEFT_CONTEXT_FRAMES, 0)
        assert torch.equal(got.codes, whole[first:])
        if start:
            assert got.context == offset + start - first
            assert Frames.read and min(Frames.read) >= max(first - offset, 0), "frames outside the window read"


class Sent(list[tuple[int, str, int]]):
    """What the worker sent: (row, "chunk" or "final", samples), in order."""

    def sink(self, index: int, *, stream: bool = False) -> Any:
        sent = self

        class Sink:
            def __init__(self) -> None:
                self.stream = stream

            def chunk(self, audio: np.ndarray) -> None:
                sent.append((index, "chunk", audio.size))

            def finish(self, outcome: Any) -> None:
                sent.append((index, "final", outcome.size))

        return Sink()


class HeldCodec(CountingCodec):
    """Holds each codec call that decodes a span of one of `held` lengths until `release(length)`."""

    def __init__(self, tts: Any, *held: int) -> None:
        super().__init__(tts)
        self.entered = {length: threading.Event() for length in held}
        self.gates = {length: threading.Event() for length in held}

    def __enter__(self) -> HeldCodec:
        super().__enter__()
        counting = self.codec.decode

        def held(encoded: list[dict[str, torch.Tensor]]) -> Any:
            for length in (item["audio_codes"].shape[0] for item in encoded):
                if length in self.gates:
                    self.entered[length].set()
                    assert self.gates[length].wait(30)
            return counting(encoded)

        self.codec.decode = held
        return self

    def release(self, length: int) -> None:
        self.gates[length].set()


def queued_behind_a_call(tts: Any, jobs: list[DecodeJob], sent: Sent) -> tuple[CodecWorker, list[list[int]]]:
    """The worker decodes a 3-frame row (row -1) while `jobs` queue up, then decodes them; it and
    the rows of each codec call."""
    worker = CodecWorker(tts)
    try:
        with HeldCodec(tts, 3) as codec:
            worker.submit(DecodeJob(sent.sink(-1), (None, frames(tts, 3, 0), 0), final=True))
            assert codec.entered[3].wait(30)  # the worker is busy: what follows queues up meanwhile
            for job in jobs:
                worker.submit(job)
            codec.release(3)
            worker.flush()
    finally:
        worker.close()
    return worker, codec.rows


def test_the_worker_decodes_what_is_queued_in_shared_calls_chunks_before_finals(tts: Any) -> None:
    sent, row = Sent(), frames(tts, 8, 7)
    stream = sent.sink(0, stream=True)
    jobs = [
        DecodeJob(stream, (None, row, 4), final=False),
        DecodeJob(stream, (None, row, 8), final=True),
        DecodeJob(sent.sink(1), (None, frames(tts, 10, 8), 0), final=True),
    ]
    worker, calls = queued_behind_a_call(tts, jobs, sent)
    assert sent == [(-1, "final", 3 * SAMPLES), (0, "chunk", 4 * SAMPLES), (0, "final", 0), (1, "final", 10 * SAMPLES)]
    assert calls == [[3], [8, 10]], "the chunk and the finished row shared the second call"
    assert worker.calls == 2 and worker.busy_seconds > 0


def test_short_pieces_go_first_and_never_wait_for_a_long_rows_decode(tts: Any) -> None:
    sent, streamed = Sent(), frames(tts, 90, 2)
    stream = sent.sink(2, stream=True)
    worker = CodecWorker(tts)
    try:
        with HeldCodec(tts, 3, 200) as codec:
            worker.submit(DecodeJob(sent.sink(-1), (None, frames(tts, 3, 0), 0), final=True))
            worker.submit(DecodeJob(sent.sink(1), (None, frames(tts, 200, 1), 0), final=True))  # a long row
            assert codec.entered[3].wait(30) and codec.entered[200].wait(30)
            worker.submit(DecodeJob(stream, (None, streamed[:80], 76), final=False))  # 72 frames of context + 4
            worker.submit(DecodeJob(stream, (None, streamed, 80), final=True))  # 72 + 10
            worker.submit(DecodeJob(sent.sink(3), (None, frames(tts, 10, 3), 0), final=True))  # a short row
            codec.release(3)
            for _ in range(300):  # everything but the long row, while its decode is still held
                if len(sent) == 4:
                    break
                threading.Event().wait(0.1)
            order = [(-1, "final"), (3, "final"), (2, "chunk"), (2, "final")]
            assert [(row, kind) for row, kind, _ in sent] == order, "shortest first, a row's final after its chunk"
            codec.release(200)
            worker.flush()
    finally:
        worker.close()
    assert sent[-1] == (1, "final", 200 * SAMPLES)
    assert sorted(codec.rows) == [[3], [10], [76], [82], [200]]


def test_graphed_calls_decode_as_the_package_does_and_long_ones_take_its_path(tts: Any) -> None:
    """The decoder per (rows, frames) bucket through the CPU stand-in of CUDA graphs: the same audio
    as the package's decode (padding to the bucket changes nothing: the decoder is causal)."""
    graphs = CodecGraphs(tts.model.speech_tokenizer, RecordingBackend(), max_rows=8)
    pieces: list[Piece] = [(None, frames(tts, n, seed), 0) for seed, n in enumerate((5, 9, 12, 7, 11))]
    with CountingCodec(tts) as counted:
        for _ in range(3):  # warm-up, capture, replay of (8 rows, 16 frames)
            graphed = decode_pieces(tts, pieces, graphs)
    plain = decode_pieces(tts, pieces)
    assert counted.rows == [], "every call fitted a bucket: none took the package's path"
    assert graphs.graphs.captured() == [(8, 16)] and graphs.graphs.replays == 1
    for got, want in zip(graphed, plain, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4)
    assert not graphs.takes([300]) and not graphs.takes([4] * 9) and graphs.takes([256] * 8)
