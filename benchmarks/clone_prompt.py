"""What storing a voice-clone prompt saves: generation from a stored prompt vs from the raw reference.

Both paths go through the real engine (`tts_engine.scheduling.engine.Engine` over `Qwen3TTSModel.from_pretrained`),
one request at a time, with the same seed per repetition so both generate the same codes (the
audio is checked identical): the difference is the reference's resampling (soxr, 16 -> 24 kHz),
speech-code encoding and speaker embedding, which a stored prompt skips. Prints one JSON object
(medians over the repetitions); `--json PATH` also writes it.

    python -m benchmarks.clone_prompt --repeats 7 --json /tmp/clone_prompt.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import emit
from devtools.servers import ROOT
from tts_engine.clone.prompt import ClonePrompt, prompt_outputs
from tts_engine.scheduling.engine import Engine

DEFAULT_WEIGHTS = ROOT / ".cache" / "tiny-checkpoints" / "Qwen3-TTS-12Hz-0.6B-Base"
REF_TEXT = "This is the reference recording of the voice."
TEXT = "Hello, this sentence is spoken in the cloned voice."


def reference(seconds: float = 3.0, rate: int = 16_000) -> np.ndarray:
    """A deterministic voice-like clip: a few harmonics under a syllable-rate envelope, plus noise."""
    t = np.arange(int(seconds * rate)) / rate
    voiced = sum(np.sin(2 * np.pi * f0 * t) / k for k, f0 in enumerate((140.0, 280.0, 420.0, 1100.0), 1))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)
    noise = np.random.default_rng(0).standard_normal(t.size) * 0.02
    return (0.2 * voiced * envelope + noise).astype(np.float32)


def _s(value: str) -> np.ndarray:
    return np.array([[value.encode()]], dtype=np.object_)


def requests(audio: np.ndarray, rate: int, max_new_tokens: int) -> dict[str, dict[str, np.ndarray]]:
    """The three request kinds, as the tensors Triton would hand the engine."""
    ref = {"REF_AUDIO": audio.reshape(1, -1), "REF_SAMPLE_RATE": np.array([[rate]], np.int32), "REF_TEXT": _s(REF_TEXT)}
    gen = {"TEXT": _s(TEXT), "MAX_NEW_TOKENS": np.array([[max_new_tokens]], np.int32)}
    return {"prompt_only": {**ref, "PROMPT_ONLY": np.array([[True]])}, "raw": {**ref, **gen}, "gen": gen}


def _timed(engine: Engine, inputs: dict[str, np.ndarray], seed: int) -> tuple[float, Any]:
    import torch

    torch.manual_seed(seed)
    start = time.perf_counter()
    (outcome,) = engine.run([inputs])
    elapsed = time.perf_counter() - start
    if isinstance(outcome, Exception):
        raise outcome
    return elapsed, outcome


def measure(engine: Engine, repeats: int = 7, max_new_tokens: int = 24, seconds: float = 3.0) -> dict[str, Any]:
    """Median seconds of a prompt build, a raw-reference generation and a stored-prompt generation."""
    assert engine.prompt_spec is not None, "a voice clone (Base) model is needed"
    rate = 16_000
    reqs = requests(reference(seconds, rate), rate, max_new_tokens)
    _, prompt = _timed(engine, reqs["prompt_only"], 0)
    assert isinstance(prompt, ClonePrompt)
    stored = {**reqs["gen"], **prompt_outputs(prompt, engine.prompt_spec.num_code_groups), "REF_TEXT": _s(REF_TEXT)}
    _timed(engine, reqs["raw"], 0)  # warm-up
    times: dict[str, list[float]] = {"prompt_only": [], "raw": [], "stored": []}
    identical = True
    for rep in range(repeats):
        times["prompt_only"].append(_timed(engine, reqs["prompt_only"], rep)[0])
        audio: dict[str, Any] = {}
        # alternate the order so that a slow stretch of a shared machine does not favour one path
        for name in ("raw", "stored") if rep % 2 == 0 else ("stored", "raw"):
            elapsed, audio[name] = _timed(engine, reqs["raw"] if name == "raw" else stored, rep)
            times[name].append(elapsed)
        identical = identical and bool(np.array_equal(audio["raw"], audio["stored"]))
    med = {name: statistics.median(values) for name, values in times.items()}
    return {
        "reference": f"{seconds:g} s at {rate} Hz",
        "max_new_tokens": max_new_tokens,
        "repeats": repeats,
        "ref_code_frames": 0 if prompt.ref_code is None else int(prompt.ref_code.shape[0]),
        "prompt_build_s": round(med["prompt_only"], 4),
        "raw_reference_generation_s": round(med["raw"], 4),
        "stored_prompt_generation_s": round(med["stored"], 4),
        "saved_s": round(med["raw"] - med["stored"], 4),
        "raw_over_stored": round(med["raw"] / med["stored"], 3),
        "identical_audio": identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="Base checkpoint (folder or hub id)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    import torch
    from qwen_tts import Qwen3TTSModel

    from tts_engine.config import Variant

    torch.set_num_threads(args.threads)
    model = Qwen3TTSModel.from_pretrained(args.weights, device_map="cpu", dtype=torch.float32)
    result = {
        "weights": args.weights,
        "threads": args.threads,
        **measure(Engine.for_model(model, Variant.VOICE_CLONE), args.repeats, args.max_new_tokens),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
