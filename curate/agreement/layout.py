"""Line starts, paragraphs and token starts of many texts at once, equal to :mod:`curate.text`.

Tokenizing 100k snippets one regex match at a time takes longer than the whole agreement
run may. Most scraped text is "plain": every character is in the Basic Multilingual Plane
and none is a format character (Cf) or a combining mark (Mn, Mc, Me). In plain text
:func:`curate.text.token_spans` never grows a match and never drops an invisible one, tokens
never cross whitespace, and a run of word characters is exactly one token. So, for plain
texts, whitespace-separated chunks are classified with numpy, a chunk of only word
characters is one token at its start, and only the other chunks (a word with punctuation,
a number with separators) go through ``token_spans``, once per distinct chunk. Texts that
are not plain take :class:`curate.text.TextModel` itself. Tests compare both paths with
``TextModel`` on generated texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from curate.agreement.metrics import sorted_unique
from curate.text import TextModel, line_starts, token_spans

_SPACE, _WORD, _SPECIAL, _BREAK = 1, 2, 4, 8
_WORD_CHARACTER = re.compile(r"[^\W_]")
_BATCH_CHARACTERS = 1 << 22


@lru_cache(maxsize=1)
def _character_classes() -> np.ndarray:
    """A flag byte for every BMP code point: space, word, special (not plain), line break."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for code in range(0x10000):
        char = chr(code)
        flags = 0
        if char.isspace():
            flags |= _SPACE
        if _WORD_CHARACTER.match(char):
            flags |= _WORD
        category = unicodedata.category(char)
        if category in ("Cf", "Mn", "Mc", "Me", "Cs"):
            flags |= _SPECIAL
        table[code] = flags
    for char in "\n\r\u2028\u2029":
        table[ord(char)] |= _BREAK
    return table


def layout(texts: Sequence[str]) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """Per text: line starts of non-blank lines, token starts, and paragraph (start, end) arrays."""
    lines: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
    tokens: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
    paragraphs: list[tuple[np.ndarray, np.ndarray]] = [None] * len(texts)  # type: ignore[list-item]
    batch: list[int] = []
    size = 0
    for index, text in enumerate(texts):
        batch.append(index)
        size += len(text)
        if size >= _BATCH_CHARACTERS:
            _layout_batch(texts, batch, lines, tokens, paragraphs)
            batch, size = [], 0
    if batch:
        _layout_batch(texts, batch, lines, tokens, paragraphs)
    return lines, tokens, paragraphs


def _exact(text: str) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    model = TextModel(text)
    return (
        np.array(line_starts(text), dtype=np.int64),
        np.array([start for start, _ in model.tokens], dtype=np.int64),
        (np.array([p.start for p in model.paragraphs], dtype=np.int64), np.array([p.end for p in model.paragraphs], dtype=np.int64)),
    )


def _layout_batch(texts, batch, lines, tokens, paragraphs) -> None:
    joined = "".join(texts[index] for index in batch)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    lengths = np.array([len(texts[index]) for index in batch], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)))
    flags = _character_classes()[codes & 0xFFFF]
    flags[codes > 0xFFFF] = _SPECIAL
    special = np.zeros(len(batch), dtype=bool)
    special[np.searchsorted(starts, np.flatnonzero(flags & _SPECIAL), side="right") - 1] = True

    nonspace = (flags & _SPACE) == 0
    # Chunks: maximal runs of non-space characters, never running across two texts.
    edge = np.zeros(codes.size + 1, dtype=bool)
    edge[starts] = True
    opens = nonspace.copy()
    opens[1:] &= ~nonspace[:-1] | edge[1:-1]
    closes = nonspace.copy()
    closes[:-1] &= ~nonspace[1:] | edge[1:-1]
    chunk_start = np.flatnonzero(opens)
    chunk_end = np.flatnonzero(closes) + 1
    complex_chunk = np.zeros(chunk_start.size, dtype=bool)
    odd = np.flatnonzero(nonspace & ((flags & _WORD) == 0))
    complex_chunk[np.searchsorted(chunk_start, odd, side="right") - 1] = True

    # Token starts: a chunk of word characters is one token; the others are tokenized.
    is_token_start = opens
    cache: dict[str, tuple[int, ...]] = {}
    extra: list[int] = []
    for start, end in zip(chunk_start[complex_chunk].tolist(), chunk_end[complex_chunk].tolist()):
        chunk = joined[start:end]
        relative = cache.get(chunk)
        if relative is None:
            relative = cache[chunk] = tuple(token for token, _ in token_spans(chunk))
        extra.extend(start + offset for offset in relative)
    is_token_start[chunk_start[complex_chunk]] = False
    is_token_start[np.array(extra, dtype=np.int64)] = True
    all_tokens = np.flatnonzero(is_token_start)

    # Lines: a break is \r\n (one break), \n, \r, U+2028 or U+2029.
    is_break = (flags & _BREAK) != 0
    crlf = np.flatnonzero((codes[:-1] == 0x0D) & (codes[1:] == 0x0A))
    crlf = crlf[~edge[crlf + 1]]
    is_break[crlf] = False  # the \n of \r\n ends the break
    break_end = np.flatnonzero(is_break) + 1
    line_start = sorted_unique(np.concatenate((starts[:-1], break_end[~edge[break_end]])))
    # A line ends at the first break at or after its start, or else where its text ends.
    break_at = np.concatenate((np.flatnonzero(is_break), [codes.size]))
    text_end = starts[np.minimum(np.searchsorted(starts, line_start, side="right"), starts.size - 1)]
    line_end = np.minimum(break_at[np.searchsorted(break_at, line_start, side="left")], text_end)
    first_chunk = np.searchsorted(chunk_start, line_start, side="left")
    has_chunk = (first_chunk < chunk_start.size) & (chunk_start[np.minimum(first_chunk, chunk_start.size - 1)] < line_end) if chunk_start.size else np.zeros(line_start.size, dtype=bool)
    last_chunk = np.searchsorted(chunk_end, line_end, side="right") - 1
    visible_start = line_start[has_chunk]
    paragraph_start = chunk_start[first_chunk[has_chunk]]
    paragraph_end = chunk_end[last_chunk[has_chunk]]

    line_owner = np.searchsorted(starts, visible_start, side="right") - 1
    token_owner = np.searchsorted(starts, all_tokens, side="right") - 1
    line_bounds = np.searchsorted(line_owner, np.arange(len(batch) + 1))
    token_bounds = np.searchsorted(token_owner, np.arange(len(batch) + 1))
    for number, index in enumerate(batch):
        if special[number]:
            lines[index], tokens[index], paragraphs[index] = _exact(texts[index])
            continue
        base = starts[number]
        low, high = line_bounds[number], line_bounds[number + 1]
        lines[index] = visible_start[low:high] - base
        paragraphs[index] = (paragraph_start[low:high] - base, paragraph_end[low:high] - base)
        tokens[index] = all_tokens[token_bounds[number] : token_bounds[number + 1]] - base
