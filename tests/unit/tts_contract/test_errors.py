"""The engine's structured errors survive the trip as a bare message (tts_contract.errors)."""

from __future__ import annotations

import pytest

from tts_contract.errors import EngineError, ErrorKind, decode_error, encode_error


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_each_kind_round_trips_with_unicode_and_braces(kind):
    message = "SPEAKER 'ñ{x}' is \"not\" supported"
    assert decode_error(encode_error(kind, message)) == EngineError(kind, message)


def test_triton_may_prefix_our_message():
    encoded = encode_error(ErrorKind.INVALID_ARGUMENT, "bad")
    assert decode_error(f"in model custom_voice_1_7b: {encoded}") == EngineError(ErrorKind.INVALID_ARGUMENT, "bad")


@pytest.mark.parametrize(
    "text", ["", "Request for unknown model", "{not json", '{"other": 1}', '{"qwen_tts_error": {"kind": "nope"}}']
)
def test_other_messages_are_not_ours(text):
    assert decode_error(text) is None
