"""Paragraphs, sentences and tokens as character offsets into a snippet's original text.

Nothing here copies or normalises the text: every unit is a (start, end) pair of Python
`str` indices, so offsets stay exact under CRLF, non-breaking spaces, curly quotes, dashes,
emoji and zero-width characters.

The tokenizer is a compiled regular expression rather than spaCy's: importing spaCy costs
about 0.8 s, which the annotation UI cannot spend before its first paint, and every module
(UI, suggestions, agreement, export) must cut tokens the same way. The rules never join
across whitespace and split at least as finely as CoNLL and spaCy tokens for names, so
entity spans from either land on token edges. Sentences come from a punctuation splitter
that, like spaCy's `sentencizer`, ends a sentence after `.`, `!` or `?` (with closing quotes
and brackets) followed by a space and a capital, digit or opening quote, within a paragraph.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np

# A line ends at \r\n, \n, \r, U+2028 or U+2029; a paragraph is a line that is not blank.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029]")

_TOKEN = re.compile(
    r"""
    [^\W\d_](?:\.[^\W\d_])+                    # initialisms: U.S (its last dot is a token)
  | \d+(?:[.,:/]\d+)+                          # numbers with separators: 1,703  9.5  10:30
  | [^\W_]+(?:[-\u2010\u2011][^\W_]+)*          # words and numbers, hyphenated: Jong-un, 9km
  | ['\u2019](?:s|S|re|ve|ll|d|m|t)(?![^\W_])  # clitics: 's  're  't
  | \S                                         # anything else, one character at a time
    """,
    re.VERBOSE,
)

_SENTENCE_END = re.compile(
    r"""[.!?\u2026]+['"\u2019\u201d)\]]*   # terminal punctuation, closing quotes/brackets
        (?=\s+['"\u2018\u201c(\[]?[^\W_a-z])  # then space and a capital, digit or opening quote
    """,
    re.VERBOSE,
)

# A word goes on across these when a letter or digit follows: soft hyphen, ZWNJ, ZWJ, word joiner.
_WORD_INNER = frozenset("\u00ad\u200c\u200d\u2060")
_WORD_PART = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")
_ZWJ = "\u200d"

# Abbreviations that end with a period but rarely end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sen rep gov gen col lt sgt st jr sr inc corp ltd co no vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec mt ft".split()
)


def is_invisible(char: str) -> bool:
    """True for characters that take no place of their own: format chars (ZWSP, ZWJ, BOM)."""
    return unicodedata.category(char) == "Cf"


def _attaches(char: str) -> bool:
    """True for characters that belong to the character before them: combining marks (which
    include variation selectors), emoji skin-tone modifiers and emoji tag characters."""
    code = ord(char)
    if code < 0x300:
        return False
    return unicodedata.category(char) in ("Mn", "Mc", "Me") or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _blank(char: str) -> bool:
    return char.isspace() or is_invisible(char)


def _lines(text: str) -> Iterator[tuple[int, int, int]]:
    """(line start, first visible character, end of last visible character) of every
    line that holds something visible."""
    if "\r" not in text and "\u2028" not in text and "\u2029" not in text:
        # Only "\n" breaks lines: split at it, and trim whitespace with str.strip (the same
        # characters as str.isspace), trimming exactly only where a non-ASCII character is left.
        position = 0
        for line in text.split("\n"):
            end = position + len(line)
            if line:
                trimmed = _trim_line(text, line, position, end)
                if trimmed is not None:
                    yield position, *trimmed
            position = end + 1
        return
    yield from _lines_exactly(text)


def _lines_exactly(text: str) -> Iterator[tuple[int, int, int]]:
    """:func:`_lines` by the line-break pattern and a character-by-character trim (what its
    quick path must equal; it takes every text with a break other than a newline)."""
    position = 0
    for match in _LINE_BREAK.finditer(text):
        trimmed = _trim(text, position, match.start())
        if trimmed is not None:
            yield position, *trimmed
        position = match.end()
    trimmed = _trim(text, position, len(text))
    if trimmed is not None:
        yield position, *trimmed


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]) and not _attached_to_visible(text, start, end - 1):
        end -= 1
    return (start, end) if end > start else None


def _trim_line(text: str, line: str, start: int, end: int) -> tuple[int, int] | None:
    """:func:`_trim` of `line`, which is `text[start:end]`: whitespace by str.strip, then the
    exact loops only when the character left at that edge is not ASCII (no ASCII character
    is invisible or attaches to the one before it)."""
    left = line.lstrip()
    if not left:
        return None
    start = end - len(left)
    if not left[0].isascii():
        return _trim(text, start, end)
    kept = left.rstrip()
    end = start + len(kept)
    if not kept[-1].isascii():
        while end > start and _blank(text[end - 1]) and not _attached_to_visible(text, start, end - 1):
            end -= 1
    return (start, end) if end > start else None


def _attached_to_visible(text: str, start: int, index: int) -> bool:
    """True when `text[index]` is invisible but belongs to a visible character before it
    (the tag characters of a flag such as England's)."""
    if not _attaches(text[index]):
        return False
    while index > start and _attaches(text[index - 1]):
        index -= 1
    return index > start and not _blank(text[index - 1])


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every non-blank line, without its line break and outer whitespace.

    A line is blank when it holds only whitespace and invisible characters (ZWSP, BOM).
    """
    return [(start, end) for _, start, end in _lines(text)]


def line_spans(text: str) -> list[tuple[int, int, int]]:
    """(line start, start, end) of every non-blank line: where the line begins (after its
    predecessor's break) and its visible part, as :func:`line_starts` and
    :func:`paragraph_spans` give them apart (a `TextModel`'s paragraphs, without sentences)."""
    return list(_lines(text))


def line_starts(text: str) -> list[int]:
    """The offset where each non-blank line begins (after its predecessor's line break).

    Story starts are placed here, so the whitespace and break before a paragraph belong to
    the previous story, as in the data contract's example.
    """
    return [line_start for line_start, _, _ in _lines(text)]


def token_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of every token of `text[start:end]`, offsets into `text`.

    A token keeps what attaches to it (combining marks, variation selectors, skin tones,
    emoji joined by ZWJ, flag pairs, soft hyphens inside a word); invisible characters on
    their own (ZWSP, BOM, a stray ZWJ) are no token.
    """
    limit = len(text) if end is None else end
    spans = []
    position = start
    search = _TOKEN.search
    while True:
        match = search(text, position, limit)
        if match is None:
            break
        token_start, token_end = match.span()
        if token_end < limit:
            token_end = _grow_token(text, token_start, token_end, limit)
        position = token_end
        if token_end - token_start == 1 and is_invisible(text[token_start]):
            continue
        spans.append((token_start, token_end))
    return spans


def _grow_token(text: str, start: int, end: int, limit: int) -> int:
    word = text[start].isalnum()
    while end < limit:
        char = text[end]
        if _attaches(char):
            end += 1
        elif char == _ZWJ and end + 1 < limit and not text[end + 1].isspace():
            end += 2
        elif word and char in _WORD_INNER and end + 1 < limit and text[end + 1].isalnum():
            end = _WORD_PART.match(text, end + 1, limit).end()
        elif word and char.isalnum() and _attaches(text[end - 1]):
            end = _WORD_PART.match(text, end, limit).end()
        elif end - start == 1 and _is_regional_indicator(text[start]) and _is_regional_indicator(char):
            end += 1
        else:
            break
    return end


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of one paragraph `text[start:end]`, as offsets into `text`."""
    spans = []
    sentence_start = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.group().startswith(".") and _ends_with_abbreviation(text, sentence_start, match.start()):
            continue
        cut = match.end()
        spans.append((sentence_start, cut))
        sentence_start = cut
        while sentence_start < end and _blank(text[sentence_start]):
            sentence_start += 1
    if sentence_start < end:
        spans.append((sentence_start, end))
    return spans


def _ends_with_abbreviation(text: str, sentence_start: int, period: int) -> bool:
    word_start = period
    while word_start > sentence_start and text[word_start - 1].isalpha():
        word_start -= 1
    word = text[word_start:period]
    if len(word) == 1 and word.isupper():
        return True  # an initial: "John F. Kennedy"
    return word.lower() in _ABBREVIATIONS


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    line_start: int
    sentences: tuple[tuple[int, int], ...]


class TextModel:
    """Paragraphs, sentences and tokens of one text, computed once and looked up by offset."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def paragraphs(self) -> list[Paragraph]:
        return [
            Paragraph(start, end, line_start, tuple(sentence_spans(self.text, start, end)))
            for line_start, start, end in _lines(self.text)
        ]

    @cached_property
    def tokens(self) -> list[tuple[int, int]]:
        return [
            token
            for paragraph in self.paragraphs
            for token in token_spans(self.text, paragraph.start, paragraph.end)
        ]

    @cached_property
    def token_starts(self) -> list[int]:
        return [start for start, _ in self.tokens]

    @cached_property
    def token_edges(self) -> set[int]:
        return {offset for token in self.tokens for offset in token}

    @cached_property
    def sentence_starts(self) -> list[int]:
        return [start for paragraph in self.paragraphs for start, _ in paragraph.sentences]

    @cached_property
    def _paragraph_starts(self) -> list[int]:
        return [paragraph.start for paragraph in self.paragraphs]

    def token_at(self, offset: int) -> int:
        """Index of the token at or before `offset` (0 when before the first)."""
        return max(0, bisect_right(self.token_starts, offset) - 1)

    def paragraph_at(self, offset: int) -> int:
        """Index of the paragraph at or before `offset` (0 when before the first)."""
        return max(0, bisect_right(self._paragraph_starts, offset) - 1)

    def sentence_start_at(self, offset: int) -> int:
        """Start offset of the sentence holding `offset`."""
        index = max(0, bisect_right(self.sentence_starts, offset) - 1)
        return self.sentence_starts[index] if self.sentence_starts else 0

    def boundary_offset(self, sentence_start: int) -> int:
        """Where a story starting at this sentence begins: the line start for a paragraph's
        first sentence (so the break belongs to the story before), else the sentence start."""
        paragraph = self.paragraphs[self.paragraph_at(sentence_start)]
        return paragraph.line_start if sentence_start == paragraph.start else sentence_start

    def snap_to_tokens(self, start: int, end: int) -> tuple[int, int] | None:
        """Grow `[start, end)` outward to token edges; None if no token lies inside."""
        inside = [token for token in self.tokens if token[1] > start and token[0] < end]
        if not inside:
            return None
        return inside[0][0], inside[-1][1]


# Characters on which `token_spans` or the paragraph trimming does more than `_TOKEN` alone:
# format characters (ZWSP, ZWJ, soft hyphen, BOM), combining marks (with variation
# selectors); and every character beyond the BMP (emoji with their skin tones, regional
# indicators and tag characters), kept as one range so the class stays a fast table.
_SPECIAL: re.Pattern | None = None


@cache
def _special_ranges() -> list[tuple[int, int]]:
    """The code point ranges of the special characters (see `_SPECIAL`), astral ones as one range."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        char = chr(code)
        if is_invisible(char) or _attaches(char) or _is_regional_indicator(char):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    assert ranges and ranges[0][0] >= 0x80, "an ASCII character would need the full tokenizer"
    ranges.append([0x10000, 0x10FFFF])
    return [(low, high) for low, high in ranges]


def _special_pattern() -> re.Pattern:
    global _SPECIAL
    if _SPECIAL is None:
        _SPECIAL = re.compile("[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _special_ranges()) + "]")
    return _SPECIAL


def text_tokens(text: str) -> list[tuple[int, int]]:
    """The tokens of every paragraph of `text`, exactly `TextModel(text).tokens`, computed faster.

    Without format characters, combining marks, skin tones and regional indicators (true of
    every ASCII text) no token grows past its `_TOKEN` match, none is invisible, and paragraphs
    are only trimmed of whitespace, which no token holds; so the tokens are the matches of
    `_TOKEN` over the whole text. Other texts (and any with a character beyond the BMP) take
    the paragraph-by-paragraph path.
    """
    if text.isascii() or _special_pattern().search(text) is None:
        return [match.span() for match in _TOKEN.finditer(text)]
    return [token for start, end in paragraph_spans(text) for token in token_spans(text, start, end)]


# Per BMP character: is it a letter or digit (`[^\W_]`, str.isalnum) or whitespace (`\s`,
# str.isspace)? Built on first use by text_tokens_many.
_CLASSES: tuple[np.ndarray, np.ndarray] | None = None
_QUOTES = (ord("'"), ord("\u2019"))


def _classes() -> tuple[np.ndarray, np.ndarray]:
    global _CLASSES
    if _CLASSES is None:
        chars = [chr(code) for code in range(0x10000)]
        _CLASSES = (
            np.fromiter(map(str.isalnum, chars), dtype=bool, count=0x10000),
            np.fromiter(map(str.isspace, chars), dtype=bool, count=0x10000),
        )
    return _CLASSES


_OTHER, _ALNUM, _SPACE = 0, 1, 2
_KINDS: np.ndarray | None = None


def _kinds() -> np.ndarray:
    """Per BMP character: _ALNUM, _SPACE or _OTHER (of :func:`_classes`), one table for one lookup."""
    global _KINDS
    if _KINDS is None:
        alnum, space = _classes()
        _KINDS = np.where(alnum, _ALNUM, np.where(space, _SPACE, _OTHER)).astype(np.uint8)
    return _KINDS


def text_tokens_many(texts: list[str]) -> list[list[tuple[int, int]]]:
    """:func:`text_tokens` of each text (cut together by :func:`token_arrays`)."""
    offsets, bounds = token_arrays(texts)
    text_starts = joined_starts(texts)
    results = []
    for number in range(len(texts)):
        first, after = int(bounds[number]), int(bounds[number + 1])
        local = offsets[first:after] - int(text_starts[number])
        results.append(list(zip(local[:, 0].tolist(), local[:, 1].tolist())))
    return results


def concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indexes start, start+1, ... start+length-1 of every range, one after another."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    before = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return np.arange(total, dtype=np.int64) + np.repeat(starts - before, lengths)


def joined_starts(texts: list[str]) -> np.ndarray:
    """Where each text begins in `"\n".join(texts)`."""
    starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        np.cumsum(np.fromiter(map(len, texts[:-1]), dtype=np.int64, count=len(texts) - 1) + 1, out=starts[1:])
    return starts


def token_arrays(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The tokens of every text as one (n, 2) int64 array of offsets into `"\n".join(texts)`,
    text after text, and the bounds (len(texts) + 1) of each text's rows: :func:`text_tokens`
    of each text, moved by where it begins in the joined text.

    In a text without format characters, marks or astral characters, `_TOKEN` cuts each run
    of letters and digits whole and every other visible character alone, except near a
    character between two letters or digits (U.S, 2.5, Jong-un, don't) or a quote before a
    letter ('s): only the whitespace-delimited chunks holding one of those are cut by
    `_TOKEN` itself. The texts are joined by newlines (no token crosses whitespace), so a
    batch costs a few passes of numpy. Texts holding a special character (the class of
    `_special_pattern`, found here with a table) are cut by :func:`text_tokens` alone.
    """
    joined, text_starts, codes, special = _joined_codes(texts)
    starts, ends = _plain_token_arrays(joined, codes)
    offsets = np.stack((starts, ends), axis=1) if len(starts) else np.zeros((0, 2), dtype=np.int64)
    if not special:
        # The first token of each text: the first starting at or after the text's start.
        return offsets, np.append(np.searchsorted(offsets[:, 0], text_starts), len(offsets))
    text_of = np.searchsorted(text_starts, offsets[:, 0], side="right") - 1
    if special:
        keep = ~np.isin(text_of, special)
        exact = [np.asarray(text_tokens(texts[number]), dtype=np.int64).reshape(-1, 2) + text_starts[number] for number in special]
        exact_of = np.repeat(np.asarray(special, dtype=np.int64), [len(part) for part in exact])
        offsets = np.concatenate([offsets[keep], *exact])
        text_of = np.concatenate((text_of[keep], exact_of))
        order = np.argsort(offsets[:, 0], kind="stable")
        offsets, text_of = offsets[order], text_of[order]
    bounds = np.searchsorted(text_of, np.arange(len(texts) + 1))
    return offsets, bounds


def _joined_codes(texts: list[str]) -> tuple[str, np.ndarray, np.ndarray, list[int]]:
    """`"\\n".join(texts)`, where each text begins in it, its code points (astral ones as
    U+FFFF, a plain character) and the numbers of the texts holding a special character (of
    `_special_pattern`'s class: those the quick paths leave to the exact ones)."""
    joined = "\n".join(texts)
    text_starts = joined_starts(texts)
    if joined.isascii():
        return joined, text_starts, np.frombuffer(joined.encode("ascii"), dtype=np.uint8), []
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    wide = np.flatnonzero(codes >= 0x80)  # no ASCII character is special: look only at the others
    wide_codes = codes[wide]
    astral = wide_codes > 0xFFFF
    if astral.any():
        codes = codes.copy()
        codes[wide[astral]] = 0xFFFF
        wide_codes = codes[wide]
    marked = wide[_special_table(wide_codes)[wide_codes] | astral]
    special = np.unique(np.searchsorted(text_starts, marked, side="right") - 1).tolist() if len(marked) else []
    return joined, text_starts, codes, special


_SPECIAL_TABLE = np.zeros(0x10000, dtype=bool)
_SPECIAL_KNOWN = np.zeros(0x10000, dtype=bool)
_SPECIAL_KNOWN[:0x80] = True  # no ASCII character is special


def _special_table(codes: np.ndarray) -> np.ndarray:
    """Per BMP character: does `_special_pattern` match it? Worked out for the characters of
    `codes` not met before (a few hundred in most texts, not all 65,536 at once)."""
    unknown = codes[~_SPECIAL_KNOWN[codes]]
    if len(unknown):
        for code in np.unique(unknown).tolist():
            char = chr(code)
            _SPECIAL_TABLE[code] = is_invisible(char) or _attaches(char) or _is_regional_indicator(char)
            _SPECIAL_KNOWN[code] = True
    return _SPECIAL_TABLE


def line_arrays(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`line_spans` of every text as one (n, 3) int64 array of (line start, start, end)
    offsets into `"\\n".join(texts)`, text after text, and the bounds of each text's rows.

    A text with only newlines for breaks and no special character has lines between its
    newlines, trimmed of what str.isspace finds (nothing else is blank or attaches there):
    found with numpy for all such texts at once. Other texts take :func:`line_spans`.
    """
    joined, text_starts, codes, special = _joined_codes(texts)
    exact = sorted(set(special) | {number for number, text in enumerate(texts) if "\r" in text or "\u2028" in text or "\u2029" in text})
    newlines = np.flatnonzero(codes == 10)
    begins = np.concatenate(([0], newlines + 1))
    ends = np.append(newlines, len(codes))
    # Most lines begin and end with a visible character; only the others are trimmed in Python.
    space = _classes()[1]
    filled = np.flatnonzero(ends > begins)
    first, last = begins.copy(), ends.copy()
    edges = codes[np.concatenate((begins[filled], ends[filled] - 1))]
    blank_edge = space[edges[: len(filled)]] | space[edges[len(filled) :]]
    for line in filled[blank_edge].tolist():
        begin, end = int(begins[line]), int(ends[line])
        left = joined[begin:end].lstrip()
        first[line] = end - len(left)
        last[line] = first[line] + len(left.rstrip())
    kept = last > first
    rows = np.stack((begins[kept], first[kept], last[kept]), axis=1)
    text_of = np.searchsorted(text_starts, rows[:, 0], side="right") - 1
    if exact:
        keep = ~np.isin(text_of, exact)
        spans = [np.asarray(line_spans(texts[number]), dtype=np.int64).reshape(-1, 3) + text_starts[number] for number in exact]
        rows = np.concatenate([rows[keep], *spans])
        text_of = np.concatenate((text_of[keep], np.repeat(np.asarray(exact, dtype=np.int64), [len(part) for part in spans])))
        order = np.argsort(rows[:, 0], kind="stable")
        rows, text_of = rows[order], text_of[order]
    return rows, np.searchsorted(text_of, np.arange(len(texts) + 1))


def _plain_token_arrays(text: str, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the `_TOKEN` matches of a text without special characters, whose
    code points (all in the BMP) are `codes`."""
    if not text:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    kinds = _kinds()[codes]
    alnum, other = kinds == _ALNUM, kinds == _OTHER
    # +1 where a run of letters and digits begins, -1 just after one ends (a pass fewer than shifted copies).
    count = len(codes)
    step = np.empty(count + 1, dtype=np.int8)
    flags = alnum.view(np.int8)
    step[0], step[count] = flags[0], -flags[-1]
    np.subtract(flags[1:], flags[:-1], out=step[1:count])
    starts = np.flatnonzero((step[:count] == 1) | other)
    ends = np.flatnonzero((step[1:] == -1) | other) + 1
    # Tricky: another character with a letter or digit after it and one before it (or a quote).
    followed = np.flatnonzero(other[:-1] & alnum[1:])
    before = alnum[np.maximum(followed - 1, 0)] & (followed > 0)
    followed_codes = codes[followed]
    tricky = followed[before | (followed_codes == _QUOTES[0]) | (followed_codes == _QUOTES[1])]
    if not len(tricky):
        return starts, ends
    # The whitespace-delimited chunks holding a tricky character, cut by the pattern. Every
    # character but whitespace is in a token, so a chunk is a run of tokens each ending where
    # the next begins.
    chunk_of = np.zeros(len(starts), dtype=np.int64)  # per token, its chunk
    np.cumsum(starts[1:] != ends[:-1], out=chunk_of[1:])
    firsts = np.flatnonzero(np.append(True, starts[1:] != ends[:-1]))  # per chunk, its first token
    tricky_chunks = np.unique(chunk_of[np.searchsorted(starts, tricky)])
    chunk_starts = starts[firsts[tricky_chunks]]
    chunk_ends = ends[np.append(firsts[1:], len(starts))[tricky_chunks] - 1]
    marked = np.zeros(len(firsts), dtype=bool)
    marked[tricky_chunks] = True
    kept = ~marked[chunk_of]
    spans = [match.span() for start, end in zip(chunk_starts.tolist(), chunk_ends.tolist()) for match in _TOKEN.finditer(text, start, end)]
    cut = np.array(spans, dtype=np.int64).reshape(-1, 2)
    kept_starts, kept_ends = starts[kept], ends[kept]
    # No kept token starts where a cut one does (they lie outside the chunks): insert in order.
    places = np.searchsorted(kept_starts, cut[:, 0])
    return np.insert(kept_starts, places, cut[:, 0]), np.insert(kept_ends, places, cut[:, 1])
