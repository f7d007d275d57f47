"""The talker's input for one request, built by the package's own code.

qwen-tts builds the prefix (role tokens, language and speaker tags, instruct, the voice-clone
prompt in ICL or x-vector mode, the first text token) and the trailing text embeddings inside
`Qwen3TTSForConditionalGeneration.generate`, then hands them to the talker's Hugging Face
`generate`. We call the package's own `generate_*` for one row and stop it at that hand-off:
the talker's `generate` is replaced, for that call only, by a function that raises with its
arguments. So every variant's conditioning stays exactly the package's, with no copy of it here.
Only the loop thread calls this (the model is not shared between threads while it runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from tts_engine.config import Variant
from tts_engine.requests import SynthesisRequest


@dataclass
class Prefix:
    embeds: torch.Tensor
    """[1, L, D]: the talker's prefill input."""
    trailing_text: torch.Tensor
    """[T, D]: text embeddings added one per decoding step; `pad` once they run out."""
    pad: torch.Tensor
    """[D]: the tts_pad embedding."""
    ref_code: torch.Tensor | None = None
    """[frames, groups]: voice clone ICL reference codes, decoded in front of the output as context."""


class _Captured(Exception):
    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("talker input captured")
        self.kwargs = kwargs


def _capture(**kwargs: Any) -> Any:
    raise _Captured(kwargs)


def build_prefix(tts: Any, variant: Variant, row: SynthesisRequest, prompt_item: Any = None) -> Prefix:
    """Run the package's `generate_*` for `row` up to the talker's `generate`; return its input."""
    talker = tts.model.talker
    talker.generate = _capture  # instance attribute: shadows the method for this call only
    try:
        _call(tts, variant, row, prompt_item)
    except _Captured as captured:
        kwargs = captured.kwargs
    else:
        raise RuntimeError("qwen-tts returned without calling the talker")
    finally:
        del talker.generate
    embeds, mask = kwargs["inputs_embeds"], kwargs["attention_mask"]
    if embeds.shape[0] != 1 or not bool(mask.all()):
        raise RuntimeError("expected one unpadded row from the package's prefix builder")
    ref_code = getattr(prompt_item, "ref_code", None) if getattr(prompt_item, "icl_mode", False) else None
    return Prefix(
        embeds=embeds,
        trailing_text=kwargs["trailing_text_hidden"][0],
        pad=kwargs["tts_pad_embed"].reshape(-1),
        ref_code=ref_code,
    )


def _call(tts: Any, variant: Variant, row: SynthesisRequest, prompt_item: Any) -> None:
    language = row.language.lower()
    if variant is Variant.CUSTOM_VOICE:
        tts.generate_custom_voice(
            text=[row.text], speaker=[row.speaker], language=[language], instruct=[row.instruct or ""]
        )
    elif variant is Variant.VOICE_DESIGN:
        tts.generate_voice_design(text=[row.text], instruct=[row.instruct], language=[language])
    else:
        tts.generate_voice_clone(text=[row.text], language=[language], voice_clone_prompt=[prompt_item])
