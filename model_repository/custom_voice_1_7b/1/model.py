"""Triton entry point of one Qwen3-TTS model (generated): the logic lives in tts_engine."""

from tts_engine.serving.triton_model import TritonPythonModel

__all__ = ["TritonPythonModel"]
