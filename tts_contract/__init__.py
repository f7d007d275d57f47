"""The wire contract between the API and the engine: one source for both sides.

Standard library and numpy only, so the API image carries it without torch. It holds the model
catalogue (variants, sizes, hub ids, Triton model names), every tensor a TTS model takes and gives
(`tensors`), how values become tensors and back (`wire`), the error kinds that travel from the
engine to the API (`errors`), the limits both sides enforce (`limits`) and the `config.pbtxt`
rendering derived from all of it (`pbtxt`).
"""
