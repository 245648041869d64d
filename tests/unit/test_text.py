"""Paragraphs, sentences and tokens as offsets that survive tricky Unicode."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from curate.text import TextModel, is_invisible, line_starts, paragraph_spans, sentence_spans, token_spans

NBSP = "\u00a0"
ZWSP = "\u200b"
ZWJ = "\u200d"
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # man ZWJ woman ZWJ girl
THUMBS = "\U0001F44D\U0001F3FD"  # thumbs up, medium skin tone
FLAG = "\U0001F1EC\U0001F1E7"  # regional indicators G B
KEYCAP = "1\ufe0f\u20e3"


def words(text, spans):
    return [text[start:end] for start, end in spans]


def test_tokens_on_curly_quotes_dashes_and_nbsp():
    text = f"\u201cWe\u2019re close,\u201d said Kim{NBSP}Jong-un \u2014 at 10:30 \u2013 U.S. shares rose 2.5%."
    assert words(text, token_spans(text)) == [
        "\u201c", "We", "\u2019re", "close", ",", "\u201d", "said", "Kim", "Jong-un", "\u2014", "at", "10:30",
        "\u2013", "U.S", ".", "shares", "rose", "2.5", "%", ".",
    ]


def test_emoji_sequences_stay_whole_and_invisible_characters_are_no_tokens():
    text = f"{FAMILY} and {THUMBS} {FLAG}{KEYCAP} zero{ZWSP}width \ufeffBOM {ZWJ} end"
    assert words(text, token_spans(text)) == [FAMILY, "and", THUMBS, FLAG, KEYCAP, "zero", "width", "BOM", "end"]


def test_combining_marks_and_soft_hyphens_stay_inside_words():
    text = "Jose\u0301 Marti\u0301nez of Ver\u00adwaltung"
    assert words(text, token_spans(text)) == ["Jose\u0301", "Marti\u0301nez", "of", "Ver\u00adwaltung"]


def test_crlf_paragraphs_line_starts_and_sentences():
    text = "First line. Second sentence!\r\n\r\n  Mr. Smith went to Washington. He left.\r\nLast"
    assert words(text, paragraph_spans(text)) == [
        "First line. Second sentence!", "Mr. Smith went to Washington. He left.", "Last",
    ]
    starts = line_starts(text)
    assert starts == [0, 32, text.index("Last")]
    model = TextModel(text)
    assert [words(text, paragraph.sentences) for paragraph in model.paragraphs] == [
        ["First line.", "Second sentence!"], ["Mr. Smith went to Washington.", "He left."], ["Last"],
    ]
    assert model.boundary_offset(text.index("Mr.")) == 32  # a paragraph's story starts at its line
    assert model.boundary_offset(text.index("He left")) == text.index("He left")


def test_lines_holding_only_invisible_characters_are_blank():
    text = f"a\n{ZWSP}\ufeff \nb\u2028c"
    assert words(text, paragraph_spans(text)) == ["a", "b", "c"]
    assert line_starts(text) == [0, text.index("b"), text.index("c")]
    assert [(p.line_start, p.start) for p in TextModel(text).paragraphs] == [(0, 0), (6, 6), (8, 8)]


def test_lookups_by_offset():
    text = "One two.\nThree four. Five"
    model = TextModel(text)
    assert model.token_at(5) == 1 and model.token_at(0) == 0
    assert model.paragraph_at(text.index("four")) == 1
    assert model.sentence_start_at(text.index("Five") + 2) == text.index("Five")
    assert model.snap_to_tokens(1, 6) == (0, 7)
    assert model.snap_to_tokens(8, 9) is None


# ---- properties over generated text

LETTERS = st.characters(categories=["Lu", "Ll", "Lo", "Nd"])
MARKS = st.sampled_from(["\u0301", "\u0308", "\u20e3", "\ufe0f"])
EMOJI = st.sampled_from([FAMILY, THUMBS, FLAG, "\U0001F600", "\u2764\ufe0f", "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"])


@st.composite
def word(draw):
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(EMOJI)
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        parts.append(draw(LETTERS))
        if draw(st.integers(0, 4)) == 0:
            parts.append(draw(MARKS))
    return "".join(parts)


SEPARATORS = st.sampled_from([" ", NBSP, "\t", "\n", "\r\n", "\u2028", f" {ZWSP} ", "\u3000", "\n\n  ", f"{ZWSP}\n"])


@given(st.lists(st.tuples(word(), SEPARATORS), min_size=1, max_size=25))
@settings(max_examples=300, deadline=None)
def test_words_between_whitespace_come_back_as_exact_tokens(pieces):
    text = "".join(piece + separator for piece, separator in pieces)
    assert words(text, TextModel(text).tokens) == [piece for piece, _ in pieces]


TRICKY = st.sampled_from(
    list("aZ9 .,!?\"'()-\n\r\t") + [NBSP, ZWSP, ZWJ, "\ufeff", "\u00ad", "\u2028", "\u2019", "\u201c", "\u201d",
    "\u2014", "\u2013", "\u2026", "\u0301", "\ufe0f", "\U0001F3FD", "\U0001F1EC", "\U0001F600", "\u00e9", "\u4e2d", "\x1b"]
)


def visible(char):
    return not char.isspace() and not is_invisible(char)


@given(st.text(TRICKY, max_size=80))
@settings(max_examples=400, deadline=None)
def test_spans_cover_every_visible_character_and_nest(text):
    model = TextModel(text)
    tokens = model.tokens
    covered = set()
    previous_end = 0
    for start, end in tokens:
        assert previous_end <= start < end <= len(text)
        previous_end = end
        assert not any(char.isspace() for char in text[start:end])
        covered.update(range(start, end))
        # No token starts with a character that belongs to the one before it.
        if start > 0 and unicodedata.category(text[start]) in ("Mn", "Me") and visible(text[start - 1]):
            raise AssertionError(f"token {text[start:end]!r} split from {text[start - 1]!r}")
    assert {index for index, char in enumerate(text) if visible(char)} <= covered
    edges = model.token_edges
    previous = 0
    for paragraph in model.paragraphs:
        assert previous <= paragraph.line_start <= paragraph.start < paragraph.end
        assert all(not visible(char) for char in text[paragraph.line_start : paragraph.start])
        assert "\n" not in text[paragraph.start : paragraph.end] and "\r" not in text[paragraph.start : paragraph.end]
        assert visible(text[paragraph.start]) and visible(text[paragraph.end - 1])
        assert paragraph.sentences[0][0] == paragraph.start and paragraph.sentences[-1][1] == paragraph.end
        for (_, end), (start, _) in zip(paragraph.sentences, paragraph.sentences[1:]):
            assert end < start and all(not visible(char) for char in text[end:start])
        for start, end in paragraph.sentences:
            assert start in edges and end in edges
        assert sentence_spans(text, paragraph.start, paragraph.end) == list(paragraph.sentences)
        previous = paragraph.end
    assert [p.line_start for p in model.paragraphs] == line_starts(text)
