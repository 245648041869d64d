"""Truncation proposer: a story whose last paragraph of text stops mid-sentence."""

from __future__ import annotations

from curate.model import BoilerplateRange
from curate.suggest.layout import ends_mid_sentence
from curate.text import TextModel


def last_text_paragraph(model: TextModel, start: int, end: int, boilerplate: list[BoilerplateRange] = ()) -> tuple[int, int] | None:
    """(start, end) of the last paragraph in `[start, end)` that is not wholly boilerplate."""
    covered = {(item.start, item.end) for item in boilerplate}
    for paragraph in reversed(model.paragraphs):
        if paragraph.start >= end or paragraph.end <= start:
            continue
        if (paragraph.start, paragraph.end) in covered:
            continue
        return paragraph.start, min(paragraph.end, end)
    return None


def is_truncated(model: TextModel, start: int, end: int, boilerplate: list[BoilerplateRange] = ()) -> bool:
    """True when the story `[start, end)` ends with prose cut off mid-sentence."""
    last = last_text_paragraph(model, start, end, boilerplate)
    if last is None:
        return False
    return ends_mid_sentence(model.text[last[0] : last[1]])
