"""The continuous-batching runner: rows join and leave the running batch at every decoding step.

Each step the batch (`step.batch`: the counter engine by default, the package-exact reference on
request) makes one frame per row: the code predictor fills in codebooks 1..G-1, the talker
advances one token and each row samples its next codebook-0 token with its own settings. A row
that samples EOS or reaches its own limit leaves at once (its audio is decoded and sent); requests
that arrived during a step are prefilled together before the next one. Streaming rows get audio
chunks on a schedule (2, 4, then 8 frames by default), each decoded with left context.
"""

from __future__ import annotations

import itertools
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import torch

from tts_engine.clone.prompt import to_prompt_item
from tts_engine.codec.worker import CodecWorker, DecodeJob
from tts_engine.config import Variant
from tts_engine.errors import RequestError
from tts_engine.requests import SynthesisRequest
from tts_engine.scheduling.clone_batching import build_prompt_items, prepare, synthesize_clone
from tts_engine.scheduling.engine import Engine
from tts_engine.scheduling.loop import LoopRunner, Submission
from tts_engine.step.batch import Batch, RowStart, compact
from tts_engine.step.graphs import backend_for
from tts_engine.step.prefix import Prefix, build_prefix
from tts_engine.step.sampling import RowSampling
from tts_engine.step.weights import release_fused_sources

log = logging.getLogger(__name__)

TEXT_BOUND_FLOOR_FRAMES = 100
"""Frames (8 s) every row may produce whatever its text's length."""

CANCEL_CHECK_STEPS = 8
"""Steps between cancellation checks (each is a call into Triton's stub)."""

DEFAULT_CHUNK_SCHEDULE = (2, 4, 8)


@dataclass
class Row:
    submission: Submission
    prefix: Prefix
    max_new_tokens: int
    sampled: int = 1
    frames: list[list[int]] = field(default_factory=list)
    streamed: int = 0
    """Frames already sent as chunks."""
    chunks: int = 0


def row_settings(merged: dict[str, Any]) -> tuple[RowSampling, RowSampling, int]:
    """Talker and code-predictor sampling, and max_new_tokens, from the package's merged kwargs."""
    talker = RowSampling(
        do_sample=bool(merged["do_sample"]),
        temperature=float(merged["temperature"]),
        top_k=int(merged["top_k"]),
        top_p=float(merged["top_p"]),
        repetition_penalty=float(merged["repetition_penalty"]),
    )
    predictor = RowSampling(
        do_sample=bool(merged["subtalker_dosample"]),
        temperature=float(merged["subtalker_temperature"]),
        top_k=int(merged["subtalker_top_k"]),
        top_p=float(merged["subtalker_top_p"]),
    )
    return talker, predictor, int(merged["max_new_tokens"])


def new_batch(
    tts: Any, *, sampler: str, max_rows: int, positions: int, graphs: str = "off", release: bool = False
) -> Batch:
    """`graphs`: `QWEN_TTS_CUDA_GRAPHS` (the counter engine's steps only: the reference engine's
    per-row generators cannot be captured). `release`: the counter engine frees the package's
    copies of the weights it holds fused (`weights.release_fused_sources`): serving never runs the
    package's forward, but a test that compares against it on the same model does."""
    if sampler == "reference":
        from tts_engine.step.reference_batch import ReferenceBatch

        return ReferenceBatch(tts, max_rows=max_rows)
    from tts_engine.step.counter_batch import CounterBatch

    backend = backend_for(graphs, tts.model.talker.device)
    batch = CounterBatch(tts.model.talker, max_rows=max_rows, positions=positions, graphs=backend)
    if release:
        freed = release_fused_sources(tts.model.talker, (batch.model.talker, batch.model.predictor))
        log.info("released %.1f MiB of the package's weights (the counter step holds them fused)", freed / 2**20)
    talker, predictor, _ = row_settings(tts._merge_generate_kwargs())
    batch.warm_up(talker, predictor)  # captures every row bucket now, not in the first requests
    return batch


class StepRunner(LoopRunner):
    def __init__(
        self,
        engine: Engine,
        *,
        max_rows: int,
        chunk_schedule: tuple[int, ...] = DEFAULT_CHUNK_SCHEDULE,
        frames_per_text_token: int = 0,
        sampler: str = "counter",
        max_positions: int = 4096,
        graphs: str = "off",
        codec_graphs: str = "off",
        codec_process: bool = False,
        release_package_weights: bool = False,
    ) -> None:
        self._engine = engine
        self._frames_per_token = frames_per_text_token
        tts: Any = engine.model
        self._tts = tts
        self.max_rows = max_rows
        self._schedule = chunk_schedule
        self._batch = new_batch(
            tts,
            sampler=sampler,
            max_rows=max_rows,
            positions=max_positions,
            graphs=graphs,
            release=release_package_weights,
        )
        self._rows: list[Row] = []
        self._steps = 0
        self._serials = itertools.count()
        self._cpu = tts.model.talker.device.type == "cpu"
        self._loop_threads_set = False
        self._codec = CodecWorker(self._tts, graphs=codec_graphs, process=codec_process)

    def graphs(self) -> tuple[int, int]:
        graphs = getattr(self._batch, "graphs", None)  # the counter engine's; the reference one has none
        return (len(graphs.captured()), graphs.fallbacks) if graphs is not None else (0, 0)

    @property
    def codec(self) -> CodecWorker:
        """The codec thread (its `busy_seconds` and `calls` are read by the benchmarks)."""
        return self._codec

    def flush(self) -> None:
        """Wait until every row that left the batch has been decoded and answered."""
        self._codec.flush()

    def close(self) -> None:
        self._codec.close()
        self._batch.close()

    def active(self) -> int:
        return len(self._rows)

    # --- admission -------------------------------------------------------------------------
    def prepare(self, submission: Submission) -> Submission | None:
        """On the preparing thread: the work that can take longer than many steps, a voice-clone
        prompt from reference audio (its encoders are large tensor ops, which run alongside the
        steps); a prompt-only request is answered here. The prefix is built at admission, on the
        loop thread: it is mostly Python, which two threads would only take turns at (the GIL),
        slowing the steps more than it costs them."""
        request = submission.request
        if request.prompt_only:  # builds a clone prompt: no decoding loop
            submission.sink.finish(synthesize_clone(self._tts, [request])[0])
            return None
        if self._engine.variant is Variant.VOICE_CLONE and request.prompt is None:
            try:
                with torch.no_grad():
                    submission.prepared = self._prompt_item(request)
            except Exception as exc:
                _fail(submission, exc, "request could not start")
                return None
        return submission

    def admit(self, submissions: list[Submission]) -> None:
        """Start every submission: each prefix is built by the package (one by one), then all are
        prefilled together."""
        starts: list[tuple[Row, RowStart]] = []
        for submission in submissions:
            if submission.request.prompt_only:  # admitted without being prepared: answered now
                self.prepare(submission)
                continue
            try:
                starts.append(self._start(submission))
            except Exception as exc:
                _fail(submission, exc, "request could not start")
        if not starts:
            return
        try:
            with torch.no_grad():
                self._batch.admit([start for _, start in starts])
        except Exception as exc:
            for row, _ in starts:
                _fail(row.submission, exc, "prefill failed")
            return
        self._rows += [row for row, _ in starts]

    def _start(self, submission: Submission) -> tuple[Row, RowStart]:
        request = submission.request
        with torch.no_grad():
            item = submission.prepared if submission.prepared is not None else self._prompt_item(request)
            prefix = build_prefix(self._tts, self._engine.variant, request, item)
        merged = self._tts._merge_generate_kwargs(**request.sampling.generate_kwargs())
        talker, predictor, max_new = row_settings(merged)
        room = self._batch.room(prefix.embeds.shape[1])
        if room < 1:
            raise RequestError("the prompt is longer than the engine's QWEN_TTS_MAX_POSITIONS")
        max_new = min(max_new, self._text_bound(request.text), room + 1)
        seed = request.sampling.seed if request.sampling.seed is not None else random.getrandbits(63)
        start = RowStart(next(self._serials), prefix, talker, predictor, seed, max_new)
        return Row(submission, prefix, max_new), start

    def _text_bound(self, text: str) -> int:
        """Tokens a row may sample given its text (see EngineConfig.max_frames_per_text_token)."""
        if not self._frames_per_token:
            return 2**31
        tokens = int(self._tts.processor(text=text, return_tensors="pt")["input_ids"].shape[-1])
        return TEXT_BOUND_FLOOR_FRAMES + self._frames_per_token * tokens

    def _prompt_item(self, request: SynthesisRequest) -> Any:
        if self._engine.variant is not Variant.VOICE_CLONE:
            return None
        if request.prompt is not None:
            return to_prompt_item(request.prompt, request.ref_text)
        prepared = prepare(request)
        if isinstance(prepared, Exception):
            raise prepared
        return build_prompt_items(self._tts, [prepared])[0]

    # --- one decoding step -----------------------------------------------------------------
    def step(self) -> None:
        if self._cpu and not self._loop_threads_set:
            # Per thread in torch: the loop's small ops run fastest on one thread, which leaves the
            # other cores to the codec thread working alongside it.
            torch.set_num_threads(1)
            self._loop_threads_set = True
        try:
            values = self._batch.step()
        except Exception as exc:
            log.exception("decoding step failed; failing the %d rows of the batch", len(self._rows))
            for row in self._rows:
                row.submission.sink.finish(RuntimeError(f"generation failed: {type(exc).__name__}"))
            self._rows = []
            self._batch.reset()
            return
        groups, eos = self._batch.groups, self._batch.eos
        done: list[int] = []
        for index, (row, row_values) in enumerate(zip(self._rows, values, strict=True)):
            row.frames.append(row_values[:groups])
            row.sampled += 1
            if row_values[groups] == eos or row.sampled >= row.max_new_tokens:
                done.append(index)
        self._steps += 1
        self.frames_done += len(self._rows)
        if self._steps % CANCEL_CHECK_STEPS == 0:
            done = sorted(set(done) | {i for i, row in enumerate(self._rows) if row.submission.cancelled()})
        leaving = set(done)
        self._stream([row for i, row in enumerate(self._rows) if i not in leaving])
        self._finish(done)

    def _stream(self, rows: list[Row]) -> None:
        for row in rows:
            size = self._schedule[min(row.chunks, len(self._schedule) - 1)]
            if row.submission.sink.stream and len(row.frames) - row.streamed >= size:
                piece = (row.prefix.ref_code, list(row.frames), row.streamed)
                self._codec.submit(DecodeJob(row.submission.sink, piece, final=False))
                row.streamed = len(row.frames)
                row.chunks += 1

    def _finish(self, done: list[int]) -> None:
        """Rows that sampled EOS, reached their limit or were cancelled leave the batch now; their
        audio is decoded by the codec worker while the loop goes on."""
        for index in done:
            row = self._rows[index]
            if row.submission.cancelled():
                row.submission.sink.finish(RuntimeError("cancelled"))
                continue
            start = row.streamed if row.submission.sink.stream else 0
            self._codec.submit(
                DecodeJob(row.submission.sink, (row.prefix.ref_code, list(row.frames), start), final=True)
            )
        if done:
            self._batch.remove(done)
            compact(self._rows, done)


def _fail(submission: Submission, exc: Exception, what: str) -> None:
    log.warning("%s: %s", what, exc)
    submission.sink.finish(
        exc if isinstance(exc, RequestError) else RuntimeError(f"generation failed: {type(exc).__name__}")
    )
