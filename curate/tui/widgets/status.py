"""Fixed-height bars: the header with where the editor is, and the legend of labels."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from curate.model import CorpusConfig
from curate.tui.document import safe_text


class StatusHeader(Static):
    """Two lines that never wrap: where the editor is (parts dropped, least useful first, to fit
    the width); then cursor context or a message, cut with an ellipsis."""

    DEFAULT_CSS = """
    StatusHeader { height: 2; background: $panel; color: $foreground; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._header_parts: list[HeaderPart] = []
        self._context_line = Text()

    def show(self, parts: list["HeaderPart"], context: Text) -> None:
        self._header_parts = parts
        self._context_line = context
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.content_region.width
        identity = fit_parts(self._header_parts, width)
        context = self._context_line.copy()
        if width:
            context.truncate(width, overflow="ellipsis")
        identity.append("\n")
        identity.append_text(context)
        self.update(identity, layout=False)


@dataclass(frozen=True)
class HeaderPart:
    """A piece of the header line; when the line is too wide, the part with the highest
    `drop` goes first (0: never dropped, only cut)."""

    text: Text
    drop: int = 0


_SEPARATOR = "  ·  "


def fit_parts(parts: list[HeaderPart], width: int) -> Text:
    """The parts joined on one line no wider than `width` (0: any width): parts dropped in
    `drop` order, then the line cut with an ellipsis."""
    kept = list(parts)

    def joined() -> Text:
        return Text(_SEPARATOR).join(part.text for part in kept)

    line = joined()
    if width <= 0:
        return line
    while line.cell_len > width:
        droppable = [part for part in kept if part.drop > 0]
        if not droppable:
            break
        kept.remove(max(droppable, key=lambda part: part.drop))
        line = joined()
    line.truncate(width, overflow="ellipsis")
    return line


def identity_parts(
    corpus: str,
    annotator: str,
    snippet_id: str | None,
    state: str,
    index: int,
    total: int,
    queue: str,
    counts: str,
) -> list[HeaderPart]:
    """The header's parts: the snippet and its state stay; the counts go first, then the
    corpus name, the editor's name and the position in the queue."""
    parts = [HeaderPart(Text(safe_text(corpus), style="bold"), 3), HeaderPart(Text(safe_text(annotator), style="bold"), 2)]
    if snippet_id is None:
        parts.append(HeaderPart(Text(f"queue '{queue}' is empty (ctrl+p: Filter queue)", style="italic")))
    else:
        snippet = Text()
        snippet.append(safe_text(snippet_id), style="bold reverse")
        snippet.append(" ")
        snippet.append(f"[{state}]", style=_STATE_STYLES.get(state, ""))
        parts.append(HeaderPart(snippet))
        parts.append(HeaderPart(Text(f"{index + 1}/{total} {queue}"), 1))
    parts.append(HeaderPart(Text(counts), 4))
    return parts


def annotate_counts(counts: dict[str, int]) -> str:
    return f"done {counts.get('done', 0)}  skipped {counts.get('skipped', 0)}  flagged {counts.get('flagged', 0)}"


_STATE_STYLES = {
    "suggested, unreviewed": "bold yellow",
    "new": "cyan",
    "in progress": "cyan",
    "done": "bold green",
    "skipped": "magenta",
    "flagged": "bold red",
}


class Legend(Static):
    """The labels with their keys and colours, the palette key and the boilerplate kinds: one
    line when they fit, else two, broken between items (never inside one)."""

    DEFAULT_CSS = """
    Legend { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    MAX_LINES = 2

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._legend_items: list[Text] = []

    def show_labels(self, config: CorpusConfig, label_keys: dict[str, str]) -> None:
        items = []
        for label in config.labels:
            key = label_keys.get(label.name, label.key)
            item = Text()
            item.append(f" {key} ", style="bold")
            try:
                style = Style(color="#101010", bgcolor=label.colour)
            except Exception:
                style = Style(reverse=True)
            item.append(f" {label.name} ", style=style)
            items.append(item)
        palette = Text()
        palette.append("ctrl+p", style="bold")
        palette.append(" palette", style="dim")
        items.append(palette)
        kinds = Text()
        kinds.append("boilerplate: ", style="dim")
        kinds.append(safe_text(", ".join(config.boilerplate_kinds)), style="dim italic")
        items.append(kinds)
        self._legend_items = items
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        lines = pack_items(self._legend_items, self.content_region.width, self.MAX_LINES)
        height = max(1, len(lines))
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height
        self.update(Text("\n").join(lines), layout=False)


def pack_items(items: list[Text], width: int, max_lines: int) -> list[Text]:
    """Items on lines of at most `width` cells, a space between two; a new line only between
    items; the last line allowed is cut with an ellipsis (width 0: one line)."""
    lines: list[Text] = [Text()]
    for item in items:
        line = lines[-1]
        gap = 1 if line.cell_len else 0
        if width and line.cell_len and line.cell_len + gap + item.cell_len > width and len(lines) < max_lines:
            lines.append(item.copy())
            continue
        if gap:
            line.append(" ")
        line.append_text(item)
    if width:
        for line in lines:
            line.truncate(width, overflow="ellipsis")
    return lines
