"""Wrapping and drawing a snippet's lines (curate/tui/document.py) without an app."""

from __future__ import annotations

from rich.style import Style

from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.text import TextModel
from curate.tui.document import (
    CUT_MARK,
    TEXT,
    Styles,
    cells,
    label_styles,
    layout_paragraph,
    margin_width,
    offset_at_x,
    render_line,
    safe_text,
    text_width_for,
    x_of_offset,
)

PARAGRAPH = (
    "Kim Jong-un met Vladimir Putin in Pyongyang on Tuesday and the two leaders talked about "
    "trade, fishing rights and a new railway to Vladivostok, officials in Seoul said."
)
TEXT_ = PARAGRAPH + "\nPhoto: AP"


def record(**fields) -> Annotation:
    fields.setdefault("stories", [Story(start=0, end=len(TEXT_))])
    return Annotation(snippet_id="s", annotator="ana", **fields)


def entity(text: str, label: str) -> Entity:
    start = TEXT_.index(text)
    return Entity(start=start, end=start + len(text), label=label)


def styles() -> Styles:
    labels, tags = label_styles({"PERSON": "#e06c75", "WORK_OF_ART": "#61afef"})
    plain = Style()
    return Styles(plain, Style(reverse=True), Style(underline=True), Style(dim=True), plain, plain, Style(bold=True), labels, tags)


def lines_of(annotation: Annotation, width: int = 40):
    model = TextModel(TEXT_)
    display = safe_text(TEXT_)
    return [line for paragraph in range(len(model.paragraphs)) for line in layout_paragraph(display, model, annotation, paragraph, width, paragraph == len(model.paragraphs) - 1)]


def test_wrapping_does_not_depend_on_entities_or_boilerplate_or_truncation():
    plain = lines_of(record())
    assert len([line for line in plain if line.kind == TEXT]) > 3  # the paragraph wraps
    labelled = record(
        entities=[entity("Kim Jong-un", "PERSON"), entity("Vladimir Putin", "WORK_OF_ART"), entity("Pyongyang", "PERSON")],
        boilerplate=[BoilerplateRange(start=TEXT_.index("Photo"), end=len(TEXT_), kind="credit")],
        stories=[Story(start=0, end=len(TEXT_), truncated=True)],
    )
    assert lines_of(labelled) == plain
    for line in plain:
        if line.kind == TEXT:
            assert cells(TEXT_[line.start : line.end].rstrip()) <= 40
            # columns map to offsets and back on the text alone
            for offset in range(line.start, line.end):
                assert offset_at_x(TEXT_, line, x_of_offset(TEXT_, line, offset)) == offset


def test_text_width_keeps_a_margin_and_a_maximum():
    labels = ["PERSON", "ORG"]
    assert margin_width(labels) == 2 + 2 * len("PERSON") + 1
    assert text_width_for(196, 100, labels) == 100  # a wide terminal: the maximum
    assert text_width_for(196, 0, labels) == 196 - margin_width(labels)  # 0: no maximum
    assert text_width_for(76, 100, labels) == 76 - margin_width(labels)  # 80 columns: the margin first
    assert text_width_for(5, 100, labels) == 8


def test_margin_shows_labels_in_order_the_kind_and_the_cut_without_moving_text():
    annotation = record(
        entities=[entity("Kim Jong-un", "PERSON"), entity("Vladimir Putin", "WORK_OF_ART")],
        boilerplate=[BoilerplateRange(start=TEXT_.index("Photo"), end=len(TEXT_), kind="credit")],
        stories=[Story(start=0, end=len(TEXT_), truncated=True)],
    )
    text_lines = [line for line in lines_of(annotation) if line.kind == TEXT]
    width, text_width = 70, 40
    drawn = ["".join(segment.text for segment in render_line(line, TEXT_, TEXT_, annotation, styles(), None, None, width, (), text_width)) for line in text_lines]
    bare = ["".join(segment.text for segment in render_line(line, TEXT_, TEXT_, record(), styles(), None, None, width, (), text_width)) for line in text_lines]
    for line, line_drawn, line_bare in zip(text_lines, drawn, bare):
        assert len(line_drawn) == width
        shown = len(TEXT_[line.start : line.end].rstrip())
        assert line_drawn[:shown] == line_bare[:shown] == TEXT_[line.start : line.start + shown]  # the text is where it was
    assert drawn[0][text_width + 2 :].rstrip() == "PERSON WORK_OF_ART"
    # the last line: "Photo: AP", then the cut right after it, the kind in the margin
    assert drawn[-1].startswith("Photo: AP " + CUT_MARK)
    assert drawn[-1][text_width + 2 :].rstrip() == "[credit]"


def test_the_cut_follows_a_story_that_ends_at_a_line_break():
    end = len(PARAGRAPH) + 1  # the story holds the paragraph's line break
    annotation = record(stories=[Story(start=0, end=end, truncated=True), Story(start=end, end=len(TEXT_))])
    display = safe_text(TEXT_)  # the line break shows as ␊ here
    text_lines = [line for line in lines_of(annotation) if line.kind == TEXT]
    drawn = ["".join(segment.text for segment in render_line(line, TEXT_, display, annotation, styles(), None, None, 70, (), 40)) for line in text_lines]
    marked = [row for row in drawn if CUT_MARK in row]
    assert len(marked) == 1 and marked[0].rstrip().endswith("Seoul said. " + CUT_MARK)


def test_margin_too_narrow_counts_what_it_leaves_out():
    annotation = record(entities=[entity("Kim", "PERSON"), entity("Vladimir", "WORK_OF_ART"), entity("Putin", "PERSON")])
    line = [line for line in lines_of(annotation) if line.kind == TEXT][0]
    assert TEXT_[line.start : line.end].startswith("Kim Jong-un met Vladimir Putin ")
    strip = render_line(line, TEXT_, TEXT_, annotation, styles(), None, None, 40 + 2 + 14, (), 40)
    assert "".join(segment.text for segment in strip)[42:].rstrip() == "PERSON +2"
