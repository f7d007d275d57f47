"""Where a reader would pause: sentence boundaries, then clause boundaries, as character spans.

Sentences end at a terminator run (`.`, `!`, `?`, `…`, and the full-width CJK `。！？`), with any
closing quotes or brackets after it, and at every line break. A Latin terminator ends a sentence only
when whitespace follows and the next word does not start in lower case (`¿Vienes? dijo` and `3.5`
go on); a full stop after a known abbreviation (`Sr.`, `e.g.`, `z.B.`) or a single letter (an
initial: `J. R. R. Tolkien`) does not end one, nor, in German, a full stop after a number (an
ordinal: `am 3. Oktober`). CJK terminators end a sentence with or without whitespace. Spanish `¿¡`
open a sentence and stay with it. Clauses end at `, ; : —` followed by whitespace and at the CJK
`，、；：`.

Spans are (start, end) offsets into the text, whitespace at either end left out, so the text between
spans is whitespace only. Pure functions: no I/O, no settings.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

LATIN_TERMINATORS = ".!?…‼⁇⁈⁉؟।"
CJK_TERMINATORS = "。！？｡．"
CLOSERS = "\"'”’»」』）)]】〉》›"
CLAUSE_MARKS = ",;:—–"
CJK_CLAUSE_MARKS = "，、；：︰"

# Lower case, without the final full stop; dotted ones keep their inner dots.
_ABBREVIATION_LINES = (
    # English
    "mr mrs ms dr prof sr jr st vs e.g i.e a.m p.m no fig approx dept inc ltd co mt",
    "jan feb aug sept oct nov dec",
    # Spanish, Portuguese, Italian, French
    "sra srta dra d dña ud uds vd vds lic ing arq pág págs núm tel av avda ej p.ej aprox art cap cía s.a",
    "sig dott ecc pag mme mlle cf env bd ex",
    # German
    "z.b bzw usw nr str ca ggf evtl u.a d.h inkl vgl abs",
    # Russian
    "г ул т.е т.д т.п им см стр др тыс млн руб",
)
ABBREVIATIONS = frozenset(" ".join(_ABBREVIATION_LINES).split())

_WORD_BEFORE = re.compile(r"(\S+)$")


def _is_abbreviation(text: str, dot: int, language: str | None) -> bool:
    """Whether the full stop at `dot` closes an abbreviation (or, in German, an ordinal)."""
    match = _WORD_BEFORE.search(text, 0, dot)
    if match is None:
        return False
    word = match.group(1).lstrip("(\"'“‘«¿¡").lower()
    if language == "German" and word.isdigit():
        return True
    if len(word) == 1 and word.isalpha():
        return True
    dotted = "." in word and all(0 < len(part) <= 2 and part.isalpha() for part in word.split("."))  # U.S, p.ej
    return word in ABBREVIATIONS or dotted


def _run_end(text: str, start: int, marks: str) -> int:
    end = start
    while end < len(text) and text[end] in marks:
        end += 1
    while end < len(text) and text[end] in CLOSERS:
        end += 1
    return end


def _ends_sentence(text: str, start: int, end: int, language: str | None) -> bool:
    """Whether the terminator run text[start:end] (closers included) ends a sentence."""
    run = text[start:end]
    if any(char in CJK_TERMINATORS for char in run):
        return True
    if end < len(text) and not text[end].isspace():
        return False  # 3.5, e.g.x, "?!" inside a word
    following = text[end:].lstrip()
    if following and following[0].islower():
        return False
    if run.rstrip(CLOSERS) == ".":
        return not _is_abbreviation(text, start, language)
    return True


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _split(text: str, span: Span, cuts: list[int]) -> list[Span]:
    spans, start = [], span[0]
    for cut in [*cuts, span[1]]:
        piece = _trimmed(text, start, cut)
        if piece is not None:
            spans.append(piece)
        start = cut
    return spans


def sentence_spans(text: str, language: str | None = None) -> list[Span]:
    """The sentences of `text`, in order."""
    cuts, index = [], 0
    while index < len(text):
        char = text[index]
        if char in "\n\r\u2028\u2029\x0b\x0c\x85":
            cuts.append(index)
            index += 1
        elif char in LATIN_TERMINATORS or char in CJK_TERMINATORS:
            end = _run_end(text, index, LATIN_TERMINATORS + CJK_TERMINATORS)
            if _ends_sentence(text, index, end, language):
                cuts.append(end)
            index = end
        else:
            index += 1
    return _split(text, (0, len(text)), cuts)


def clause_spans(text: str, span: Span) -> list[Span]:
    """The clauses of one sentence: cut after `, ; : —` followed by whitespace, and after `，、；：`."""
    cuts = []
    for index in range(span[0], span[1]):
        char = text[index]
        if char in CJK_CLAUSE_MARKS or (char in CLAUSE_MARKS and index + 1 < span[1] and text[index + 1].isspace()):
            cuts.append(_run_end(text, index, CLAUSE_MARKS + CJK_CLAUSE_MARKS))
    return _split(text, span, sorted(set(cuts)))


def word_spans(text: str, span: Span) -> list[Span]:
    """The words of a clause (whitespace-separated), the last resort before a hard cut."""
    return [(span[0] + m.start(), span[0] + m.end()) for m in re.finditer(r"\S+", text[span[0] : span[1]])]
