"""The Triton Python-backend adapter of a decoupled TTS model: requests in, responses sent later.

`execute()` parses each request and hands it to the model's generation loop (a background thread,
`tts_engine/scheduling/loop.py`), then returns at once; the loop answers through the request's
response sender: audio chunks while it decodes (when the request set STREAM), then one response
flagged final. Imported by each `model_repository/<model>/1/model.py`; only importable inside
Triton's Python stub, where `triton_python_backend_utils` exists. What the responses carry is
decided in `tts_engine/serving/replies.py` (pure, tested without Triton).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from tts_contract.tensors import INPUTS
from tts_engine.config import parse_engine_config, rows_for_device
from tts_engine.loader import cuda_memory, describe, load_model
from tts_engine.requests import is_probe, wants_stream
from tts_engine.scheduling.engine import Engine
from tts_engine.scheduling.loop import GenerationLoop, Outcome, Sink, Submission
from tts_engine.scheduling.runners import build_runner, pool_rows
from tts_engine.serving.metrics import EngineMetrics
from tts_engine.serving.replies import Reply, owned, probe_reply, reply

log = logging.getLogger("tts_engine")

INPUT_NAMES = tuple(spec.name for spec in INPUTS)


def _inputs(request: Any) -> dict[str, np.ndarray | None]:
    found: dict[str, np.ndarray | None] = {}
    for name in INPUT_NAMES:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        found[name] = None if tensor is None else owned(tensor.as_numpy())
    return found


def _response(answer: Reply) -> Any:
    if answer.error is not None:
        code = pb_utils.TritonError.INVALID_ARG if answer.invalid else pb_utils.TritonError.INTERNAL
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(answer.error, code))
    tensors = [pb_utils.Tensor(name, value) for name, value in answer.outputs.items()]
    return pb_utils.InferenceResponse(output_tensors=tensors)


def _emitter(request: Any, num_code_groups: int) -> Callable[[Outcome, bool], None]:
    """Sends one request's outcomes through its response sender (called from the loop thread)."""
    sender = request.get_response_sender()

    def emit(outcome: Outcome, final: bool) -> None:
        flags = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL if final else 0
        sender.send(_response(reply(outcome, final=final, num_code_groups=num_code_groups)), flags=flags)

    return emit


class TritonPythonModel:
    engine: Engine
    loop: GenerationLoop
    groups: int

    def initialize(self, args: dict[str, Any]) -> None:
        logging.basicConfig(level=logging.INFO)
        config = parse_engine_config(args["model_config"])
        model = load_model(config)
        rows, kv_bytes = pool_rows(model, config, rows_for_device(config, str(model.model.device)))
        log.info("loaded %s (engine %s, sampler %s, %d rows)", describe(config), config.engine, config.sampler, rows)
        self.engine = Engine.for_model(model, config.variant)
        self.groups = self.engine.prompt_spec.num_code_groups if self.engine.prompt_spec else 0
        memory = cuda_memory(config.device)
        metrics = EngineMetrics(pb_utils, model=config.model_name, max_rows=rows, memory=memory, kv_bytes=kv_bytes)
        self.loop = GenerationLoop(
            build_runner(self.engine, config, rows), name=f"generation-{config.model_name}", observe=metrics.observe
        )
        log.info("model %s ready", config.model_name)

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            inputs = _inputs(request)
            if is_probe(inputs):  # answered here: proves this process and its loop are alive
                answer = _response(probe_reply(loop_alive=self.loop.alive()))
                request.get_response_sender().send(answer, flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                continue
            parsed = self.engine.parse(inputs)
            sink = Sink(_emitter(request, self.groups), stream=wants_stream(inputs))
            if isinstance(parsed, Exception):
                sink.finish(parsed)
                continue
            self.loop.submit(Submission(parsed, sink, cancelled=request.is_cancelled))

    def finalize(self) -> None:
        log.info("unloading")
        self.loop.close()
