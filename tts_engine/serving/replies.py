"""What the decoupled Triton model sends back for one outcome: pure, testable without Triton.

`triton_model` turns a `Reply` into a `pb_utils.InferenceResponse` and sends it with the FINAL flag
when `reply.final`; everything decided about the response (which tensors, which error kind) is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tts_contract.errors import ErrorKind, encode_error
from tts_contract.models import SAMPLE_RATE
from tts_contract.wire import output
from tts_engine.clone.prompt import ClonePrompt, prompt_outputs
from tts_engine.errors import RequestError
from tts_engine.requests import audio_outputs
from tts_engine.scheduling.loop import LoopStoppedError, Outcome


@dataclass(frozen=True)
class Reply:
    final: bool
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    """The contract's structured error (`tts_contract.errors`): an error inside a gRPC stream
    reaches the client as a bare message, without Triton's status code."""
    invalid: bool = False
    """An error caused by the request itself (Triton's INVALID_ARG); otherwise INTERNAL."""


def reply(outcome: Outcome, *, final: bool, num_code_groups: int) -> Reply:
    """A chunk (`final=False`: audio only) or the final response: the rest of the audio, a clone
    prompt's REF_CODE and REF_SPK_EMBEDDING, or the request's error. Triton returns to the client
    only the outputs it asked for."""
    if isinstance(outcome, Exception):
        message = str(outcome) or type(outcome).__name__
        invalid = isinstance(outcome, RequestError)
        kind = ErrorKind.INVALID_ARGUMENT if invalid else ErrorKind.INTERNAL
        if isinstance(outcome, LoopStoppedError):
            kind = ErrorKind.UNHEALTHY
        return Reply(final=final, error=encode_error(kind, message), invalid=invalid)
    if isinstance(outcome, ClonePrompt):
        return Reply(final=final, outputs=prompt_outputs(outcome, num_code_groups))
    return Reply(final=final, outputs=audio_outputs(outcome))


def probe_reply(*, loop_alive: bool) -> Reply:
    """The answer to a health probe: SAMPLE_RATE when the model can serve, else an `unhealthy`
    error (its generation loop has stopped: every request would wait for ever)."""
    if loop_alive:
        return Reply(final=True, outputs={"SAMPLE_RATE": output("SAMPLE_RATE", SAMPLE_RATE)})
    return Reply(final=True, error=encode_error(ErrorKind.UNHEALTHY, "the generation loop has stopped"))


def owned(array: np.ndarray | None) -> np.ndarray | None:
    """A private copy of an input tensor: the loop reads it after `execute()` has returned and
    Triton may have released the request's memory."""
    return None if array is None else np.array(array, copy=True)
