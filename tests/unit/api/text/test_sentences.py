"""Sentence and clause boundaries in the supported languages."""

from __future__ import annotations

import pytest

from api.text.sentences import clause_spans, sentence_spans


def sentences(text: str, language: str | None = None) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text, language)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        ("Mr. Smith met Dr. Jones at 3.30 p.m. yesterday.", ["Mr. Smith met Dr. Jones at 3.30 p.m. yesterday."]),
        ("J. R. R. Tolkien wrote it. E.g. this one.", ["J. R. R. Tolkien wrote it.", "E.g. this one."]),
        ("Pi is 3.14159. The end.", ["Pi is 3.14159.", "The end."]),
        ("It cost $1,000.50 in the U.S. last year.", ["It cost $1,000.50 in the U.S. last year."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Wait... What happened?! Nothing.", ["Wait...", "What happened?!", "Nothing."]),
        ("What? he asked.", ["What? he asked."]),  # lower case goes on
        ("line one\nline two\n\nline three", ["line one", "line two", "line three"]),
    ],
)
def test_latin_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_spanish_opening_marks_stay_with_their_sentence() -> None:
    text = "Hola, Sra. García. ¿Cómo está usted? ¡Muy bien! ¿Vienes? dijo él. El Sr. Pérez llegó p. ej. tarde."
    assert sentences(text, "Spanish") == [
        "Hola, Sra. García.",
        "¿Cómo está usted?",
        "¡Muy bien!",
        "¿Vienes? dijo él.",
        "El Sr. Pérez llegó p. ej. tarde.",
    ]


def test_cjk_terminators_need_no_space() -> None:
    assert sentences("今天天气很好。我们去公园吧！你来吗？「好。」然后") == [
        "今天天气很好。",
        "我们去公园吧！",
        "你来吗？",
        "「好。」",
        "然后",
    ]
    assert sentences("東京は晴れです。明日は雨でしょう。") == ["東京は晴れです。", "明日は雨でしょう。"]


def test_german_ordinals_and_abbreviations() -> None:
    text = "Am 3. Oktober kam er, z.B. mit dem Zug. Dann ging er."
    assert sentences(text, "German") == ["Am 3. Oktober kam er, z.B. mit dem Zug.", "Dann ging er."]
    assert sentences("Kapitel 3. Dann ging er.") == ["Kapitel 3.", "Dann ging er."]  # other languages: a sentence


def test_russian_and_korean() -> None:
    russian = "Привет, т.е. здравствуй. Как дела? Хорошо."
    assert sentences(russian) == ["Привет, т.е. здравствуй.", "Как дела?", "Хорошо."]
    assert sentences("안녕하세요. 반갑습니다! 잘 지내요?") == ["안녕하세요.", "반갑습니다!", "잘 지내요?"]


def test_clauses() -> None:
    text = "First part, second part; third: fourth — fifth 1,000 items"
    spans = clause_spans(text, (0, len(text)))
    assert [text[a:b] for a, b in spans] == ["First part,", "second part;", "third:", "fourth —", "fifth 1,000 items"]
    cjk = "我们先去公园，然后去商店、最后回家"
    assert [cjk[a:b] for a, b in clause_spans(cjk, (0, len(cjk)))] == ["我们先去公园，", "然后去商店、", "最后回家"]


def test_spans_cover_every_visible_character() -> None:
    text = "  A first one.  ¿Second?\n\nThird, with a clause.  "
    spans = sentence_spans(text)
    covered = "".join(text[a:b] for a, b in spans)
    assert covered.replace(" ", "") == text.replace(" ", "").replace("\n", "")
    assert all(not text[a].isspace() and not text[b - 1].isspace() for a, b in spans)
