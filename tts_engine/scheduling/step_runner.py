"""The continuous-batching runner: rows join and leave the running batch at every decoding step.

Each step: the code predictor fills in every row's frame, the talker advances every row by one
token, and each row samples its next codebook-0 token with its own settings and random stream.
A row that samples EOS or reaches its own max_new_tokens leaves at once (its audio is decoded and
sent); requests waiting in the loop's inbox take the free rows before the next step. Streaming
rows get an audio chunk every `chunk_frames` frames, decoded with left context.
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
from tts_engine.step.cache import INITIAL_CACHE_TOKENS
from tts_engine.step.model import TalkerOps
from tts_engine.step.noise import NoiseRow, NoiseSource, single_draw
from tts_engine.step.prefix import Prefix, build_prefix
from tts_engine.step.sampling import RowSampling, sample

log = logging.getLogger(__name__)

TEXT_BOUND_FLOOR_FRAMES = 100
"""Frames (8 s) every row may produce whatever its text's length."""

CANCEL_CHECK_STEPS = 8
"""Steps between cancellation checks (each is a call into Triton's stub)."""


@dataclass
class Row:
    serial: int
    """Unique for the runner's life: keys the row's noise drawn ahead (an id() could be reused by
    a row admitted after another one was freed, and take the dead row's noise)."""
    submission: Submission
    prefix: Prefix
    talker: RowSampling
    predictor: RowSampling
    max_new_tokens: int
    generator: torch.Generator
    seen: torch.Tensor
    past_hidden: torch.Tensor
    pending: int
    sampled: int = 1
    frames: list[torch.Tensor] = field(default_factory=list)
    streamed: int = 0
    """Frames already sent as chunks."""


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


class StepRunner(LoopRunner):
    def __init__(self, engine: Engine, *, max_rows: int, chunk_frames: int, frames_per_text_token: int = 0) -> None:
        self._engine = engine
        self._frames_per_token = frames_per_text_token
        self._tts: Any = engine.model
        self._ops = TalkerOps(self._tts)
        self._max_rows = max_rows
        self._chunk_frames = chunk_frames
        self._cache = self._ops.new_cache(max_rows)
        self._rows: list[Row] = []
        self._steps = 0
        self._serials = itertools.count()
        self._cpu = self._ops.device.type == "cpu"
        self._noise = NoiseSource(
            groups=self._ops.groups,
            predictor_vocab=self._ops.predictor_vocab,
            talker_vocab=self._ops.vocab,
            device=self._ops.device,
            ahead=self._cpu,
        )
        self._loop_threads_set = False
        self._codec = CodecWorker(self._tts)

    def flush(self) -> None:
        """Wait until every row that left the batch has been decoded and answered."""
        self._codec.flush()

    def close(self) -> None:
        self._codec.close()
        self._noise.close()

    def capacity(self) -> int:
        return self._max_rows - len(self._rows)

    def active(self) -> int:
        return len(self._rows)

    def busy(self) -> bool:
        return bool(self._rows)

    # --- admission -------------------------------------------------------------------------
    def admit(self, submissions: list[Submission]) -> None:
        for submission in submissions:
            if submission.request.prompt_only:  # builds a clone prompt: no decoding loop
                submission.sink.finish(synthesize_clone(self._tts, [submission.request])[0])
                continue
            try:
                row = self._start(submission)
            except Exception as exc:
                log.warning("request could not start: %s", exc)
                submission.sink.finish(
                    exc if isinstance(exc, RequestError) else RuntimeError(f"generation failed: {type(exc).__name__}")
                )
                continue
            self._rows.append(row)

    @torch.no_grad()
    def _start(self, submission: Submission) -> Row:
        request = submission.request
        prefix = build_prefix(self._tts, self._engine.variant, request, self._prompt_item(request))
        merged = self._tts._merge_generate_kwargs(**request.sampling.generate_kwargs())
        talker, predictor, max_new = row_settings(merged)
        max_new = min(max_new, self._text_bound(request.text))
        seed = request.sampling.seed if request.sampling.seed is not None else random.getrandbits(63)
        generator = torch.Generator(device=self._ops.device).manual_seed(seed)
        cache, hidden, logits = self._ops.prefill(prefix.embeds)
        seen = torch.zeros(self._ops.vocab, dtype=torch.bool, device=self._ops.device)
        scores = self._ops.process(logits, seen.unsqueeze(0), [talker], [0])
        # a greedy talker draws nothing: the generator stays where the package's would be
        noise = single_draw(generator, self._ops.vocab, self._ops.device) if talker.do_sample else scores
        first = int(sample(scores, [talker], noise)[0])
        seen[first] = True
        self._cache.add(cache)
        serial = next(self._serials)
        return Row(serial, submission, prefix, talker, predictor, max_new, generator, seen, hidden, first)

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
            # other cores to the noise and codec threads working alongside it.
            torch.set_num_threads(1)
            self._loop_threads_set = True
        try:
            with torch.no_grad():
                self._step()
        except Exception as exc:
            log.exception("decoding step failed; failing the %d rows of the batch", len(self._rows))
            for row in self._rows:
                row.submission.sink.finish(RuntimeError(f"generation failed: {type(exc).__name__}"))
            self._rows = []
            self._cache = self._ops.new_cache(self._max_rows)

    def _step(self) -> None:
        rows, ops = self._rows, self._ops
        first = torch.tensor([row.pending for row in rows], device=ops.device)
        talkers = [row.talker for row in rows]
        noise_rows = [_noise_row(row) for row in rows]
        noise = self._noise.take(noise_rows)
        # the next step's noise is drawn while this step computes (rows that finish now waste theirs)
        self._noise.draw_ahead(noise_rows)
        rest = ops.predict_codes(
            torch.cat([row.past_hidden for row in rows]), first, [row.predictor for row in rows], noise
        )
        text = torch.stack([_text_at(row) for row in rows])
        for index, row in enumerate(rows):
            row.frames.append(torch.cat((first[index : index + 1], rest[index])))
        hidden, logits = ops.decode(ops.frame_input(first, rest, text), self._cache)
        seen = torch.stack([row.seen for row in rows])
        scores = ops.process(logits, seen, [row.talker for row in rows], [row.sampled for row in rows])
        tokens = sample(scores, talkers, noise.talker()).tolist()
        done: list[int] = []
        for index, (row, token) in enumerate(zip(rows, tokens, strict=True)):
            row.past_hidden = hidden[index : index + 1]
            row.sampled += 1
            row.seen[token] = True
            row.pending = int(token)
            if token == ops.eos or row.sampled >= row.max_new_tokens:
                done.append(index)
        self._steps += 1
        self.frames_done += len(rows)
        if self._steps % CANCEL_CHECK_STEPS == 0:
            done = sorted(set(done) | {i for i, row in enumerate(rows) if row.submission.cancelled()})
        self._stream([row for i, row in enumerate(rows) if i not in done])
        self._finish(done)

    def _stream(self, rows: list[Row]) -> None:
        for row in rows:
            if row.submission.sink.stream and len(row.frames) - row.streamed >= self._chunk_frames:
                piece = (row.prefix.ref_code, list(row.frames), row.streamed)
                self._codec.submit(DecodeJob(row.submission.sink, piece, final=False))
                row.streamed = len(row.frames)

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
        for index in sorted(done, reverse=True):
            moved = self._cache.remove(index)
            if moved is not None:
                self._rows[index] = self._rows[moved]
            self._rows.pop()
        if not self._rows and self._cache.capacity > INITIAL_CACHE_TOKENS:
            # the cache grew for a long row: give the memory back once the batch is empty
            self._cache = self._ops.new_cache(self._max_rows)


def _noise_row(row: Row) -> NoiseRow:
    return NoiseRow(row.serial, row.predictor, row.talker, row.generator)


def _text_at(row: Row) -> torch.Tensor:
    step = len(row.frames)
    trailing = row.prefix.trailing_text
    return trailing[step] if step < trailing.shape[0] else row.prefix.pad
