"""Boilerplate proposer: credit and caption lines, bylines, datelines, navigation."""

from __future__ import annotations

from curate.model import BoilerplateRange
from curate.suggest.layout import boilerplate_kind, dateline_prefix_end, is_dateline, is_name_line
from curate.text import TextModel


def boilerplate_ranges(model: TextModel, kinds: list[str] | None = None) -> list[BoilerplateRange]:
    """Boilerplate ranges of a text, whole lines or a dateline opening a line, sorted.

    `kinds` limits the result to the corpus's boilerplate kinds (None keeps all).
    """
    text = model.text
    paragraphs = model.paragraphs
    ranges: list[BoilerplateRange] = []
    for index, paragraph in enumerate(paragraphs):
        line = text[paragraph.start : paragraph.end]
        kind = boilerplate_kind(line)
        if kind is None and _is_byline_between(model, index):
            kind = "byline"
        if kind is not None:
            ranges.append(BoilerplateRange(start=paragraph.start, end=paragraph.end, kind=kind))
            continue
        prefix = dateline_prefix_end(line)
        if prefix:
            end = paragraph.start + prefix
            while end > paragraph.start and not text[end - 1].isalnum() and text[end - 1] not in ")":
                end -= 1
            if end > paragraph.start:
                ranges.append(BoilerplateRange(start=paragraph.start, end=end, kind="dateline"))
    if kinds is not None:
        allowed = set(kinds)
        ranges = [item for item in ranges if item.kind in allowed]
    return ranges


def _is_byline_between(model: TextModel, index: int) -> bool:
    """A bare name line just before a dateline (the Reuters layout: headline, byline, dateline)."""
    paragraphs = model.paragraphs
    if index == 0 or index + 1 >= len(paragraphs):
        return False
    text = model.text
    line = text[paragraphs[index].start : paragraphs[index].end]
    after = text[paragraphs[index + 1].start : paragraphs[index + 1].end]
    return is_name_line(line) and is_dateline(after)
