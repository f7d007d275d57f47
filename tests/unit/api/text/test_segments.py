"""Packing sentences into segments within a budget; clause, word and hard cuts for long sentences."""

from __future__ import annotations

import random
from itertools import pairwise

from api.text.segments import split_text, weight


def test_short_text_is_one_segment() -> None:
    assert [s.text for s in split_text("  One. Two.  ", budget=100)] == ["One. Two."]


def test_sentences_are_packed_in_order_within_the_budget() -> None:
    text = "Aaaa aaaa. Bbbb bbbb. Cccc cccc. Dddd dddd."  # sentences of 10 characters
    assert [s.text for s in split_text(text, budget=21)] == ["Aaaa aaaa. Bbbb bbbb.", "Cccc cccc. Dddd dddd."]
    assert [s.text for s in split_text(text, budget=20)] == ["Aaaa aaaa.", "Bbbb bbbb.", "Cccc cccc.", "Dddd dddd."]


def test_long_sentence_is_cut_at_clauses_then_words_then_hard() -> None:
    text = "one two three, four five six, seven eight nine"
    assert [s.text for s in split_text(text, budget=16)] == ["one two three,", "four five six,", "seven eight nine"]
    assert [s.text for s in split_text("alpha beta gamma delta", budget=11)] == ["alpha beta", "gamma delta"]
    assert [s.text for s in split_text("abcdefghij", budget=4)] == ["abcd", "efgh", "ij"]


def test_cjk_characters_weigh_three() -> None:
    assert weight("你好") == 6 and weight("ab") == 2
    text = "一二三四五。六七八九十。"
    assert [s.text for s in split_text(text, budget=18)] == ["一二三四五。", "六七八九十。"]


def test_offsets_and_coverage_on_random_text() -> None:
    rng = random.Random(7)
    words = ["palabra", "otra,", "fin.", "¿qué?", "Sr.", "3.5", "你好。", "\n", "¡Ya!", "número"]
    for _ in range(50):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 120)))
        budget = rng.randint(5, 60)
        segments = split_text(text, budget=budget)
        assert all(text[s.start : s.end] == s.text for s in segments)
        assert all(a.end <= b.start for a, b in pairwise(segments))
        assert "".join("".join(s.text for s in segments).split()) == "".join(text.split())  # nothing lost
        assert all(weight(s.text) <= budget or len(s.text) == 1 for s in segments)
