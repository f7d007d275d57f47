"""Triton adapter of the `engine_info` model: one BYTES output with `server_info()` as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from tts_engine.serving.server_info import server_info


class TritonPythonModel:
    repository: Path

    def initialize(self, args: dict[str, Any]) -> None:
        # args["model_repository"] is this model's own folder; its parent is the repository.
        self.repository = Path(args["model_repository"]).resolve().parent

    def execute(self, requests: list[Any]) -> list[Any]:
        payload = json.dumps(server_info(self.repository)).encode("utf-8")
        out = pb_utils.Tensor("INFO", np.array([payload], dtype=np.object_))
        return [pb_utils.InferenceResponse(output_tensors=[out]) for _ in requests]
