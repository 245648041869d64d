"""The batch text layout used by agreement equals curate.text's TextModel on every text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.agreement.layout import flat_layout, layout
from curate.agreement.marks import Texts
from curate.text import TextModel, line_starts

PLAIN = list("abcXYZ0189 .,:/-'_!?\n\r\t\x0b\x1c\x85\xa0") + ["\r\n", "U.S.", "1,703.5", "'s", "'re", "don't", "\u2019s", "\u2014", "\u201cQ\u201d", "\u2028", "\u2029", "é", "Ж"]
SPECIAL = ["\u00ad", "\u200b", "\u200d", "\ufeff", "e\u0301", "\U0001F600", "\U0001F1EB\U0001F1F7", "\U0001F44D\U0001F3FD", "\u2060"]


def expected(text):
    model = TextModel(text)
    return line_starts(text), [start for start, _ in model.tokens], [(p.start, p.end) for p in model.paragraphs]


def check(texts):
    lines, tokens, paragraphs = layout(texts)
    for text, own_lines, own_tokens, (own_starts, own_ends) in zip(texts, lines, tokens, paragraphs):
        want_lines, want_tokens, want_paragraphs = expected(text)
        assert own_lines.tolist() == want_lines, text
        assert own_tokens.tolist() == want_tokens, text
        assert list(zip(own_starts.tolist(), own_ends.tolist())) == want_paragraphs, text


texts_of = lambda alphabet: st.lists(st.lists(st.sampled_from(alphabet), max_size=40).map("".join), min_size=1, max_size=6)  # noqa: E731


@settings(max_examples=150, deadline=None)
@given(texts_of(PLAIN))
def test_plain_texts_take_the_fast_path_and_equal_text_model(texts):
    check(texts)


@settings(max_examples=100, deadline=None)
@given(texts_of(PLAIN + SPECIAL))
def test_texts_with_invisible_and_combining_characters_equal_text_model(texts):
    check(texts)


def test_demo_corpus_and_hostile_characters():
    demo = Path(__file__).resolve().parents[2] / "corpora" / "demo" / "snippets.jsonl"
    pages = [json.loads(line)["text"] for line in demo.read_text(encoding="utf-8").splitlines()]
    assert pages
    check([*pages, "a\x1b[31mred\x1b[0m b\n\nc\u202ed", "  \n\t lead\r\nCRLF line \r\n\r\n last"])


def test_texts_positions_are_global_and_tokens_count_per_snippet():
    texts = Texts.from_texts(["a", "b"], ["One two.\nThree", "Four five"])
    assert texts.base.tolist() == [0, 14]
    assert texts.line_cuts.tolist() == [9]  # the first line of each snippet is no cut point
    assert texts.token_counts.tolist() == [4, 2]
    assert texts.token_starts.tolist() == [0, 4, 7, 9, 14, 19]


ASCII = [piece for piece in PLAIN if piece.isascii()]


@settings(max_examples=100, deadline=None)
@given(texts_of(ASCII))
def test_ascii_texts_take_the_one_byte_path_and_equal_text_model(texts):
    assert "".join(texts).isascii()
    check(texts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts_of(PLAIN + SPECIAL), st.integers(min_value=1, max_value=60))
def test_texts_cut_into_small_batches_equal_text_model(monkeypatch_batch, texts, batch_characters):
    # Texts that are not plain take TextModel and are put back in their place among the
    # plain ones of their batch; batches are laid end to end.
    monkeypatch_batch(batch_characters)
    check(texts)
    flat = flat_layout(texts)
    lines, tokens, _ = layout(texts)
    assert flat.token_counts.tolist() == [len(own) for own in tokens]
    assert flat.line_counts.tolist() == [len(own) for own in lines]
    assert (np.diff(flat.token_starts) > 0).all() and (np.diff(flat.line_starts) > 0).all()


@pytest.fixture
def monkeypatch_batch():
    import curate.agreement.layout as module

    saved = module._BATCH_CHARACTERS

    def set_batch(characters):
        module._BATCH_CHARACTERS = characters

    yield set_batch
    module._BATCH_CHARACTERS = saved
