"""One loaded Qwen3-TTS variant serving batches of raw requests: parse, check, batch, generate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tts_engine.clone.prompt import PromptSpec, check_prompt, prompt_spec
from tts_engine.config import Variant
from tts_engine.errors import RequestError
from tts_engine.requests import SynthesisRequest, parse_request
from tts_engine.scheduling.batching import Outcome, TTSModel, check_supported, synthesize
from tts_engine.scheduling.clone_batching import synthesize_clone

TensorMap = Mapping[str, np.ndarray | None]


@dataclass
class Engine:
    model: TTSModel
    variant: Variant
    speakers: set[str] | None
    languages: set[str] | None
    prompt_spec: PromptSpec | None = None
    """Voice clone: the shape a stored prompt must have for this model."""

    @classmethod
    def for_model(cls, model: TTSModel, variant: Variant) -> Engine:
        speakers = model.get_supported_speakers() if variant is Variant.CUSTOM_VOICE else None
        languages = model.get_supported_languages()
        return cls(
            model=model,
            variant=variant,
            speakers=None if speakers is None else {s.lower() for s in speakers},
            languages=None if languages is None else {lang.lower() for lang in languages},
            prompt_spec=prompt_spec(model) if variant is Variant.VOICE_CLONE else None,
        )

    def parse(self, inputs: TensorMap) -> SynthesisRequest | Exception:
        try:
            request = parse_request(inputs, self.variant)
            check_supported(request, self.speakers, self.languages)
            if request.prompt is not None:
                if self.prompt_spec is None:
                    raise RequestError("this model takes no stored voice clone prompt")
                check_prompt(request.prompt, self.prompt_spec)
        except RequestError as exc:
            return exc
        return request

    def run(self, batch: Sequence[TensorMap]) -> list[Outcome]:
        """One outcome per request, in order: float32 audio at 24 kHz, a clone prompt, or that request's error."""
        return self.run_parsed([self.parse(inputs) for inputs in batch])

    def run_parsed(self, items: Sequence[SynthesisRequest | Exception]) -> list[Outcome]:
        """The grouped path: one `generate_*` call per group of equal sampling settings."""
        if self.variant is Variant.VOICE_CLONE:
            return synthesize_clone(self.model, items)
        return synthesize(self.model, self.variant, items)
