"""The main view: one Line-API ScrollView drawing the snippet from a cache of Strips."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from curate.editing import selection_limit
from curate.model import Annotation
from curate.text import TextModel
from curate.tui.document import (
    DEFAULT_TEXT_WIDTH,
    TEXT,
    Line,
    Styles,
    label_styles,
    layout_paragraph,
    offset_at_x,
    render_line,
    safe_text,
    text_width_for,
    x_of_offset,
)


def _changed_spans(before: list, after: list) -> set[tuple[int, int]]:
    """Spans of the items in one sorted list and not the other. An edit changes a few items
    in place, so the equal runs at both ends are skipped (by identity first: an edit keeps
    the items it does not touch) and only the middle is compared."""
    if before is after:
        return set()
    head = 0
    shorter = min(len(before), len(after))
    while head < shorter and (before[head] is after[head] or before[head] == after[head]):
        head += 1
    tail = 0
    while tail < shorter - head and (before[-1 - tail] is after[-1 - tail] or before[-1 - tail] == after[-1 - tail]):
        tail += 1
    middle_before = before[head : len(before) - tail]
    middle_after = after[head : len(after) - tail]
    return {(item.start, item.end) for item in (*middle_before, *middle_after)}


class SnippetView(ScrollView, can_focus=False):
    """The snippet's text wrapped to the width, with stories, boilerplate, entities and cursor.

    Only lines on screen are rendered; a rendered line is kept until something it shows
    changes. The screen owns the keys; this widget owns the picture and the cursor.
    """

    COMPONENT_CLASSES = {
        "snippet-view--cursor",
        "snippet-view--selection",
        "snippet-view--boilerplate",
        "snippet-view--rule",
        "snippet-view--placeholder",
        "snippet-view--tag",
        "snippet-view--disagreement",
        "snippet-view--cut",
    }

    DEFAULT_CSS = """
    SnippetView {
        overflow-y: scroll;
        overflow-x: hidden;
        padding: 0 1;
    }
    SnippetView > .snippet-view--cursor { text-style: reverse bold underline; }
    SnippetView > .snippet-view--selection { background: $accent 45%; text-style: underline; }
    SnippetView > .snippet-view--boilerplate { color: $text-muted; text-style: dim; }
    SnippetView > .snippet-view--rule { color: $secondary; }
    SnippetView > .snippet-view--placeholder { color: $warning; text-style: dim; }
    SnippetView > .snippet-view--tag { text-style: bold; }
    SnippetView > .snippet-view--disagreement { text-style: bold underline; color: $warning; }
    SnippetView > .snippet-view--cut { color: $warning; text-style: bold italic; }
    """

    # The widest the text is wrapped (0: the view's width); the app's `text_width` (from
    # `--width`) replaces it when the view is mounted.
    max_width = DEFAULT_TEXT_WIDTH

    @dataclass
    class CursorMoved(Message):
        """The cursor or selection moved (by key or mouse)."""

        view: "SnippetView"

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.text = ""
        self.display_text = ""
        self.model: TextModel | None = None
        self.record: Annotation | None = None
        self.colours: dict[str, str] = {}
        self.cursor = 0
        self.anchor: int | None = None
        self._layouts: list[list[Line]] = []
        self._first_lines: list[int] = [0]
        self._strips: dict[int, Strip] = {}
        self._styles: Styles | None = None
        self._layout_width = 0
        self._goal_x: int | None = None
        self._dragging = False
        self.highlights: list[tuple[int, int]] = []

    def on_mount(self) -> None:
        width = getattr(self.app, "text_width", self.max_width)
        if width != self.max_width:
            self.max_width = width
            if self._layouts:
                self._layout_all()

    # ---- loading and updating

    def load(self, text: str, model: TextModel, record: Annotation, colours: dict[str, str], cursor: int = 0) -> None:
        """Show another snippet (or the same one afresh)."""
        self.text = text
        self.display_text = safe_text(text)
        self.model = model
        self.record = record
        self.colours = colours
        self.cursor = min(cursor, max(0, len(model.tokens) - 1))
        self.anchor = None
        self._goal_x = None
        self._layout_all()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.scroll_to_cursor()

    def set_highlights(self, spans: list[tuple[int, int]]) -> None:
        """Mark these spans (the review screen's disagreements) until the next call."""
        self.highlights = sorted(spans)
        self._strips.clear()
        self.refresh()

    def clear(self) -> None:
        """Show nothing (an empty queue)."""
        self.text = self.display_text = ""
        self.model = None
        self.record = None
        self.anchor = None
        self._layout_all()

    def update_record(self, record: Annotation) -> None:
        """Show an edited record: re-wrap only the paragraphs whose layout it changes."""
        old = self.record
        self.record = record
        if not self._layouts:
            return  # the first layout, on the first resize, will show this record
        if old is None or self.model is None:
            self._layout_all()
            return
        changed = self._changed_paragraphs(old, record)
        if changed or old.stories != record.stories:
            # Story rules come and go (lines below move) or a story's title changes.
            for paragraph in changed:
                self._layouts[paragraph] = self._layout(paragraph)
            if changed:
                self._recount()
            self._strips.clear()
            self.refresh()
            return
        # Entities and boilerplate never move text: redraw only the lines showing a change.
        ranges = _changed_spans(old.entities, record.entities) | _changed_spans(old.boilerplate, record.boilerplate)
        lines: set[int] = set()
        for span in ranges:
            lines.update(self._lines_of_span(span))
        self._refresh_document_lines(lines)

    def _changed_paragraphs(self, old: Annotation, new: Annotation) -> set[int]:
        """Paragraphs whose lines change: those where a story starts or stops starting."""
        assert self.model is not None
        paragraphs: set[int] = set()
        starts = {story.start for story in old.stories} ^ {story.start for story in new.stories}
        ends = [paragraph.end for paragraph in self.model.paragraphs]
        for start in starts:
            index = bisect_right(ends, start)
            if index < len(ends):
                paragraphs.add(index)
        return paragraphs

    def _layout(self, paragraph: int) -> list[Line]:
        assert self.model is not None and self.record is not None
        last = paragraph == len(self.model.paragraphs) - 1
        return layout_paragraph(self.display_text, self.model, self.record, paragraph, self._layout_width, last)

    def _layout_all(self) -> None:
        if not self.size.width:
            # Not laid out on screen yet: wrapping now would use a guessed width and be
            # redone on the first resize, so wait for it.
            self._layouts = []
            self._layout_width = 0
            self._recount()
            return
        self._layout_width = self._text_width()
        if self.model is None:
            self._layouts = []
        else:
            self._layouts = [self._layout(index) for index in range(len(self.model.paragraphs))]
        self._recount()
        self._strips.clear()
        self.refresh()

    def _recount(self) -> None:
        first_lines = [0]
        for lines in self._layouts:
            first_lines.append(first_lines[-1] + len(lines))
        self._first_lines = first_lines
        self.virtual_size = Size(self._layout_width, first_lines[-1])

    @property
    def line_count(self) -> int:
        return self._first_lines[-1]

    def _text_width(self) -> int:
        return text_width_for(self.scrollable_content_region.width, self.max_width, self.colours)

    def on_resize(self, event: events.Resize) -> None:
        width = self._text_width()
        if (width != self._layout_width or not self._layouts) and self.model is not None:
            self._layout_all()
            self.scroll_to_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._strips.clear()

    # ---- rendering

    def _get_styles(self) -> Styles:
        if self._styles is None:
            text_style = self.rich_style
            labels, tags = label_styles(self.colours)
            component = self.get_component_rich_style
            self._styles = Styles(
                text=text_style,
                cursor=component("snippet-view--cursor", partial=True),
                selection=component("snippet-view--selection", partial=True),
                boilerplate=component("snippet-view--boilerplate", partial=True),
                rule=component("snippet-view--rule", partial=True),
                placeholder=component("snippet-view--placeholder", partial=True),
                tag=component("snippet-view--tag", partial=True),
                labels=labels,
                tags=tags,
                disagreement=component("snippet-view--disagreement", partial=True),
                cut=component("snippet-view--cut", partial=True),
            )
        return self._styles

    def line_at(self, y: int) -> tuple[int, int] | None:
        """(paragraph, line within it) of document line `y`."""
        if not 0 <= y < self.line_count:
            return None
        paragraph = bisect_right(self._first_lines, y) - 1
        return paragraph, y - self._first_lines[paragraph]

    def document_line(self, y: int) -> Line | None:
        found = self.line_at(y)
        if found is None:
            return None
        paragraph, sub = found
        return self._layouts[paragraph][sub]

    def render_line(self, y: int) -> Strip:
        document_y = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        strip = self._strips.get(document_y)
        if strip is None or strip.cell_length != width:
            line = self.document_line(document_y)
            styles = self._get_styles()
            if line is None or self.record is None:
                strip = Strip.blank(width, styles.text)
            else:
                strip = render_line(line, self.text, self.display_text, self.record, styles, self.cursor_span, self.selection_span, width, self.highlights, self._layout_width)
            self._strips[document_y] = strip
        return strip

    # ---- cursor and selection

    @property
    def cursor_span(self) -> tuple[int, int] | None:
        if self.model is None or not self.model.tokens:
            return None
        return self.model.tokens[self.cursor]

    @property
    def selection_span(self) -> tuple[int, int] | None:
        if self.anchor is None or self.model is None or not self.model.tokens:
            return None
        low, high = sorted((self.anchor, self.cursor))
        return self.model.tokens[low][0], self.model.tokens[high][1]

    @property
    def target_span(self) -> tuple[int, int] | None:
        """The selection, or the cursor token when nothing is selected."""
        return self.selection_span or self.cursor_span

    def line_of_offset(self, offset: int) -> int:
        """Document line showing character `offset`."""
        assert self.model is not None
        if not self._layouts:
            return 0
        paragraph = self.model.paragraph_at(offset)
        lines = self._layouts[paragraph]
        text_lines = [(line.start, sub) for sub, line in enumerate(lines) if line.kind == TEXT]
        index = bisect_right([start for start, _ in text_lines], offset) - 1
        sub = text_lines[max(0, index)][1] if text_lines else 0
        return self._first_lines[paragraph] + sub

    def _lines_of_span(self, span: tuple[int, int] | None) -> range:
        if span is None:
            return range(0)
        first = self.line_of_offset(span[0])
        last = self.line_of_offset(max(span[0], span[1] - 1))
        return range(first, last + 1)

    def set_cursor(self, token: int, *, extend: bool = False, keep_goal: bool = False) -> None:
        """Move the cursor to token index `token`; `extend` grows the selection from the anchor."""
        if self.model is None or not self.model.tokens:
            return
        token = max(0, min(token, len(self.model.tokens) - 1))
        before = set(self._lines_of_span(self.selection_span)) | set(self._lines_of_span(self.cursor_span))
        if extend:
            if self.anchor is None:
                self.anchor = self.cursor
            token = selection_limit(self.model, self.anchor, token)
        else:
            self.anchor = None
        self.cursor = token
        if not keep_goal:
            self._goal_x = None
        after = set(self._lines_of_span(self.selection_span)) | set(self._lines_of_span(self.cursor_span))
        self._refresh_document_lines(before | after)
        self.scroll_to_cursor()
        self.post_message(self.CursorMoved(self))

    def clear_selection(self) -> None:
        if self.anchor is not None:
            lines = set(self._lines_of_span(self.selection_span))
            self.anchor = None
            self._refresh_document_lines(lines)

    def _refresh_document_lines(self, lines: set[int]) -> None:
        top = self.scroll_offset.y
        height = self.size.height
        for y in lines:
            self._strips.pop(y, None)
            if top <= y < top + height:
                self.refresh_line(y)

    def scroll_to_cursor(self) -> None:
        span = self.cursor_span
        if span is None:
            return
        y = self.line_of_offset(span[0])
        top = int(self.scroll_offset.y)
        height = max(1, self.scrollable_content_region.height)
        if y < top:
            self.scroll_to(y=max(0, y - 1), animate=False, immediate=True)
        elif y >= top + height + 2:
            # A jump (next paragraph or story, a search): show the target a third of the
            # way down, with what comes after it, rather than on the bottom line.
            self.scroll_to(y=max(0, y - height // 3), animate=False, immediate=True)
        elif y >= top + height - 1:
            self.scroll_to(y=y - height + 2, animate=False, immediate=True)

    def move_vertically(self, step: int, *, extend: bool = False) -> None:
        """Up/down: the token on the next text line above or below, near the same column."""
        span = self.cursor_span
        if span is None:
            return
        y = self.line_of_offset(span[0])
        line = self.document_line(y)
        if line is None:
            return
        if self._goal_x is None:
            self._goal_x = x_of_offset(self.display_text, line, span[0])
        target = y + step
        while 0 <= target < self.line_count:
            candidate = self.document_line(target)
            if candidate is not None and candidate.kind == TEXT and candidate.end > candidate.start:
                self.set_cursor(self._token_on_line(candidate, self._goal_x), extend=extend, keep_goal=True)
                return
            target += step

    def _token_on_line(self, line: Line, x: int) -> int:
        assert self.model is not None
        offset = offset_at_x(self.display_text, line, x)
        token = self.model.token_at(offset)
        if self.model.tokens[token][1] <= line.start:
            # The column is in spaces before the line's first token: take that token.
            token = min(bisect_left(self.model.token_starts, line.start), len(self.model.tokens) - 1)
        return token

    def token_at_screen(self, x: int, y: int) -> int | None:
        """Token under a point of the widget (mouse coordinates), or None."""
        line = self.document_line(int(self.scroll_offset.y) + y)
        if line is None or line.kind != TEXT or self.model is None or not self.model.tokens:
            return None
        return self._token_on_line(line, x - self.styles.padding.left)

    # ---- mouse

    def on_mouse_down(self, event: events.MouseDown) -> None:
        token = self.token_at_screen(event.x, event.y)
        if token is None:
            return
        self._dragging = True
        self.capture_mouse()
        self.set_cursor(token)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if not self._dragging:
            return
        token = self.token_at_screen(event.x, event.y)
        if token is not None and token != self.cursor:
            self.set_cursor(token, extend=True)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()

    def refresh_all(self) -> None:
        self._strips.clear()
        self.refresh()
