"""The snippet as screen lines: safe display text, word wrapping, and one Strip per line.

A paragraph is laid out into lines once (and again only when its entities, boilerplate or
story starts change, or the width does); the cursor and the selection are applied when a
line is rendered, so moving them never re-wraps anything. Every line keeps the character
offsets it shows, which is how clicks and up/down map back onto the text.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from curate.model import Annotation
from curate.text import TextModel

# Characters that must never reach the terminal raw: C0/C1 controls (escape sequences start
# with one), format characters such as bidi overrides and zero-width joiners, lone
# surrogates, line/paragraph separators and the invisible tag characters. Each becomes one
# visible, single-cell placeholder, so display offsets equal text offsets.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f]"
)


def placeholder(char: str) -> str:
    """The visible stand-in for an unsafe character."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ␀ … ␛ …
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\u00bf"  # ¿ for C1 controls, bidi and other format characters


def safe_text(text: str) -> str:
    """`text` with every unsafe character replaced one for one by its placeholder."""
    return _UNSAFE.sub(lambda match: placeholder(match.group()), text)


def unsafe_positions(text: str, start: int, end: int) -> list[int]:
    return [match.start() for match in _UNSAFE.finditer(text, start, end)]


_CHUNK = re.compile(r"\S+\s*")

RULE = "rule"
TEXT = "text"
BLANK = "blank"


@dataclass(frozen=True)
class Line:
    """One screen line. Text lines show `[start, end)`; `pieces` are (start, end, tag) where a
    piece with a tag is the label drawn after an entity and covers no characters."""

    kind: str
    start: int = 0
    end: int = 0
    prefix: str = ""
    pieces: tuple[tuple[int, int, str | None], ...] = ()
    story_start: int = -1


def cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def tag_text(label: str) -> str:
    return f" {label}"


def layout_paragraph(
    display: str,
    model: TextModel,
    record: Annotation,
    paragraph: int,
    width: int,
    last: bool,
) -> list[Line]:
    """Lines of one paragraph: a rule before each story starting in it, wrapped text, a gap."""
    chosen = model.paragraphs[paragraph]
    width = max(8, width)
    lines: list[Line] = []
    story_starts = [story.start for story in record.stories]
    # Stories that begin in this paragraph: in the gap before it (normally at its line start)
    # or mid-way.
    begin = model.paragraphs[paragraph - 1].end if paragraph else 0
    first = bisect_left(story_starts, begin)
    cuts = []
    for index in range(first, len(story_starts)):
        start = story_starts[index]
        if start >= chosen.end:
            break
        cuts.append(max(start, chosen.start))
    entity_ends = {entity.end: safe_text(entity.label) for entity in record.entities if chosen.start < entity.end <= chosen.end}
    prefix = ""
    for item in record.boilerplate:
        if item.start < chosen.end and item.end > chosen.start:
            prefix = f"[{safe_text(item.kind)}] "
            break
    segment_starts = sorted({chosen.start, *cuts})
    for number, segment_start in enumerate(segment_starts):
        segment_end = segment_starts[number + 1] if number + 1 < len(segment_starts) else chosen.end
        if segment_start in cuts:
            lines.append(Line(RULE, segment_start, segment_start, story_start=story_starts[bisect_right(story_starts, segment_start) - 1]))
        lines.extend(_wrap(display, segment_start, segment_end, width, prefix if number == 0 else "", entity_ends))
    if not last:
        lines.append(Line(BLANK, chosen.end, chosen.end))
    return lines


def _wrap(display: str, start: int, end: int, width: int, prefix: str, entity_ends: dict[int, str]) -> list[Line]:
    lines: list[Line] = []
    pieces: list[tuple[int, int, str | None]] = []
    line_start = start
    used = cells(prefix)
    line_prefix = prefix

    def flush(line_end: int) -> None:
        nonlocal pieces, line_start, used, line_prefix
        lines.append(Line(TEXT, line_start, line_end, line_prefix, tuple(pieces)))
        pieces = []
        line_start = line_end
        used = 0
        line_prefix = ""

    for match in _CHUNK.finditer(display, start, end):
        chunk_start, chunk_end = match.span()
        word_end = chunk_start + len(match.group().rstrip())
        chunk_pieces = _chunk_pieces(chunk_start, chunk_end, entity_ends)
        word_width = sum(_piece_width(display, piece) for piece in chunk_pieces if piece[0] < word_end or piece[2])
        if used and used + word_width > width:
            flush(chunk_start)
        if word_width > width - used:
            # A word longer than the line: cut it into line-sized parts.
            for piece in chunk_pieces:
                piece_start, piece_end, tag = piece
                if tag:
                    tag_width = cells(tag_text(tag))
                    if used and used + tag_width > width:
                        flush(piece_start)
                    pieces.append(piece)
                    used += tag_width
                    continue
                cut = piece_start
                for offset in range(piece_start, piece_end):
                    char_width = cells(display[offset])
                    if used + char_width > width and used:
                        if offset > cut:
                            pieces.append((cut, offset, None))
                        flush(offset)
                        cut = offset
                    used += char_width
                if piece_end > cut:
                    pieces.append((cut, piece_end, None))
            continue
        pieces.extend(chunk_pieces)
        used += sum(_piece_width(display, piece) for piece in chunk_pieces)
    if pieces or not lines:
        flush(end)
    return lines


def _chunk_pieces(start: int, end: int, entity_ends: dict[int, str]) -> list[tuple[int, int, str | None]]:
    pieces: list[tuple[int, int, str | None]] = []
    cut = start
    for offset in range(start + 1, end + 1):
        label = entity_ends.get(offset)
        if label is not None:
            pieces.append((cut, offset, None))
            pieces.append((offset, offset, label))
            cut = offset
    if end > cut:
        pieces.append((cut, end, None))
    return pieces


def _piece_width(display: str, piece: tuple[int, int, str | None]) -> int:
    start, end, tag = piece
    return cells(tag_text(tag)) if tag else cells(display[start:end])


def x_of_offset(display: str, line: Line, offset: int) -> int:
    """Screen column of character `offset` on a text line."""
    x = cells(line.prefix)
    for start, end, tag in line.pieces:
        if tag:
            x += cells(tag_text(tag))
            continue
        if offset < end:
            return x + cells(display[start:max(start, offset)])
        x += cells(display[start:end])
    return x


def offset_at_x(display: str, line: Line, x: int) -> int:
    """Character offset under screen column `x` of a text line (the nearest one)."""
    column = cells(line.prefix)
    last = line.start
    for start, end, tag in line.pieces:
        if tag:
            column += cells(tag_text(tag))
            if column > x:
                return max(line.start, start - 1)
            continue
        for offset in range(start, end):
            column += cells(display[offset])
            last = offset
            if column > x:
                return offset
    return last


@dataclass
class Styles:
    """The rich styles a render uses, read once from the widget's component classes."""

    text: Style
    cursor: Style
    selection: Style
    boilerplate: Style
    rule: Style
    placeholder: Style
    tag: Style
    labels: dict[str, Style]
    tags: dict[str, Style]
    disagreement: Style = Style()


def label_styles(colours: dict[str, str]) -> tuple[dict[str, Style], dict[str, Style]]:
    """(entity text style, tag style) per label from corpus.toml colours."""
    text_styles = {}
    tag_styles = {}
    for label, colour in colours.items():
        try:
            text_styles[label] = Style(color="#101010", bgcolor=colour)
            tag_styles[label] = Style(color=colour, bgcolor="#101010", bold=True)
        except Exception:  # an unknown colour name in corpus.toml: fall back to reverse video
            text_styles[label] = Style(reverse=True)
            tag_styles[label] = Style(bold=True, reverse=True)
    return text_styles, tag_styles


def render_line(
    line: Line,
    text: str,
    display: str,
    record: Annotation,
    styles: Styles,
    cursor: tuple[int, int] | None,
    selection: tuple[int, int] | None,
    width: int,
    highlights: list[tuple[int, int]] = (),
) -> Strip:
    """One line as a Strip of exactly `width` cells; `highlights` are marked (review's disagreements)."""
    if line.kind == BLANK:
        return Strip.blank(width, styles.text)
    if line.kind == RULE:
        return _render_rule(line, record, styles, width)
    segments: list[Segment] = []
    if line.prefix:
        segments.append(Segment(line.prefix, styles.boilerplate + Style(italic=True)))
    entity_starts = _entity_starts(record)
    boilerplate_ranges = [(item.start, item.end) for item in record.boilerplate if item.start < line.end and item.end > line.start]
    marked = [(start, end) for start, end in highlights if start < line.end and end > line.start]
    for start, end, tag in _merged(line.pieces):
        if tag:
            segments.append(Segment(tag_text(tag), styles.tags.get(tag, styles.tag)))
            continue
        edges = {start, end}
        for entity in record.entities[max(0, bisect_right(entity_starts, start) - 1) :]:
            if entity.start >= end:
                break
            edges.update((entity.start, entity.end))
        for range_start, range_end in (*boilerplate_ranges, *marked):
            edges.update((range_start, range_end))
        for span in (cursor, selection):
            if span is not None:
                edges.update(span)
        unsafe = unsafe_positions(text, start, end)
        for position in unsafe:
            edges.update((position, position + 1))
        cuts = sorted(edge for edge in edges if start <= edge <= end)
        for run_start, run_end in zip(cuts, cuts[1:]):
            style = styles.text
            if any(range_start <= run_start < range_end for range_start, range_end in boilerplate_ranges):
                style = style + styles.boilerplate
            index = bisect_right(entity_starts, run_start) - 1
            if index >= 0 and record.entities[index].end > run_start:
                style = style + styles.labels.get(record.entities[index].label, Style(reverse=True))
            if run_start in unsafe:
                style = style + styles.placeholder
            if any(mark_start <= run_start < mark_end for mark_start, mark_end in marked):
                style = style + styles.disagreement
            if selection is not None and selection[0] <= run_start < selection[1]:
                style = style + styles.selection
            if cursor is not None and cursor[0] <= run_start < cursor[1]:
                style = style + styles.cursor
            segments.append(Segment(display[run_start:run_end], style))
    strip = Strip(segments)
    return strip.crop_extend(0, width, styles.text)


# The entity list last drawn (held, so it stays the same object) and its starts: a screenful of
# lines shares one record, and the list can hold thousands of entities.
_starts_of: tuple[list, list[int]] = ([], [])


def _entity_starts(record: Annotation) -> list[int]:
    global _starts_of
    if _starts_of[0] is not record.entities:
        _starts_of = (record.entities, [entity.start for entity in record.entities])
    return _starts_of[1]


def _merged(pieces: tuple[tuple[int, int, str | None], ...]) -> list[tuple[int, int, str | None]]:
    """Adjacent text pieces joined, so a line is drawn in as few runs as its styles allow."""
    merged: list[tuple[int, int, str | None]] = []
    for piece in pieces:
        if merged and not piece[2] and not merged[-1][2] and merged[-1][1] == piece[0]:
            merged[-1] = (merged[-1][0], piece[1], None)
        else:
            merged.append(piece)
    return merged


def _render_rule(line: Line, record: Annotation, styles: Styles, width: int) -> Strip:
    index = record.story_of(line.story_start) if line.story_start >= 0 else 0
    story = record.stories[index]
    title = f" story {index + 1} "
    if story.truncated:
        title += "· truncated "
    lead = "━━"
    rest = max(0, width - cells(lead) - cells(title))
    return Strip([Segment(lead, styles.rule), Segment(title, styles.rule + Style(bold=True)), Segment("━" * rest, styles.rule)]).crop_extend(0, width, styles.text)
