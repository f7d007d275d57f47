import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from api.errors import BackendError, UnavailableError, ValidationFailed
from api.http_errors import _validation_message
from api.inference.client import map_triton_error
from api.inference.tensors import SynthesisCall, build_inputs


def test_only_given_fields_become_tensors_with_a_batch_dimension():
    call = SynthesisCall(text="hola", language="Spanish", speaker="Ryan", temperature=0.5)
    inputs = {t.name(): t for t in build_inputs(call)}
    assert set(inputs) == {"TEXT", "LANGUAGE", "SPEAKER", "TEMPERATURE"}
    assert inputs["TEXT"].shape() == [1, 1] and inputs["TEXT"].datatype() == "BYTES"
    assert inputs["TEMPERATURE"].datatype() == "FP32"


def test_reference_audio_is_one_row():
    call = SynthesisCall(text="x", language="Auto", ref_audio=np.zeros(480), ref_sample_rate=16000, ref_text="y")
    inputs = {t.name(): t for t in build_inputs(call)}
    assert inputs["REF_AUDIO"].shape() == [1, 480]
    assert inputs["REF_SAMPLE_RATE"].datatype() == "INT32"


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("StatusCode.UNAVAILABLE", "failed to connect to all addresses", UnavailableError),
        ("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded", UnavailableError),
        ("StatusCode.INVALID_ARGUMENT", "[request id: <id_unknown>] SPEAKER 'x' is not supported", ValidationFailed),
        ("StatusCode.INVALID_ARGUMENT", "Request for unknown model: 'm' is not found", UnavailableError),
        ("StatusCode.INTERNAL", "generation failed: RuntimeError", BackendError),
    ],
)
def test_triton_errors_map_to_the_taxonomy(status, message, expected):
    error = map_triton_error(InferenceServerException(msg=message, status=status), model="m")
    assert isinstance(error, expected)


def test_invalid_argument_message_loses_the_request_id_prefix():
    exc = InferenceServerException(
        msg="[request id: <id_unknown>] SPEAKER 'x' is not supported", status="StatusCode.INVALID_ARGUMENT"
    )
    assert map_triton_error(exc, model="m").message == "SPEAKER 'x' is not supported"


def test_validation_messages_name_the_field():
    message, field = _validation_message([{"loc": ("body", "speaker"), "msg": "Value error, unknown speaker 'X'"}])
    assert (message, field) == ("speaker: unknown speaker 'X'", "speaker")
    message, field = _validation_message([{"loc": ("body", "text"), "msg": "Field required", "type": "missing"}])
    assert message == "text: field required"
