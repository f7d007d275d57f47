"""A long text as segments of at most `budget` units, cut where a reader would pause.

Sentences (api/text/sentences.py) are packed in order into segments while they fit; a sentence that
alone exceeds the budget is cut at its clauses, a clause that still does at its words, and a word
(or a CJK run without punctuation) that still does is cut hard. Units: a character counts 1, a wide
or full-width one (CJK ideographs, kana, hangul) 3, about the share of speaking time each takes, so a
budget means roughly the same duration of speech in every language.

Segments never overlap and cover every non-space character of the text, in order: the whitespace
between segments is all that is dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from api.text.sentences import Span, clause_spans, sentence_spans, word_spans

WIDE_WEIGHT = 3


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    text: str


def weight(text: str) -> int:
    """Length in units: wide and full-width characters count WIDE_WEIGHT, the others 1."""
    return sum(WIDE_WEIGHT if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _hard_cuts(text: str, span: Span, budget: int) -> list[Span]:
    pieces, start, used = [], span[0], 0
    for index in range(span[0], span[1]):
        units = weight(text[index])
        if used + units > budget and index > start:
            pieces.append((start, index))
            start, used = index, 0
        used += units
    pieces.append((start, span[1]))
    return pieces


def _fitting(text: str, span: Span, budget: int, level: int = 0) -> list[Span]:
    """`span` as pieces each within the budget: clauses, then words, then hard cuts."""
    if weight(text[span[0] : span[1]]) <= budget:
        return [span]
    if level == 0:
        parts = clause_spans(text, span)
    elif level == 1:
        parts = word_spans(text, span)
    else:
        return _hard_cuts(text, span, budget)
    if len(parts) <= 1:
        return _fitting(text, span, budget, level + 1)
    pieces = [piece for part in parts for piece in _fitting(text, part, budget, level + 1)]
    return _packed(text, pieces, budget)


def _packed(text: str, pieces: list[Span], budget: int) -> list[Span]:
    """Consecutive pieces joined while the joined span stays within the budget."""
    packed: list[Span] = []
    for piece in pieces:
        if packed and weight(text[packed[-1][0] : piece[1]]) <= budget:
            packed[-1] = (packed[-1][0], piece[1])
        else:
            packed.append(piece)
    return packed


def split_text(text: str, budget: int, language: str | None = None) -> list[Segment]:
    """The segments of `text`; one segment (the whole text, trimmed) when it fits the budget."""
    if budget < 1:
        raise ValueError("budget must be at least 1")
    pieces = [piece for sentence in sentence_spans(text, language) for piece in _fitting(text, sentence, budget)]
    return [Segment(start, end, text[start:end]) for start, end in _packed(text, pieces, budget)]
