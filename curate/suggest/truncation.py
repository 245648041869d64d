"""Truncation proposer: a story whose text stops mid-sentence."""

from __future__ import annotations

from curate.model import BoilerplateRange
from curate.suggest.layout import ends_mid_sentence, is_dateline, is_place_line, words
from curate.text import TextModel

_OPEN_ENDINGS = frozenset(",;:-\u2013\u2014(")


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


def _last_paragraph(model: TextModel, start: int, end: int) -> str:
    for paragraph in reversed(model.paragraphs):
        if paragraph.start < end and paragraph.end > start:
            return model.text[max(start, paragraph.start) : min(paragraph.end, end)]
    return ""


def _stops_short(line: str) -> bool:
    """A fragment cut at the end of the text: "Australia will defend", "Middlesex 20 points,"."""
    stripped = line.rstrip()
    if not stripped:
        return False
    if stripped[-1] in _OPEN_ENDINGS:
        return True
    line_words = words(stripped)
    return len(line_words) >= 3 and any(word[0].islower() for word in line_words[1:]) and stripped[-1].isalpha()


def is_truncated(model: TextModel, start: int, end: int, boilerplate: list[BoilerplateRange] = (), *, ends_text: bool = False) -> bool:
    """True when the story `[start, end)` is cut off.

    Prose that stops without closing its sentence, a story that ends on its own dateline (the
    body never came), and, for the story that ends the text (`ends_text`), a shorter
    fragment that stops on a comma or a lower-case word.
    """
    last_line = _last_paragraph(model, start, end).strip()
    if last_line and last_line != model.text[start:end].strip() and (is_dateline(last_line) or (ends_text and is_place_line(last_line))):
        return True
    last = last_text_paragraph(model, start, end, boilerplate)
    if last is None:
        return False
    line = model.text[last[0] : last[1]]
    return ends_mid_sentence(line) or (ends_text and _stops_short(line))
