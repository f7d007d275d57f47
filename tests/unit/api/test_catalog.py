"""The API's catalog names what the checkpoints know: the tiny ones copy the real models' lists."""

import tiny_checkpoints
from api.catalog import (
    LANGUAGE_CHOICES,
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
    assert list(tiny_checkpoints.LANGUAGES) == LANGUAGES
    # the contract's order: GET /languages starts "Auto", "Spanish", "English", "Chinese"; /models has no Auto
    assert LANGUAGE_CHOICES[:4] == ["Auto", "Spanish", "English", "Chinese"] and LANGUAGE_CHOICES[1:] == LANGUAGES


def test_lookups_ignore_case_and_keep_the_display_spelling():
    assert canonical_speaker(" uncle_fu ") == "Uncle_Fu"
    assert canonical_language("SPANISH") == "Spanish"
    assert canonical_speaker("nobody") is None


def test_models_and_labels():
    assert "voice_design" not in available_models()["0.6B"]
    assert model_label("1.7B", Variant.VOICE_CLONE) == "1.7B_voice_clone"
