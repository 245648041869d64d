"""`?`: every key of the annotation screen (after the user's keymap), labels and commands."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from curate.model import CorpusConfig
from curate.tui.keymap import ANNOTATE_KEYS, KeySpec, keymap_path, keys_of

_GROUP_TITLES = {"review": "Reviewing", "move": "Moving and selecting", "edit": "Editing", "snippet": "Snippets", "app": "App"}


ANNOTATE_PALETTE = "Go to snippet id · Find text · Filter queue (todo, all, flagged, skipped, done)"
REVIEW_PALETTE = "Go to snippet id · Find text"


def help_table(keymap: dict[str, str], config: CorpusConfig | None, specs: tuple[KeySpec, ...] = ANNOTATE_KEYS, palette: str = ANNOTATE_PALETTE) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 2))
    table.add_column("keys", no_wrap=True)
    table.add_column("does")
    table.add_column("binding id", style="dim", no_wrap=True)
    for group, title in _GROUP_TITLES.items():
        if not any(spec.group == group for spec in specs):
            continue
        table.add_row(Text(title, style="bold underline"), "", "")
        for spec in specs:
            if spec.group != group:
                continue
            description = spec.description
            if config is not None and spec.action.startswith("label("):
                label = config.label_for_key(spec.id.removeprefix("label-"))
                if label is None and spec.id != "label-1":
                    continue
                description = f"Label (or relabel) as {label}" if label else description
            table.add_row(Text(keys_of(spec, keymap).replace(",", "  ")), Text(description), spec.id)
        table.add_row("", "", "")
    table.add_row(Text("Command palette", style="bold underline"), "", "")
    table.add_row("ctrl+p", palette, "")
    table.add_row("mouse", "Click places the cursor, drag selects", "")
    return table


class HelpScreen(ModalScreen[None]):
    """The full list of keys."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help-close")]

    def __init__(
        self,
        keymap: dict[str, str],
        config: CorpusConfig | None,
        specs: tuple[KeySpec, ...] = ANNOTATE_KEYS,
        title: str = "curate annotate: keys",
        palette: str = ANNOTATE_PALETTE,
        notes: str | None = None,
    ) -> None:
        super().__init__()
        self.palette = palette
        self.notes = notes  # what the screen shows besides keys (review: the who-chose-what line)
        self.keymap = keymap
        self.config = config
        self.specs = specs
        self.title_text = title

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(help_table(self.keymap, self.config, self.specs, self.palette))
            if self.notes:
                yield Static(Text(self.notes))
            yield Static(Text(f"Remap any binding by id in {keymap_path()} ([keys] id = \"key,key\"). Escape closes.", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
