"""The API's catalog names what the checkpoints know: the tiny ones copy the real models' lists."""

import tiny_checkpoints
from api.catalog import (
    LANGUAGES,
    SPEAKERS,
    Variant,
    available_models,
    canonical_language,
    canonical_speaker,
    model_label,
)


def test_catalog_matches_the_checkpoint_lists():
    assert list(SPEAKERS) == list(tiny_checkpoints.SPEAKERS)
    assert ["Auto", *tiny_checkpoints.LANGUAGES] == LANGUAGES


def test_lookups_ignore_case_and_keep_the_display_spelling():
    assert canonical_speaker(" uncle_fu ") == "Uncle_Fu"
    assert canonical_language("SPANISH") == "Spanish"
    assert canonical_speaker("nobody") is None


def test_models_and_labels():
    assert "voice_design" not in available_models()["0.6B"]
    assert model_label("1.7B", Variant.VOICE_CLONE) == "1.7B_voice_clone"
