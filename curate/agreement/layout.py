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
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np

from curate.agreement.metrics import sorted_unique
from curate.text import TextModel, line_starts, token_spans

_SPACE, _WORD, _SPECIAL, _BREAK = 1, 2, 4, 8
_WORD_CHARACTER = re.compile(r"[^\W_]")
_BATCH_CHARACTERS = 1 << 22


@lru_cache(maxsize=1)
def character_classes() -> np.ndarray:
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


@dataclass
class FlatLayout:
    """Lines, tokens and paragraphs of texts laid end to end (text ``k`` starts at the sum of
    the lengths before it): offsets are into that concatenation, ascending."""

    line_starts: np.ndarray  # starts of non-blank lines
    first_line: np.ndarray  # True where a line start is its text's first
    token_starts: np.ndarray
    token_counts: np.ndarray  # per text
    paragraph_start: np.ndarray  # one paragraph per non-blank line, without its outer whitespace
    paragraph_end: np.ndarray
    line_counts: np.ndarray  # per text


def layout(texts: Sequence[str]) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """Per text: line starts of non-blank lines, token starts, and paragraph (start, end) arrays."""
    flat = flat_layout(texts)
    base = np.concatenate(([0], np.cumsum([len(text) for text in texts], dtype=np.int64)))[:-1]
    line_edges = np.concatenate(([0], np.cumsum(flat.line_counts)))
    token_edges = np.concatenate(([0], np.cumsum(flat.token_counts)))
    lines, tokens, paragraphs = [], [], []
    for number, offset in enumerate(base.tolist()):
        low, high = line_edges[number], line_edges[number + 1]
        lines.append(flat.line_starts[low:high] - offset)
        paragraphs.append((flat.paragraph_start[low:high] - offset, flat.paragraph_end[low:high] - offset))
        tokens.append(flat.token_starts[token_edges[number] : token_edges[number + 1]] - offset)
    return lines, tokens, paragraphs


def flat_layout(texts: Sequence[str]) -> FlatLayout:
    """:func:`layout` of every text at once, at offsets into the texts laid end to end."""
    parts: list[FlatLayout] = []
    batch_start = 0
    offset = 0
    size = 0
    for index, text in enumerate(texts):
        size += len(text)
        if size >= _BATCH_CHARACTERS:
            parts.append(_layout_batch(texts[batch_start : index + 1], offset))
            batch_start, offset, size = index + 1, offset + size, 0
    if batch_start < len(texts) or not parts:
        parts.append(_layout_batch(texts[batch_start:], offset))
    if len(parts) == 1:
        return parts[0]
    return FlatLayout(*(np.concatenate([getattr(part, name) for part in parts]) for name in FlatLayout.__dataclass_fields__))


def _exact(text: str) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    model = TextModel(text)
    return (
        np.array(line_starts(text), dtype=np.int64),
        np.array([start for start, _ in model.tokens], dtype=np.int64),
        (np.array([p.start for p in model.paragraphs], dtype=np.int64), np.array([p.end for p in model.paragraphs], dtype=np.int64)),
    )


def _layout_batch(texts: Sequence[str], offset: int) -> FlatLayout:
    """The layout of ``texts`` at offsets from ``offset`` on."""
    joined = "".join(texts)
    if joined.isascii():  # one byte a character: every pass below reads a quarter of the memory
        codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        flags = character_classes()[:128][codes]
    else:
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        flags = character_classes()[codes & 0xFFFF]
        flags[codes > 0xFFFF] = _SPECIAL
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.concatenate(([0], np.cumsum(lengths)))
    special = np.zeros(len(texts), dtype=bool)
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

    # Token starts: a chunk of word characters is one token; the others are tokenized, once
    # per distinct chunk.
    is_token_start = opens
    odd_start = chunk_start[complex_chunk]
    odd_end = chunk_end[complex_chunk]
    distinct: dict[str, int] = {}
    chunk_kind = np.fromiter(
        (distinct.setdefault(joined[start:end], len(distinct)) for start, end in zip(odd_start.tolist(), odd_end.tolist())),
        dtype=np.int64, count=odd_start.size,
    )
    relative = [[token for token, _ in token_spans(chunk)] for chunk in distinct]
    kind_counts = np.fromiter(map(len, relative), dtype=np.int64, count=len(relative))
    kind_first = np.concatenate(([0], np.cumsum(kind_counts)))[:-1]
    kind_offsets = np.fromiter(chain.from_iterable(relative), dtype=np.int64, count=int(kind_counts.sum()))
    per_chunk = kind_counts[chunk_kind]
    within = np.arange(int(per_chunk.sum())) - np.repeat(np.cumsum(per_chunk) - per_chunk, per_chunk)
    extra = np.repeat(odd_start, per_chunk) + kind_offsets[np.repeat(kind_first[chunk_kind], per_chunk) + within]
    is_token_start[odd_start] = False
    is_token_start[extra] = True
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
    if special.any():  # texts that are not plain: TextModel's own layout in place of the fast one
        plain_line, plain_token = ~special[line_owner], ~special[token_owner]
        visible_start, paragraph_start, paragraph_end, line_owner = (
            values[plain_line] for values in (visible_start, paragraph_start, paragraph_end, line_owner)
        )
        all_tokens, token_owner = all_tokens[plain_token], token_owner[plain_token]
        exact_lines, exact_starts, exact_ends, exact_tokens, exact_line_owner, exact_token_owner = [], [], [], [], [], []
        for number in np.flatnonzero(special).tolist():
            own_lines, own_tokens, (own_starts, own_ends) = _exact(texts[number])
            base = starts[number]
            exact_lines.append(own_lines + base)
            exact_starts.append(own_starts + base)
            exact_ends.append(own_ends + base)
            exact_tokens.append(own_tokens + base)
            exact_line_owner.append(np.full(own_lines.size, number))
            exact_token_owner.append(np.full(own_tokens.size, number))
        # Every text's values are contiguous and texts are in order: insert each text's run
        # where its owner's place is.
        exact_line_owner = np.concatenate(exact_line_owner)
        at = np.searchsorted(line_owner, exact_line_owner)
        visible_start = np.insert(visible_start, at, np.concatenate(exact_lines))
        paragraph_start = np.insert(paragraph_start, at, np.concatenate(exact_starts))
        paragraph_end = np.insert(paragraph_end, at, np.concatenate(exact_ends))
        line_owner = np.insert(line_owner, at, exact_line_owner)
        exact_token_owner = np.concatenate(exact_token_owner)
        at = np.searchsorted(token_owner, exact_token_owner)
        all_tokens = np.insert(all_tokens, at, np.concatenate(exact_tokens))
        token_owner = np.insert(token_owner, at, exact_token_owner)
    line_counts = np.bincount(line_owner, minlength=len(texts)).astype(np.int64)
    first_line = np.zeros(visible_start.size, dtype=bool)
    first_line[(np.cumsum(line_counts) - line_counts)[line_counts > 0]] = True
    return FlatLayout(
        visible_start.astype(np.int64) + offset, first_line, all_tokens.astype(np.int64) + offset,
        np.bincount(token_owner, minlength=len(texts)).astype(np.int64),
        paragraph_start.astype(np.int64) + offset, paragraph_end.astype(np.int64) + offset, line_counts,
    )
