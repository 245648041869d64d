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
from dataclasses import dataclass
from functools import cached_property

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

# Abbreviations that end with a period but rarely end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sen rep gov gen col lt sgt st jr sr inc corp ltd co no vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec mt ft".split()
)


def is_invisible(char: str) -> bool:
    """True for characters that take no place of their own: format chars (ZWSP, ZWJ, BOM)."""
    return unicodedata.category(char) == "Cf"


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every non-blank line, without its line break and outer whitespace."""
    spans: list[tuple[int, int]] = []
    position = 0
    for match in _LINE_BREAK.finditer(text):
        _append_trimmed(spans, text, position, match.start())
        position = match.end()
    _append_trimmed(spans, text, position, len(text))
    return spans


def line_starts(text: str) -> list[int]:
    """The offset where each non-blank line begins (after its predecessor's line break).

    Story starts are placed here, so the whitespace and break before a paragraph belong to
    the previous story, as in DESIGN.md's example.
    """
    starts: list[int] = []
    position = 0
    for match in _LINE_BREAK.finditer(text):
        if text[position : match.start()].strip():
            starts.append(position)
        position = match.end()
    if text[position:].strip():
        starts.append(position)
    return starts


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and (text[start].isspace() or is_invisible(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or is_invisible(text[end - 1])):
        end -= 1
    if end > start:
        spans.append((start, end))


def token_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of every token of `text[start:end]`, offsets into `text`."""
    spans = []
    for match in _TOKEN.finditer(text, start, len(text) if end is None else end):
        if match.end() - match.start() == 1 and is_invisible(match.group()):
            continue
        spans.append((match.start(), match.end()))
    return spans


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
        while sentence_start < end and text[sentence_start].isspace():
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
        spans = paragraph_spans(self.text)
        starts = line_starts(self.text)
        return [
            Paragraph(start, end, line_start, tuple(sentence_spans(self.text, start, end)))
            for (start, end), line_start in zip(spans, starts)
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
