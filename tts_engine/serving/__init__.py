"""The Triton adapter: the decoupled TTS models and engine_info, their replies and metrics."""
