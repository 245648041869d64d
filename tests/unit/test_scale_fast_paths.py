"""Issue 19's fast paths give exactly what the plain paths give, on varied generated input.

- `_lines` (split at newlines, trim with str.strip) against `_lines_exactly` (the line-break
  pattern and the character-by-character trim);
- `paragraph_labels` from line offsets against the same labels computed from a `TextModel`'s
  paragraphs and `Annotation.story_of`, as export computed them before.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from curate.export.rows import paragraph_labels
from curate.model import Annotation, BoilerplateRange, Story
from curate.text import TextModel, _lines, _lines_exactly, line_spans, paragraph_spans

PIECES = st.sampled_from(
    list("aZ9 .,:/!?\"'()-_\n\r\t\x0b\x0c\x1c\x85") + ["\r\n", "\n\n", "  ", "\u00a0", "\u200b", "\u200d", "\ufeff", "\u00ad",
    "\u2060", "\u2028", "\u2029", "\u3000", "\u2019", "\u201c", "\u2014", "\u0301", "\ufe0f", "\u20e3", "\U0001F3FD",
    "\U0001F1EC", "\U0001F600", "\U000E0067", "\U000E007F", "\u00e9", "\u4e2d", "Kim", "U.S.", "word"]
)
TEXTS = st.lists(PIECES, max_size=50).map("".join)


@given(TEXTS)
@settings(max_examples=600, deadline=None)
def test_lines_by_split_and_strip_equal_lines_by_pattern_and_trim(text):
    assert list(_lines(text)) == list(_lines_exactly(text))


def test_lines_keep_invisible_and_attached_characters_at_line_edges_as_the_trim_does():
    text = " \u200bx\u200b \n\ufeff\n\U0001F3F4\U000E0067\U000E007F \n \u00a0Kim\u0301\n"
    assert list(_lines(text)) == list(_lines_exactly(text))
    assert [text[start:end] for start, end in paragraph_spans(text)] == ["x", "\U0001F3F4\U000E0067\U000E007F", "Kim\u0301"]


def reference_paragraph_labels(text: str, record: Annotation) -> list[dict]:
    """The labels as export made them from a TextModel's paragraphs (sentences and all)."""
    starts = {story.start for story in record.stories}
    labels = []
    for number, paragraph in enumerate(TextModel(text).paragraphs):
        covered: dict[str, int] = {}
        for item in record.boilerplate:
            overlap = min(item.end, paragraph.end) - max(item.start, paragraph.start)
            if overlap > 0:
                covered[item.kind] = covered.get(item.kind, 0) + overlap
        kind = "none"
        if covered:
            best = max(covered, key=covered.get)
            if 2 * covered[best] > paragraph.end - paragraph.start:
                kind = best
        labels.append({
            "start": paragraph.start, "end": paragraph.end, "story": record.story_of(paragraph.start),
            "story_start": int(number == 0 or paragraph.line_start in starts or paragraph.start in starts), "boilerplate": kind,
        })
    return labels


@st.composite
def annotated_texts(draw):
    text = draw(TEXTS.filter(bool))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(text)), max_size=4))) - {len(text)})
    edges = [0, *cuts, len(text)]
    stories = [Story(start=start, end=end) for start, end in zip(edges, edges[1:])]
    boilerplate = []
    for start, length, kind in draw(st.lists(st.tuples(st.integers(0, len(text) - 1), st.integers(1, 20), st.sampled_from(["credit", "caption", "nav"])), max_size=4)):
        story_end = next(end for end in edges[1:] if end > start)  # inside one story
        end = min(story_end, start + length)
        if not any(start < item.end and item.start < end for item in boilerplate):
            boilerplate.append(BoilerplateRange(start=start, end=end, kind=kind))
    boilerplate.sort(key=lambda item: item.start)
    return text, Annotation(snippet_id="s", annotator="a", stories=stories, boilerplate=boilerplate, status="done")


@given(annotated_texts())
@settings(max_examples=400, deadline=None)
def test_paragraph_labels_from_line_offsets_equal_those_from_a_text_model(case):
    text, record = case
    assert paragraph_labels(text, record) == reference_paragraph_labels(text, record)
    assert line_spans(text) == [(paragraph.line_start, paragraph.start, paragraph.end) for paragraph in TextModel(text).paragraphs]
