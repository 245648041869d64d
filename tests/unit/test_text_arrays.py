"""The batch forms of the text units equal the per-text ones: `line_arrays` against
`line_spans`, `token_arrays` against `text_tokens`, and the special-character table built
as characters are met against `_special_pattern`."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.text import _special_pattern, _special_table, joined_starts, line_arrays, line_spans, text_tokens, token_arrays

PIECES = st.sampled_from(
    list("aZ9 .,'\n\n\n\t\x0b\x1c\x85") + ["\r\n", "\r", "\u2028", "\u2029", "\u00a0", "\u3000", "\u200b", "\ufeff", "\u0301", "\u00ad",
    "\U0001F600", "\U0001F3FD", "\U000E0067", "\u00e9", "\u4e2d", "U.S.", "word", "  \n  ", "Kim Jong-un", "\ud800"]
)
TEXTS = st.lists(st.lists(PIECES, max_size=30).map("".join), max_size=6)


def per_text(rows: np.ndarray, bounds: np.ndarray, texts: list[str]) -> list[list[tuple]]:
    starts = joined_starts(texts)
    return [[tuple(int(value) - int(starts[number]) for value in row) for row in rows[bounds[number] : bounds[number + 1]]] for number in range(len(texts))]


@given(TEXTS)
@settings(max_examples=500, deadline=None)
def test_line_arrays_equal_line_spans_of_each_text(texts):
    rows, bounds = line_arrays(texts)
    assert per_text(rows, bounds, texts) == [line_spans(text) for text in texts]


@given(TEXTS)
@settings(max_examples=500, deadline=None)
def test_token_arrays_equal_text_tokens_of_each_text(texts):
    rows, bounds = token_arrays(texts)
    assert per_text(rows, bounds, texts) == [text_tokens(text) for text in texts]


@given(st.lists(st.integers(0x80, 0xFFFF), min_size=1, max_size=200))
@settings(max_examples=200, deadline=None)
def test_the_special_table_marks_what_the_special_pattern_matches(codes):
    table = _special_table(np.asarray(codes, dtype=np.uint32))
    assert [bool(table[code]) for code in codes] == [_special_pattern().match(chr(code)) is not None for code in codes]
