"""Fixed-height bars: the header with where the editor is, and the legend of labels."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from curate.model import CorpusConfig
from curate.tui.document import safe_text


class StatusHeader(Static):
    """Two lines: corpus, annotator, snippet, k/N and counts; then cursor context or a message."""

    DEFAULT_CSS = """
    StatusHeader { height: 2; background: $panel; color: $foreground; padding: 0 1; }
    """

    def show(self, identity: Text, context: Text) -> None:
        identity.append("\n")
        identity.append_text(context)
        identity.no_wrap = True
        identity.overflow = "ellipsis"
        self.update(identity, layout=False)


def identity_line(
    corpus: str,
    annotator: str,
    snippet_id: str | None,
    state: str,
    index: int,
    total: int,
    queue: str,
    counts: dict[str, int],
) -> Text:
    line = Text()
    line.append(safe_text(corpus), style="bold")
    line.append("  ·  ")
    line.append(safe_text(annotator), style="bold")
    line.append("  ·  ")
    if snippet_id is None:
        line.append(f"queue '{queue}' is empty (ctrl+p: Filter queue)", style="italic")
    else:
        line.append(safe_text(snippet_id), style="bold reverse")
        line.append(" ")
        line.append(f"[{state}]", style=_STATE_STYLES.get(state, ""))
        line.append(f"  ·  {index + 1}/{total} {queue}")
    line.append(f"  ·  done {counts.get('done', 0)}  skipped {counts.get('skipped', 0)}  flagged {counts.get('flagged', 0)}")
    return line


_STATE_STYLES = {
    "suggested, unreviewed": "bold yellow",
    "new": "cyan",
    "in progress": "cyan",
    "done": "bold green",
    "skipped": "magenta",
    "flagged": "bold red",
}


class Legend(Static):
    """The labels with their keys and colours."""

    DEFAULT_CSS = """
    Legend { height: 1; padding: 0 1; background: $panel; }
    """

    def show_labels(self, config: CorpusConfig, label_keys: dict[str, str]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for label in config.labels:
            key = label_keys.get(label.name, label.key)
            text.append(f" {key} ", style="bold")
            try:
                style = Style(color="#101010", bgcolor=label.colour)
            except Exception:
                style = Style(reverse=True)
            text.append(f" {label.name} ", style=style)
            text.append(" ")
        text.append(" ctrl+p", style="bold")
        text.append(" commands ", style="dim")
        text.append(" boilerplate: ", style="dim")
        text.append(safe_text(", ".join(config.boilerplate_kinds)), style="dim italic")
        self.update(text, layout=False)
