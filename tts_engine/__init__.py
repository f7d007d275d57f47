"""Triton-side engine for Qwen3-TTS, importable and testable without Triton (torch and qwen-tts).

Parts: `serving/` (the Triton adapter), `scheduling/` (the generation loop and its runners),
`step/` (one batched decoding step), `clone/` (voice-clone prompts), `codec/` (codes to audio);
`config`, `requests`, `errors` and `loader` are shared by all of them. The Triton models in
`model_repository/` are thin, generated imports of `serving/`.
"""
