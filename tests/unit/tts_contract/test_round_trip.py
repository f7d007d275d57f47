"""Every input the API packs is read back by the engine as the same value (the wire contract)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from api.inference.tensors import SynthesisCall, call_arrays
from tts_contract.models import Variant
from tts_contract.tensors import INPUT_BY_FIELD, INPUTS, inputs_of
from tts_contract.wire import WireError, pack, unpack
from tts_engine.requests import parse_request, read_inputs

EMBEDDING = np.linspace(-1, 1, 16, dtype=np.float32)
CODES = np.arange(12, dtype=np.int64).reshape(3, 4)
AUDIO = np.sin(np.linspace(0, 100, 16_000)).astype(np.float32)

EVERY_FIELD = {
    "text": "Hola, ¿qué tal? 你好",
    "language": "Spanish",
    "speaker": "Ryan",
    "instruct": "calm",
    "ref_audio": AUDIO,
    "ref_sample_rate": 16_000,
    "ref_text": "la referencia",
    "x_vector_only": True,
    "prompt_only": False,
    "ref_code": CODES,
    "ref_spk_embedding": EMBEDDING,
    "temperature": 0.5,
    "top_k": 20,
    "top_p": 0.75,
    "repetition_penalty": 1.25,
    "max_new_tokens": 300,
    "seed": 2**63 - 1,
    "stream": True,
    "probe": False,
}


def test_the_api_call_has_exactly_the_contract_inputs():
    assert {f.name for f in fields(SynthesisCall)} == set(INPUT_BY_FIELD)
    assert set(EVERY_FIELD) == set(INPUT_BY_FIELD)


def test_every_field_round_trips_from_api_to_engine():
    call = SynthesisCall(**EVERY_FIELD)
    arrays = call_arrays(call)
    assert set(arrays) == {spec.name for spec in INPUTS}
    for spec in INPUTS:
        assert arrays[spec.name].dtype == spec.dtype.numpy and arrays[spec.name].shape[0] == 1
    values = read_inputs(arrays)
    for field, sent in EVERY_FIELD.items():
        if isinstance(sent, np.ndarray):
            np.testing.assert_array_equal(values[field], sent)
            assert values[field].shape == sent.shape
        elif isinstance(sent, float):
            assert values[field] == pytest.approx(sent, rel=1e-7)  # float32 on the wire
        else:
            assert values[field] == sent and type(values[field]) is type(sent)


@pytest.mark.parametrize("field", sorted(INPUT_BY_FIELD))
def test_each_optional_field_absent_is_absent_and_present_alone_is_itself(field):
    assert unpack(call_arrays(SynthesisCall(text=None, language=None))) == {}
    alone = unpack(pack({field: EVERY_FIELD[field]}))
    assert set(alone) == {field}


@pytest.mark.parametrize("variant", list(Variant))
def test_the_engine_parses_what_the_api_sends_for_each_variant(variant):
    by_variant = {
        Variant.CUSTOM_VOICE: SynthesisCall(text="hi", language="English", speaker="Ryan", instruct="happy", seed=7),
        Variant.VOICE_DESIGN: SynthesisCall(text="hi", language=None, instruct="a deep voice", top_k=5),
        Variant.VOICE_CLONE: SynthesisCall(
            text="hi", language="Auto", ref_audio=AUDIO, ref_sample_rate=16_000, ref_text="ref", temperature=0.0
        ),
    }
    call = by_variant[variant]
    arrays = call_arrays(call)
    assert set(arrays) <= {spec.name for spec in inputs_of(variant)}
    request = parse_request(arrays, variant)
    assert request.text == "hi"
    assert request.language == (call.language or "Auto")
    assert request.speaker == call.speaker and request.sampling.seed == call.seed
    assert request.sampling.top_k == call.top_k and request.sampling.temperature == call.temperature
    if variant is Variant.VOICE_CLONE:
        assert request.ref_audio is not None and request.ref_sample_rate == 16_000 and request.ref_text == "ref"
        np.testing.assert_array_equal(request.ref_audio, AUDIO)


def test_a_malformed_tensor_is_a_wire_error_naming_it():
    with pytest.raises(WireError, match="TOP_K must hold one value"):
        unpack({"TOP_K": np.array([[1, 2]], dtype=np.int32)})
    with pytest.raises(WireError, match="REF_CODE must carry one request"):
        unpack({"REF_CODE": np.zeros((2, 3, 4), dtype=np.int64)})
