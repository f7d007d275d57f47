"""Tiny random checkpoints of the real Qwen3-TTS architecture, and their text tokenizer.

For tests and offline runs only (`scripts/make_tiny_checkpoints.py` writes them): they load and run
through the real qwen-tts code and speak noise. No serving code imports this package, and no image
carries it.
"""
