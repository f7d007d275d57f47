"""What the decoupled Triton model sends back for one outcome: pure, testable without Triton.

`triton_model` turns a `Reply` into a `pb_utils.InferenceResponse` and sends it with the FINAL flag
when `reply.final`; everything decided about the response (which tensors, which error kind) is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tts_engine.clone.prompt import ClonePrompt, prompt_outputs
from tts_engine.clone.reference_audio import MODEL_SAMPLE_RATE
from tts_engine.errors import RequestError
from tts_engine.requests import audio_outputs
from tts_engine.scheduling.loop import Outcome

INVALID_PREFIX = "[INVALID_ARG] "
"""Starts the message of an error the request caused. An error inside a gRPC stream reaches the
client as a message without Triton's status code: the prefix is how the API tells a bad request
(422) from a failure (502). api/inference/client.py reads the same prefix."""


@dataclass(frozen=True)
class Reply:
    final: bool
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    invalid: bool = False
    """An error caused by the request itself (Triton's INVALID_ARG); otherwise INTERNAL."""


def reply(outcome: Outcome, *, final: bool, num_code_groups: int) -> Reply:
    """A chunk (`final=False`: audio only) or the final response: the rest of the audio, a clone
    prompt's REF_CODE and REF_SPK_EMBEDDING, or the request's error. Triton returns to the client
    only the outputs it asked for."""
    if isinstance(outcome, Exception):
        message = str(outcome) or type(outcome).__name__
        invalid = isinstance(outcome, RequestError)
        return Reply(final=final, error=f"{INVALID_PREFIX}{message}" if invalid else message, invalid=invalid)
    if isinstance(outcome, ClonePrompt):
        return Reply(final=final, outputs=prompt_outputs(outcome, num_code_groups))
    return Reply(final=final, outputs=audio_outputs(outcome, MODEL_SAMPLE_RATE))


def owned(array: np.ndarray | None) -> np.ndarray | None:
    """A private copy of an input tensor: the loop reads it after `execute()` has returned and
    Triton may have released the request's memory."""
    return None if array is None else np.array(array, copy=True)
