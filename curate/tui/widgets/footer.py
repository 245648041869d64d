"""The bottom line: the most useful keys in a few words each, as many as the width holds.

Textual's Footer cuts its line at the right edge ("s sk" at 80 columns); this one orders the
shown bindings by use, words them briefly, and leaves out whole hints from the least useful
end, so `?` (every key) and `q` are always there. A click on a hint presses its key.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widget import Widget

# Binding ids, most useful first; a shown binding not named here follows in binding order.
PRIORITY = (
    "help",
    "quit",
    "done",
    "undo",
    "skip",
    "suggestion-next",
    "entity-next",
    "disagreement-next",
    "take-majority",
    "take-annotator",
    "remove-entity",
    "story-start",
    "boilerplate",
    "truncated",
    "label-all",
    "next-snippet",
    "previous-snippet",
    "flag",
)

# Shorter words than the bindings' own where the footer needs the room.
BRIEF = {
    "remove-entity": "del",
    "label-all": "all",
    "boilerplate": "boiler",
    "truncated": "cut",
    "previous-snippet": "prev",
    "disagreement-next": "next diff",
    "take-annotator": "take one's",
}


def footer_hints(screen, app) -> list[tuple[str, str, str]]:
    """(key shown, word, key to press) per shown binding of `screen`, most useful first."""
    found: dict[str, tuple[str, str, str]] = {}
    order: list[str] = []
    for _namespace, binding, enabled, _tooltip in screen.active_bindings.values():
        if not binding.show or not enabled:
            continue
        binding_id = binding.id or binding.action
        if binding_id in found:
            continue
        found[binding_id] = (app.get_key_display(binding), BRIEF.get(binding_id, binding.description), binding.key)
        order.append(binding_id)
    rank = {binding_id: index for index, binding_id in enumerate(PRIORITY)}
    return [found[binding_id] for binding_id in sorted(order, key=lambda binding_id: rank.get(binding_id, len(PRIORITY)))]


def fit_hints(hints: list[tuple[str, str, str]], width: int) -> tuple[list[tuple[str, str, str]], str]:
    """The hints that fit in `width` cells (the most useful ones) and the gap between two:
    two spaces when every hint fits so, else one."""
    for gap in ("  ", " "):
        total = 0
        for index, (key, word, _) in enumerate(hints):
            total += (len(gap) if index else 0) + Text(f"{key} {word}").cell_len
            if total > width:
                break
        else:
            return hints, gap
    kept: list[tuple[str, str, str]] = []
    total = 0
    for key, word, press in hints:
        cost = (1 if kept else 0) + Text(f"{key} {word}").cell_len
        if total + cost > width:
            continue  # a shorter, less useful hint further on may still fit
        kept.append((key, word, press))
        total += cost
    return kept, " "


class KeyFooter(Widget):
    """One line of key hints; the full list is on `?`."""

    COMPONENT_CLASSES = {"key-footer--key"}

    DEFAULT_CSS = """
    KeyFooter { height: 1; dock: bottom; background: $panel; padding: 0 1; }
    KeyFooter > .key-footer--key { color: $accent; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._spans: list[tuple[int, int, str]] = []

    def on_resize(self) -> None:
        self.refresh()

    def render(self) -> Text:
        hints, gap = fit_hints(footer_hints(self.screen, self.app), self.content_region.width or 80)
        key_style = self.get_component_rich_style("key-footer--key")
        line = Text(no_wrap=True, overflow="crop")
        self._spans = []
        for index, (key, word, press) in enumerate(hints):
            if index:
                line.append(gap)
            start = line.cell_len
            line.append(key, key_style)
            line.append(f" {word}")
            self._spans.append((start, line.cell_len, press))
        return line

    def on_click(self, event: events.Click) -> None:
        x = event.x - self.styles.padding.left
        for start, end, press in self._spans:
            if start <= x < end:
                self.app.simulate_key(press.split(",")[0])
                return
