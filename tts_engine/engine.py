"""One loaded Qwen3-TTS variant serving batches of raw requests: parse, check, batch, generate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tts_engine.batching import Outcome, TTSModel, check_supported, synthesize
from tts_engine.config import Variant
from tts_engine.requests import RequestError, SynthesisRequest, parse_request

TensorMap = Mapping[str, np.ndarray | None]


@dataclass
class Engine:
    model: TTSModel
    variant: Variant
    speakers: set[str] | None
    languages: set[str] | None

    @classmethod
    def for_model(cls, model: TTSModel, variant: Variant) -> Engine:
        speakers = model.get_supported_speakers() if variant is Variant.CUSTOM_VOICE else None
        languages = model.get_supported_languages()
        return cls(
            model=model,
            variant=variant,
            speakers=None if speakers is None else {s.lower() for s in speakers},
            languages=None if languages is None else {lang.lower() for lang in languages},
        )

    def parse(self, inputs: TensorMap) -> SynthesisRequest | Exception:
        try:
            request = parse_request(inputs, self.variant)
            check_supported(request, self.speakers, self.languages)
        except RequestError as exc:
            return exc
        return request

    def run(self, batch: Sequence[TensorMap]) -> list[Outcome]:
        """One outcome per request, in order: float32 audio at 24 kHz, or that request's error."""
        return synthesize(self.model, self.variant, [self.parse(inputs) for inputs in batch])
