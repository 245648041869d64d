"""The snippet as screen lines: safe display text, word wrapping, and one Strip per line.

A paragraph is wrapped from its text, the text width and the story starts only: entities,
boilerplate and truncation never move a character, so labelling leaves every token where it
was on screen. They are drawn as styles on the text (a label's colour, underlined, so they
read without colour too) and as marks in a margin to the right of the text: the labels of the
entities starting on the line, the kind of a boilerplate line, and `✂ cut` after the last
word of a story marked truncated (in the margin when the line has no room left). The cursor
and the selection are applied when a line is rendered, so moving them never re-wraps
anything. Every line keeps the character offsets it shows, which is how clicks and up/down
map back onto the text.
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
    """One screen line. Text lines show `[start, end)` from column 0, one piece (start, end,
    None) per wrapped word run; `prefix` stays empty (marks go to the margin, not the text)."""

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


CUT_MARK = "✂ cut"
DEFAULT_TEXT_WIDTH = 100
_MARGIN_MIN = 10
_MARGIN_MAX = 24


def margin_width(labels) -> int:
    """Columns kept right of the text for its marks: a gap and two of the longest labels."""
    longest = max((cells(safe_text(label)) for label in labels), default=4)
    return max(_MARGIN_MIN, min(_MARGIN_MAX, 2 + 2 * longest + 1))


def text_width_for(view_width: int, max_width: int, labels) -> int:
    """The wrap width: the view less the margin, at most `max_width` (0: no maximum)."""
    width = view_width - margin_width(labels)
    if max_width > 0:
        width = min(width, max_width)
    return max(8, width)


def layout_paragraph(
    display: str,
    model: TextModel,
    record: Annotation,
    paragraph: int,
    width: int,
    last: bool,
) -> list[Line]:
    """Lines of one paragraph: a rule before each story starting in it, wrapped text, a gap.

    Only the text, the width and the story starts decide the lines (never entities,
    boilerplate or truncation)."""
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
    segment_starts = sorted({chosen.start, *cuts})
    for number, segment_start in enumerate(segment_starts):
        segment_end = segment_starts[number + 1] if number + 1 < len(segment_starts) else chosen.end
        if segment_start in cuts:
            lines.append(Line(RULE, segment_start, segment_start, story_start=story_starts[bisect_right(story_starts, segment_start) - 1]))
        lines.extend(_wrap(display, segment_start, segment_end, width))
    if not last:
        lines.append(Line(BLANK, chosen.end, chosen.end))
    return lines


def _wrap(display: str, start: int, end: int, width: int) -> list[Line]:
    lines: list[Line] = []
    line_start = start
    used = 0

    def flush(line_end: int) -> None:
        nonlocal line_start, used
        lines.append(Line(TEXT, line_start, line_end, "", ((line_start, line_end, None),) if line_end > line_start else ()))
        line_start = line_end
        used = 0

    for match in _CHUNK.finditer(display, start, end):
        chunk_start, chunk_end = match.span()
        word_end = chunk_start + len(match.group().rstrip())
        word_width = cells(display[chunk_start:word_end])
        if used and used + word_width > width:
            flush(chunk_start)
        if word_width > width - used:
            # A word longer than the line: cut it into line-sized parts.
            for offset in range(chunk_start, chunk_end):
                char_width = cells(display[offset])
                if used and used + char_width > width:
                    flush(offset)
                used += char_width
            continue
        used += cells(display[chunk_start:chunk_end])
    if line_start < end or not lines:
        flush(end)
    return lines


def x_of_offset(display: str, line: Line, offset: int) -> int:
    """Screen column of character `offset` on a text line (0: the text's first column)."""
    return cells(line.prefix) + cells(display[line.start : max(line.start, min(offset, line.end))])


def offset_at_x(display: str, line: Line, x: int) -> int:
    """Character offset under screen column `x` of a text line (the nearest one)."""
    column = cells(line.prefix)
    last = line.start
    for offset in range(line.start, line.end):
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
    cut: Style = Style(bold=True, italic=True)


def label_styles(colours: dict[str, str]) -> tuple[dict[str, Style], dict[str, Style]]:
    """(entity text style, tag style) per label from corpus.toml colours. Entities are also
    underlined, so they stand out where colours do not show (NO_COLOR, a monochrome terminal)."""
    text_styles = {}
    tag_styles = {}
    for label, colour in colours.items():
        try:
            text_styles[label] = Style(color="#101010", bgcolor=colour, underline=True)
            tag_styles[label] = Style(color=colour, bold=True)
        except Exception:  # an unknown colour name in corpus.toml: fall back to reverse video
            text_styles[label] = Style(reverse=True, underline=True)
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
    text_width: int | None = None,
) -> Strip:
    """One line as a Strip of exactly `width` cells: the text in its first `text_width` cells
    (all of them when None), then the margin with the line's marks; `highlights` are marked
    (review's disagreements)."""
    if text_width is None or text_width > width:
        text_width = width
    if line.kind == BLANK:
        return Strip.blank(width, styles.text)
    if line.kind == RULE:
        return _render_rule(line, record, styles, text_width).crop_extend(0, width, styles.text)
    segments: list[Segment] = []
    if line.prefix:
        segments.append(Segment(line.prefix, styles.boilerplate + Style(italic=True)))
    entity_starts = _entity_starts(record)
    boilerplate_ranges = [(item.start, item.end) for item in record.boilerplate if item.start < line.end and item.end > line.start]
    marked = [(start, end) for start, end in highlights if start < line.end and end > line.start]
    if line.end > line.start:
        start, end = line.start, line.end
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
                style = style + styles.labels.get(record.entities[index].label, Style(reverse=True, underline=True))
            if run_start in unsafe:
                style = style + styles.placeholder
            if any(mark_start <= run_start < mark_end for mark_start, mark_end in marked):
                style = style + styles.disagreement
            if selection is not None and selection[0] <= run_start < selection[1]:
                style = style + styles.selection
            if cursor is not None and cursor[0] <= run_start < cursor[1]:
                style = style + styles.cursor
            segments.append(Segment(display[run_start:run_end], style))
    strip = Strip(segments).crop_extend(0, text_width, styles.text)
    cut = _cut_on_line(line, text, record)
    marks: list[Segment] = []
    if cut is not None:
        cut_x = cells(line.prefix) + cells(display[line.start : cut + 1]) + 1
        if cut_x + cells(CUT_MARK) <= text_width:
            strip = Strip([*strip.crop(0, cut_x), Segment(CUT_MARK, styles.cut), *strip.crop(cut_x + cells(CUT_MARK), text_width)])
        else:
            marks.append(Segment(CUT_MARK, styles.cut))
    marks.extend(_line_marks(line, record, styles, entity_starts, boilerplate_ranges))
    margin = _fit_marks(marks, width - text_width - 2, styles)
    return Strip([*strip, Segment("  ", styles.text), *margin]).crop_extend(0, width, styles.text)


def _line_marks(line: Line, record: Annotation, styles: Styles, entity_starts: list[int], boilerplate_ranges) -> list[Segment]:
    """The margin's marks for a text line: a boilerplate kind, then the labels of the entities
    starting on it, in text order."""
    marks: list[Segment] = []
    for item in record.boilerplate:
        if item.start < line.end and item.end > line.start:
            marks.append(Segment(f"[{safe_text(item.kind)}]", styles.boilerplate + Style(italic=True)))
            break
    first = bisect_left(entity_starts, line.start)
    last = bisect_left(entity_starts, line.end)
    for entity in record.entities[first:last]:
        marks.append(Segment(safe_text(entity.label), styles.tags.get(entity.label, styles.tag)))
    return marks


def _fit_marks(marks: list[Segment], room: int, styles: Styles) -> list[Segment]:
    """Marks a space apart in `room` cells; those that do not fit become `+N`."""
    fitted: list[Segment] = []
    used = 0
    for index, mark in enumerate(marks):
        gap = 1 if fitted else 0
        width = cells(mark.text)
        left = len(marks) - index - 1
        reserve = len(f" +{left}") if left else 0
        if used + gap + width + reserve <= room:
            if gap:
                fitted.append(Segment(" ", styles.text))
            fitted.append(mark)
            used += gap + width
            continue
        more = f"{' ' if fitted else ''}+{len(marks) - index}"
        if used + len(more) <= room:
            fitted.append(Segment(more, styles.tag))
        break
    return fitted


# The stories last drawn and, per story marked truncated, the offset of its last visible
# character (where `✂ cut` goes).
_cuts_of: tuple[object, object, dict[int, int]] = (None, None, {})


def _cut_on_line(line: Line, text: str, record: Annotation) -> int | None:
    """The offset of a truncated story's last non-space character when it is on this line
    (read in the text itself: the display text shows a line break as a visible ␊)."""
    global _cuts_of
    if _cuts_of[0] is not record.stories or _cuts_of[1] is not text:
        cuts: dict[int, int] = {}
        for story in record.stories:
            if story.truncated:
                offset = min(story.end, len(text)) - 1
                while offset > story.start and text[offset].isspace():
                    offset -= 1
                if offset >= story.start and not text[offset].isspace():
                    cuts[offset] = story.start
        _cuts_of = (record.stories, text, cuts)
    for offset in _cuts_of[2]:
        if line.start <= offset < line.end:
            return offset
    return None


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
