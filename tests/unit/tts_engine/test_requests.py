import numpy as np
import pytest

from tts_engine.config import Variant
from tts_engine.requests import RequestError, SamplingParams, audio_outputs, parse_request


def s(value: str) -> np.ndarray:
    return np.array([[value.encode()]], dtype=np.object_)


def f(value: float) -> np.ndarray:
    return np.array([[value]], dtype=np.float32)


def test_custom_voice_request_is_parsed_with_defaults():
    req = parse_request({"TEXT": s("hola"), "SPEAKER": s("Ryan")}, Variant.CUSTOM_VOICE)
    assert (req.text, req.speaker, req.language, req.instruct) == ("hola", "Ryan", "Auto", None)
    assert req.sampling == SamplingParams()


def test_sampling_values_are_read_and_bounded():
    inputs = {"TEXT": s("x"), "SPEAKER": s("Ryan"), "TEMPERATURE": f(0.5), "TOP_K": np.array([[20]], np.int32)}
    req = parse_request(inputs, Variant.CUSTOM_VOICE)
    assert req.sampling == SamplingParams(temperature=0.5, top_k=20)
    with pytest.raises(RequestError, match="TEMPERATURE"):
        parse_request({**inputs, "TEMPERATURE": f(7.0)}, Variant.CUSTOM_VOICE)
    with pytest.raises(RequestError, match="TOP_P"):
        parse_request({**inputs, "TOP_P": f(float("nan"))}, Variant.CUSTOM_VOICE)


@pytest.mark.parametrize(
    ("variant", "inputs", "field"),
    [
        (Variant.CUSTOM_VOICE, {"TEXT": s("  ")}, "TEXT"),
        (Variant.CUSTOM_VOICE, {"TEXT": s("x")}, "SPEAKER"),
        (Variant.VOICE_DESIGN, {"TEXT": s("x")}, "INSTRUCT"),
        (Variant.VOICE_CLONE, {"TEXT": s("x"), "REF_TEXT": s("y")}, "REF_AUDIO"),
        (
            Variant.VOICE_CLONE,
            {"TEXT": s("x"), "REF_AUDIO": np.zeros((1, 100), np.float32), "REF_SAMPLE_RATE": np.array([[24000]])},
            "REF_TEXT",
        ),
    ],
)
def test_missing_required_inputs_name_the_input(variant, inputs, field):
    with pytest.raises(RequestError, match=field):
        parse_request(inputs, variant)


def test_x_vector_only_clone_needs_no_transcript():
    inputs = {
        "TEXT": s("x"),
        "REF_AUDIO": np.ones((1, 100), np.float32),
        "REF_SAMPLE_RATE": np.array([[16000]], np.int32),
        "X_VECTOR_ONLY": np.array([[True]]),
    }
    req = parse_request(inputs, Variant.VOICE_CLONE)
    assert req.x_vector_only and req.ref_text is None and req.ref_sample_rate == 16000


def test_invalid_utf8_is_a_request_error():
    with pytest.raises(RequestError, match="UTF-8"):
        parse_request({"TEXT": np.array([[b"\xff\xfe"]], dtype=np.object_)}, Variant.VOICE_DESIGN)


def test_temperature_zero_means_greedy():
    assert SamplingParams(temperature=0.0).generate_kwargs() == {"do_sample": False}
    assert SamplingParams(temperature=0.7, max_new_tokens=9).generate_kwargs() == {
        "temperature": 0.7,
        "max_new_tokens": 9,
    }


def test_audio_outputs_have_a_batch_dimension():
    out = audio_outputs(np.arange(5, dtype=np.float64), 24000)
    assert out["AUDIO"].shape == (1, 5) and out["AUDIO"].dtype == np.float32
    assert out["SAMPLE_RATE"].tolist() == [[24000]]
