"""Voice-clone prompts as arrays: parsing, validation against the model, conversions, request parsing."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tts_engine.clone.prompt import (
    MAX_REF_FRAMES,
    ClonePrompt,
    PromptSpec,
    check_prompt,
    from_prompt_item,
    parse_prompt,
    prompt_outputs,
    prompt_spec,
    to_prompt_item,
)
from tts_engine.config import Variant
from tts_engine.errors import RequestError
from tts_engine.requests import parse_request
from tts_engine.scheduling.engine import Engine

SPEC = PromptSpec(num_code_groups=4, codebook_size=64, embedding_dim=32)


def codes(frames: int = 5, groups: int = 4, value: int = 3) -> np.ndarray:
    return np.full((1, frames, groups), value, np.int64)


def embedding(dim: int = 32) -> np.ndarray:
    return np.linspace(-1, 1, dim, dtype=np.float32).reshape(1, dim)


def s(value: str) -> np.ndarray:
    return np.array([[value.encode()]], dtype=np.object_)


def flag(value: bool) -> np.ndarray:
    return np.array([[value]], dtype=np.bool_)


REF = {"REF_AUDIO": np.ones((1, 24000), np.float32), "REF_SAMPLE_RATE": np.array([[24000]], np.int32)}


def test_stored_prompt_drops_the_batch_dimension_and_keeps_values():
    prompt = parse_prompt(codes(), embedding())
    assert prompt.icl and prompt.ref_code is not None
    assert prompt.ref_code.shape == (5, 4) and prompt.ref_code.dtype == np.int64
    assert prompt.spk_embedding.shape == (32,) and prompt.spk_embedding.dtype == np.float32
    check_prompt(prompt, SPEC)
    unbatched = parse_prompt(codes()[0], embedding()[0])
    assert np.array_equal(unbatched.spk_embedding, prompt.spk_embedding)


def test_absent_or_empty_codes_mean_x_vector_only():
    assert not parse_prompt(None, embedding()).icl
    assert parse_prompt(np.zeros((1, 0, 4), np.int64), embedding()).ref_code is None


@pytest.mark.parametrize(
    ("ref_code", "spk", "message"),
    [
        (codes(), np.zeros((1, 32), np.int32), "REF_SPK_EMBEDDING must be float32"),
        (codes(), np.full((1, 32), np.nan, np.float32), "finite"),
        (codes(), np.zeros((2, 32), np.float32), "one prompt"),
        (codes(), np.zeros((1, 2, 32), np.float32), "dimensions"),
        (codes().astype(np.float32), embedding(), "REF_CODE must be int64"),
        (np.zeros((2, 5, 4), np.int64), embedding(), "one prompt"),
        (np.zeros((5,), np.int64), embedding(), "dimensions"),
        (codes(frames=MAX_REF_FRAMES + 1), embedding(), "frames"),
    ],
)
def test_malformed_tensors_are_request_errors(ref_code, spk, message):
    with pytest.raises(RequestError, match=message):
        parse_prompt(ref_code, spk)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (parse_prompt(codes(groups=5), embedding()), "REF_CODE has 5 code groups; this model needs 4"),
        (parse_prompt(codes(), embedding(16)), "REF_SPK_EMBEDDING has dimension 16; this model's is 32"),
        (parse_prompt(codes(value=64), embedding()), r"0\.\.63"),
        (parse_prompt(codes(value=-1), embedding()), r"0\.\.63"),
        (parse_prompt(None, embedding(8)), "dimension 8"),
    ],
)
def test_prompts_that_do_not_fit_the_model_are_request_errors(prompt, message):
    with pytest.raises(RequestError, match=message):
        check_prompt(prompt, SPEC)


def test_spec_is_read_from_the_model_config():
    talker = SimpleNamespace(num_code_groups=16, code_predictor_config=SimpleNamespace(vocab_size=2048))
    config = SimpleNamespace(talker_config=talker, speaker_encoder_config=SimpleNamespace(enc_dim=2048))
    model = SimpleNamespace(model=SimpleNamespace(config=config))
    assert prompt_spec(model) == PromptSpec(num_code_groups=16, codebook_size=2048, embedding_dim=2048)


def test_prompt_item_round_trip_icl_and_x_vector():
    icl = to_prompt_item(parse_prompt(codes(), embedding()), "the transcript")
    assert icl.icl_mode and not icl.x_vector_only_mode and icl.ref_text == "the transcript"
    assert icl.ref_code is not None and icl.ref_code.dtype == torch.int64 and icl.ref_code.shape == (5, 4)
    back = from_prompt_item(icl)
    assert back.ref_code is not None and np.array_equal(back.ref_code, codes()[0])
    xvec = to_prompt_item(parse_prompt(None, embedding()), "ignored")
    assert xvec.x_vector_only_mode and not xvec.icl_mode and xvec.ref_code is None and xvec.ref_text is None
    assert from_prompt_item(xvec).ref_code is None
    with pytest.raises(RequestError, match="REF_TEXT"):
        to_prompt_item(parse_prompt(codes(), embedding()), None)


def test_prompt_from_a_bf16_item_is_float32():
    item = to_prompt_item(parse_prompt(None, embedding()), None)
    item.ref_spk_embedding = item.ref_spk_embedding.to(torch.bfloat16)
    assert from_prompt_item(item).spk_embedding.dtype == np.float32


def test_prompt_outputs_have_a_batch_dimension():
    out = prompt_outputs(ClonePrompt(ref_code=codes()[0], spk_embedding=embedding()[0]), 4)
    assert out["REF_CODE"].shape == (1, 5, 4) and out["REF_CODE"].dtype == np.int64
    assert out["REF_SPK_EMBEDDING"].shape == (1, 32) and out["REF_SPK_EMBEDDING"].dtype == np.float32
    empty = prompt_outputs(ClonePrompt(ref_code=None, spk_embedding=embedding()[0]), 4)
    assert empty["REF_CODE"].shape == (1, 0, 4)


def test_prompt_only_request_needs_no_text():
    req = parse_request({**REF, "PROMPT_ONLY": flag(True), "REF_TEXT": s("hello")}, Variant.VOICE_CLONE)
    assert req.prompt_only and req.ref_text == "hello" and req.prompt is None
    xvec = parse_request({**REF, "PROMPT_ONLY": flag(True), "X_VECTOR_ONLY": flag(True)}, Variant.VOICE_CLONE)
    assert xvec.prompt_only and xvec.x_vector_only
    with pytest.raises(RequestError, match="REF_TEXT"):
        parse_request({**REF, "PROMPT_ONLY": flag(True)}, Variant.VOICE_CLONE)
    with pytest.raises(RequestError, match="TEXT"):
        parse_request({**REF, "REF_TEXT": s("hello")}, Variant.VOICE_CLONE)


def test_stored_prompt_requests():
    stored = {"TEXT": s("say this"), "REF_CODE": codes(), "REF_SPK_EMBEDDING": embedding()}
    icl = parse_request({**stored, "REF_TEXT": s("ref words")}, Variant.VOICE_CLONE)
    assert icl.prompt is not None and icl.prompt.icl and icl.ref_text == "ref words" and icl.ref_audio is None
    xvec = parse_request({"TEXT": s("x"), "REF_SPK_EMBEDDING": embedding()}, Variant.VOICE_CLONE)
    assert xvec.prompt is not None and xvec.x_vector_only and xvec.ref_text is None


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({**REF, "REF_SPK_EMBEDDING": embedding(), "REF_TEXT": s("r")}, "REF_AUDIO and REF_SPK_EMBEDDING"),
        ({"REF_CODE": codes(), "REF_TEXT": s("r")}, "REF_CODE needs REF_SPK_EMBEDDING"),
        ({"REF_CODE": codes(), "REF_SPK_EMBEDDING": embedding()}, "REF_TEXT"),
        ({"REF_CODE": codes(), "REF_SPK_EMBEDDING": embedding(), "X_VECTOR_ONLY": flag(True)}, "X_VECTOR_ONLY"),
        ({"REF_SPK_EMBEDDING": embedding(), "PROMPT_ONLY": flag(True)}, "PROMPT_ONLY"),
    ],
)
def test_contradictory_clone_inputs_are_request_errors(inputs, message):
    with pytest.raises(RequestError, match=message):
        parse_request({"TEXT": s("x"), **inputs}, Variant.VOICE_CLONE)


def test_engine_checks_a_stored_prompt_against_the_model():
    engine = Engine(model=None, variant=Variant.VOICE_CLONE, speakers=None, languages=None, prompt_spec=SPEC)  # type: ignore[arg-type]
    bad = engine.parse({"TEXT": s("x"), "REF_SPK_EMBEDDING": embedding(16)})
    assert isinstance(bad, RequestError) and "REF_SPK_EMBEDDING" in str(bad)
    good = engine.parse({"TEXT": s("x"), "REF_SPK_EMBEDDING": embedding()})
    assert not isinstance(good, Exception)
