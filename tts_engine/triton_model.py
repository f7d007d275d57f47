"""The Triton Python-backend adapter: requests in, one batched engine call, responses out.

Imported by each `model_repository/<model>/1/model.py`; only importable inside Triton's Python
stub, where `triton_python_backend_utils` exists. Everything testable lives in the engine.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from tts_engine.config import parse_engine_config
from tts_engine.engine import Engine
from tts_engine.loader import describe, load_model
from tts_engine.reference_audio import MODEL_SAMPLE_RATE
from tts_engine.requests import RequestError, audio_outputs

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


def _response(outcome: np.ndarray | Exception) -> Any:
    if isinstance(outcome, RequestError):
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(outcome), pb_utils.TritonError.INVALID_ARG))
    if isinstance(outcome, Exception):
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(outcome), pb_utils.TritonError.INTERNAL))
    tensors = [pb_utils.Tensor(name, value) for name, value in audio_outputs(outcome, MODEL_SAMPLE_RATE).items()]
    return pb_utils.InferenceResponse(output_tensors=tensors)


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
        return [_response(outcome) for outcome in outcomes]

    def finalize(self) -> None:
        log.info("unloading")
