"""A tiny byte-level BPE text tokenizer shaped like Qwen's, for tiny random Qwen3-TTS checkpoints.

The real Qwen tokenizer cannot be downloaded here. This one has the same structure (GPT-2 byte-level
alphabet, the Qwen2 pre-tokenizer, `<|im_start|>` / `<|im_end|>` added tokens) but only a few hundred
ids: the 256 byte symbols, a handful of merges, and the special tokens the model config refers to.

The merges exist so that the chat markers the Qwen3-TTS wrapper builds split exactly as the model
expects: `"<|im_start|>assistant\\n"` is 3 tokens and `"<|im_end|>\\n<|im_start|>assistant\\n"` is 5
(the model slices `input_ids[:, :3]` and `input_ids[:, 3:-5]`). `write_text_tokenizer` checks that.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# Words that must be one token each: the chat roles the wrapper puts after `<|im_start|>`.
_ROLE_WORDS = ("assistant", "user", "system")

# Special tokens, in id order after the byte symbols and merges. The last three play the roles of the
# real tokenizer's TTS pad / text-bos / text-eos tokens (their ids go into the model config).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tts_pad>",
    "<tts_text_bos>",
    "<tts_text_eod>",
)

# The text embedding table is sized to a multiple of this (like the real, padded vocabulary).
_VOCAB_ALIGN = 64


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (the byte-level BPE alphabet)."""
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    mapping: dict[int, str] = bytes_to_unicode()
    return mapping


def build_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The byte alphabet plus left-to-right merges that make each role word a single token."""
    byte_chars = _bytes_to_unicode()
    vocab: dict[str, int] = {byte_chars[b]: b for b in range(256)}
    merges: list[tuple[str, str]] = []
    for word in _ROLE_WORDS:
        symbols = [byte_chars[b] for b in word.encode("utf-8")]
        current = symbols[0]
        for symbol in symbols[1:]:
            merged = current + symbol
            if merged not in vocab:
                merges.append((current, symbol))
                vocab[merged] = len(vocab)
            current = merged
    return vocab, merges


def padded_vocab_size(num_tokens: int) -> int:
    """Size of the text embedding table for `num_tokens` tokens (rounded up like the real vocabulary)."""
    return -(-num_tokens // _VOCAB_ALIGN) * _VOCAB_ALIGN


def write_text_tokenizer(out_dir: Path) -> dict[str, int]:
    """Write the tokenizer files (`tokenizer.json`, `vocab.json`, `merges.txt`, configs) into `out_dir`.

    Returns the id of every special token and `"vocab_size"`, the padded embedding-table size.
    """
    from transformers import Qwen2TokenizerFast

    vocab, merges = build_vocab_and_merges()
    with tempfile.TemporaryDirectory() as scratch:
        vocab_file = Path(scratch) / "vocab.json"
        merges_file = Path(scratch) / "merges.txt"
        vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
        tokenizer = Qwen2TokenizerFast(
            vocab_file=str(vocab_file),
            merges_file=str(merges_file),
            additional_special_tokens=list(SPECIAL_TOKENS[1:]),
            model_max_length=32768,
        )
    _check_chat_markers(tokenizer)
    tokenizer.save_pretrained(str(out_dir))
    ids = {token: int(tokenizer.get_vocab()[token]) for token in SPECIAL_TOKENS}
    return {**ids, "vocab_size": padded_vocab_size(len(tokenizer))}


def _check_chat_markers(tokenizer: PreTrainedTokenizerBase) -> None:
    """Fail loudly if the chat markers do not split the way Qwen3-TTS slices them."""
    expected = {"<|im_start|>assistant\n": 3, "<|im_end|>\n<|im_start|>assistant\n": 5}
    for text, length in expected.items():
        got = len(tokenizer.encode(text, add_special_tokens=False))
        if got != length:
            raise RuntimeError(f"tiny tokenizer splits {text!r} into {got} tokens, Qwen3-TTS needs {length}")
