"""Triton-side engine for Qwen3-TTS: config parsing, tensor conversion, batching, model loading.

Plain Python (torch and qwen-tts), importable and testable without Triton. The Triton models in
`model_repository/` are thin adapters over this package.
"""
