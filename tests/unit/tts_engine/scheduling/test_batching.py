"""Batching logic against a recording fake model (the real model is exercised in e2e tests)."""

from typing import Any

import numpy as np
import torch

from tts_engine.config import Variant
from tts_engine.requests import RequestError, SamplingParams, SynthesisRequest
from tts_engine.scheduling.batching import group_by_sampling, synthesize
from tts_engine.scheduling.engine import Engine


class RecordingModel:
    def __init__(self, fail_on: str | None = None):
        self.calls: list[dict[str, Any]] = []
        self.fail_on = fail_on

    def generate_custom_voice(self, text, speaker, language=None, instruct=None, **kw):
        self.calls.append({"text": list(text), **kw})
        if self.fail_on is not None and self.fail_on in text:
            raise RuntimeError("boom")
        return [np.full(1920 * (i + 1), len(t), np.float32) for i, t in enumerate(text)], 24000

    def get_supported_speakers(self):
        return ["ryan", "vivian"]

    def get_supported_languages(self):
        return ["auto", "english"]


def req(text: str, **sampling: Any) -> SynthesisRequest:
    return SynthesisRequest(text=text, language="English", speaker="Ryan", sampling=SamplingParams(**sampling))


def test_requests_with_equal_settings_share_one_call_and_keep_order():
    model = RecordingModel()
    items = [req("a"), req("bb", temperature=0.5), req("ccc"), req("dddd", temperature=0.5)]
    out = synthesize(model, Variant.CUSTOM_VOICE, items)
    assert [c["text"] for c in model.calls] == [["a", "ccc"], ["bb", "dddd"]]
    assert model.calls[1]["temperature"] == 0.5
    assert [float(o[0]) for o in out] == [1.0, 2.0, 3.0, 4.0]


def test_invalid_items_keep_their_error_and_are_not_generated():
    model = RecordingModel()
    bad = RequestError("TEXT is required")
    out = synthesize(model, Variant.CUSTOM_VOICE, [req("a"), bad])
    assert out[1] is bad and isinstance(out[0], np.ndarray)
    assert group_by_sampling([bad]) == {}


def test_a_failing_row_fails_alone():
    model = RecordingModel(fail_on="poison")
    out = synthesize(model, Variant.CUSTOM_VOICE, [req("ok1"), req("poison"), req("ok2")])
    assert isinstance(out[0], np.ndarray) and isinstance(out[2], np.ndarray)
    assert isinstance(out[1], Exception)
    # one batched attempt, then one call per row
    assert len(model.calls) == 4


def test_engine_rejects_unknown_speaker_and_language_per_request():
    engine = Engine.for_model(RecordingModel(), Variant.CUSTOM_VOICE)

    def s(v: str) -> np.ndarray:
        return np.array([[v.encode()]], dtype=np.object_)

    out = engine.run(
        [
            {"TEXT": s("hi"), "SPEAKER": s("Nobody")},
            {"TEXT": s("hi"), "SPEAKER": s("ryan"), "LANGUAGE": s("Klingon")},
            {"TEXT": s("hi"), "SPEAKER": s("Vivian"), "LANGUAGE": s("english")},
        ]
    )
    assert isinstance(out[0], RequestError) and "SPEAKER" in str(out[0])
    assert isinstance(out[1], RequestError) and "LANGUAGE" in str(out[1])
    assert isinstance(out[2], np.ndarray)


class DrawingModel(RecordingModel):
    """Each row's audio is a draw from torch's global generator, as the package's sampling is."""

    def generate_custom_voice(self, text, speaker, language=None, instruct=None, **kw):
        self.calls.append({"text": list(text), **kw})
        return [torch.rand(4).numpy() for _ in text], 24000


def test_a_seeded_request_is_generated_alone_after_seeding_torch():
    model = DrawingModel()
    alone = synthesize(model, Variant.CUSTOM_VOICE, [req("a", seed=7)])
    crowd = [req("x"), req("a", seed=7), req("y"), req("a", seed=7), req("z", seed=8)]
    out = synthesize(model, Variant.CUSTOM_VOICE, crowd)
    assert [c["text"] for c in model.calls[1:]] == [["x", "y"], ["a"], ["a"], ["z"]]
    assert all("seed" not in c for c in model.calls)  # not a generate_* argument
    np.testing.assert_array_equal(out[1], alone[0])
    np.testing.assert_array_equal(out[3], alone[0])
    assert not np.array_equal(out[4], alone[0])
