"""The Triton Python-backend adapter: requests in, one batched engine call, responses out.

Imported by each `model_repository/<model>/1/model.py`; only importable inside Triton's Python
stub, where `triton_python_backend_utils` exists. Everything testable lives in the engine.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from tts_engine.batching import Outcome
from tts_engine.clone_prompt import ClonePrompt, prompt_outputs
from tts_engine.config import parse_engine_config
from tts_engine.engine import Engine
from tts_engine.errors import RequestError
from tts_engine.loader import describe, load_model
from tts_engine.reference_audio import MODEL_SAMPLE_RATE
from tts_engine.requests import audio_outputs

log = logging.getLogger("tts_engine")

INPUT_NAMES = (
    "TEXT",
    "LANGUAGE",
    "SPEAKER",
    "INSTRUCT",
    "REF_AUDIO",
    "REF_SAMPLE_RATE",
    "REF_TEXT",
    "X_VECTOR_ONLY",
    "PROMPT_ONLY",
    "REF_CODE",
    "REF_SPK_EMBEDDING",
    "TEMPERATURE",
    "TOP_K",
    "TOP_P",
    "REPETITION_PENALTY",
    "MAX_NEW_TOKENS",
)


def _inputs(request: Any) -> dict[str, np.ndarray | None]:
    found: dict[str, np.ndarray | None] = {}
    for name in INPUT_NAMES:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        found[name] = None if tensor is None else tensor.as_numpy()
    return found


def _response(outcome: Outcome, num_code_groups: int) -> Any:
    """An error response, or the outcome's tensors: AUDIO and SAMPLE_RATE, or a prompt's REF_CODE and
    REF_SPK_EMBEDDING. Triton returns to the client only the outputs it asked for."""
    if isinstance(outcome, RequestError):
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(outcome), pb_utils.TritonError.INVALID_ARG))
    if isinstance(outcome, Exception):
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(outcome), pb_utils.TritonError.INTERNAL))
    if isinstance(outcome, ClonePrompt):
        outputs = prompt_outputs(outcome, num_code_groups)
    else:
        outputs = audio_outputs(outcome, MODEL_SAMPLE_RATE)
    return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(name, value) for name, value in outputs.items()])


class TritonPythonModel:
    engine: Engine

    def initialize(self, args: dict[str, Any]) -> None:
        logging.basicConfig(level=logging.INFO)
        config = parse_engine_config(args["model_config"])
        log.info("loading %s", describe(config))
        model = load_model(config)
        self.engine = Engine.for_model(model, config.variant)
        log.info("model %s ready", config.model_name)

    def execute(self, requests: list[Any]) -> list[Any]:
        outcomes = self.engine.run([_inputs(request) for request in requests])
        groups = self.engine.prompt_spec.num_code_groups if self.engine.prompt_spec else 0
        return [_response(outcome, groups) for outcome in outcomes]

    def finalize(self) -> None:
        log.info("unloading")
