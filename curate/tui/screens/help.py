"""`?`: every key of the annotation screen (after the user's keymap), labels and commands."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from curate.model import CorpusConfig
from curate.tui.keymap import ANNOTATE_KEYS, KeySpec, keymap_path, keys_of

_GROUP_TITLES = {"review": "Reviewing", "move": "Moving and selecting", "edit": "Editing", "snippet": "Snippets", "app": "App"}


ANNOTATE_PALETTE = "Go to snippet id · Find text · Filter queue (todo, all, flagged, skipped, done)"
REVIEW_PALETTE = "Go to snippet id · Find text"


def help_entries(
    keymap: dict[str, str], config: CorpusConfig | None, specs: tuple[KeySpec, ...] = ANNOTATE_KEYS, palette: str = ANNOTATE_PALETTE
) -> list[tuple[str, str, str, str]]:
    """The help's rows in order: ("group", title, "", "") or ("key", keys, does, binding id)."""
    rows: list[tuple[str, str, str, str]] = []
    for group, title in _GROUP_TITLES.items():
        if not any(spec.group == group for spec in specs):
            continue
        rows.append(("group", title, "", ""))
        for spec in specs:
            if spec.group != group:
                continue
            description = spec.description
            if config is not None and spec.action.startswith("label("):
                label = config.label_for_key(spec.id.removeprefix("label-"))
                if label is None and spec.id != "label-1":
                    continue
                description = f"Label (or relabel) as {label}" if label else description
            rows.append(("key", keys_of(spec, keymap).replace(",", " "), description, spec.id))
    rows.append(("group", "Command palette", "", ""))
    rows.append(("key", "ctrl+p", palette, ""))
    rows.append(("key", "mouse", "Click places the cursor, drag selects", ""))
    return rows


def help_table(keymap: dict[str, str], config: CorpusConfig | None, specs: tuple[KeySpec, ...] = ANNOTATE_KEYS, palette: str = ANNOTATE_PALETTE) -> Table:
    """Every row of the help with its binding id, one row a key (for a wide console)."""
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 2))
    table.add_column("keys", no_wrap=True)
    table.add_column("does")
    table.add_column("binding id", style="dim", no_wrap=True)
    for kind, keys, description, binding_id in help_entries(keymap, config, specs, palette):
        if kind == "group":
            if len(table.rows):
                table.add_row("", "", "")
            table.add_row(Text(keys, style="bold underline"), "", "")
        else:
            table.add_row(Text(keys.replace(" ", "  ")), Text(description), binding_id)
    return table


_MIN_COLUMN = 34  # a help column narrower than this says too little per key
_MIN_DOES = 24  # binding ids are shown only when the descriptions keep this much room
_GAP = 2


# Shorter wordings for the dense help, by the binding's full description (so the review
# screen's own wording of a key is not replaced by the annotation screen's); a description
# not here loses its asides in parentheses, then is cut with an ellipsis.
BRIEF = {
    "First token of the next paragraph": "Next paragraph",
    "First token of this paragraph (from there: of the previous one)": "Paragraph start / prev.",
    "First token of the next story": "Next story",
    "First token of this story (from there: of the previous one)": "Story start / prev.",
    "Extend the selection one token left (within its paragraph)": "Select a token left",
    "Extend the selection one token right (within its paragraph)": "Select a token right",
    "Extend the selection a line up (within its paragraph)": "Select a line up",
    "Extend the selection a line down (within its paragraph)": "Select a line down",
    "First token of the next entity": "Next entity",
    "First token of the previous entity (from inside one: of this one)": "Previous entity",
    "Accept the suggested items under the cursor, go to the next suggested item not yet reviewed": "Accept, next suggestion",
    "Accept the suggested items under the cursor, go to the previous one not yet reviewed": "Accept, prev. suggestion",
    "Select the next run of capitalised tokens without a label": "Next unlabelled name",
    "Select the previous run of capitalised tokens without a label": "Previous unlabelled name",
    "Next place likely to need a fix: a name without a label (selected) or an entity in doubt": "Next place to check",
    "Previous place likely to need a fix (from the end of a selected name: its start)": "Previous place to check",
    "Search forward in this snippet (enter alone: the last search)": "Search forward",
    "Search backward in this snippet": "Search backward",
    "Repeat the last search, same direction": "Search again",
    "Repeat the last search, other direction": "Search again, backward",
    "Next occurrence of the entity or token under the cursor (whole tokens, same case)": "Next of this token",
    "Previous occurrence of the entity or token under the cursor": "Previous of this token",
    "Move the start of the entity under the cursor one token left (grow)": "Entity start ← (grow)",
    "Move the start of the entity under the cursor one token right (shrink)": "Entity start → (shrink)",
    "Move the end of the entity under the cursor one token left (shrink)": "Entity end ← (shrink)",
    "Move the end of the entity under the cursor one token right (grow)": "Entity end → (grow)",
    "Remove the entity under the cursor (or in the selection)": "Remove the entity",
    "Label every other occurrence of this entity alike": "Label all occurrences",
    "Toggle a story start at this sentence": "Toggle a story start",
    "Toggle this paragraph as boilerplate": "Toggle boilerplate",
    "Mark this paragraph as boilerplate or change its kind: C, then the kind's number": "Boilerplate kind: C, 1-9",
    "Toggle this story as truncated": "Toggle truncated (cut)",
    "Mark done and go to the next snippet": "Done, next snippet",
    "Undo the last change to this snippet": "Undo",
    "Flag this snippet with a note": "Flag with a note",
    "Next snippet in the queue": "Next snippet",
    "Previous snippet in the queue": "Previous snippet",
    "Quit (saving first; asks before losing a change that cannot be saved)": "Quit (saves first)",
    "Go to the next disagreement not yet resolved": "Next disagreement",
    "Go to the previous disagreement not yet resolved": "Previous disagreement",
    "Take the majority choice for what is under the cursor": "Majority, here",
    "Take the majority choice for every disagreement of the snippet": "Majority, everywhere",
    "Take one annotator's choice for what is under the cursor": "One annotator's, here",
    "Take one annotator's whole record for the snippet": "One annotator's record",
    "Accept: write the snippet to gold.jsonl and go on": "Accept into gold, next",
    "Leave the snippet for later and go on": "Later, next snippet",
    "Click places the cursor, drag selects": "Click: cursor; drag: select",
}


_LABEL_AS = "Label (or relabel) as "


def brief(description: str, room: int) -> str:
    """`description` in `room` cells: as it is when it fits, else its short wording, else
    without its asides in parentheses (so "Label (or relabel) as ORG" keeps the label)."""
    if description.startswith(_LABEL_AS) and room < len(_LABEL_AS) + 9:
        return "Label as " + description[len(_LABEL_AS) :]  # alike for every label in a column
    if len(description) <= room:
        return description
    return BRIEF.get(description) or re.sub(r" \([^)]*\)", "", description)


def help_columns(rows: list[tuple[str, str, str, str]], width: int, height: int) -> tuple[Text, bool]:
    """The rows laid out densely in `width` x `height` cells: as few side-by-side columns as
    show every row; when even the most that fit do not, pages of that many full columns, one
    under the other (the help scrolls to the next). Each row is one line, descriptions cut
    to a short wording or an ellipsis; binding ids follow them when they leave enough room.
    Returns the text and whether the ids are in it."""
    rows = [(kind, shown_keys(keys) if kind == "key" else keys, description, binding_id) for kind, keys, description, binding_id in rows]
    most = max(1, (width + _GAP) // (_MIN_COLUMN + _GAP))
    count = next((n for n in range(1, most + 1) if -(-len(rows) // n) <= height), most)
    column_width = (width - _GAP * (count - 1)) // count
    ids_width = max((len(row[3]) for row in rows), default=0)
    widest_keys = max((len(row[1]) for row in rows if row[0] == "key"), default=4)
    with_ids = column_width - min(14, widest_keys) - 2 - ids_width - 2 >= _MIN_DOES
    page_size = count * height
    pages = [rows[index : index + page_size] for index in range(0, len(rows), page_size)] or [[]]
    lines: list[Text] = []
    for page in pages:
        if lines:
            lines.append(Text())
        per_column = -(-len(page) // count) if page is pages[-1] else height
        columns = [page[index : index + per_column] for index in range(0, len(page), per_column)]
        page_lines = [Text() for _ in range(per_column)]
        for number, column in enumerate(columns):
            keys_width = min(14, max((len(row[1]) for row in column if row[0] == "key"), default=4))
            does_width = column_width - keys_width - 2 - ((ids_width + 2) if with_ids else 0)
            for index in range(per_column):
                cell = Text()
                if index < len(column):
                    cell = _help_cell(column[index], keys_width, does_width, with_ids)
                cell.truncate(column_width, pad=number < len(columns) - 1)
                if number:
                    page_lines[index].append(" " * _GAP)
                page_lines[index].append_text(cell)
        lines.extend(page_lines)
    return Text("\n").join(lines), with_ids


def shown_keys(keys: str) -> str:
    """Keys as the help shows them: `← h`, `pgdn`, `\\` rather than `left h`, `pagedown`, `backslash`."""
    return " ".join(format_key(key) if key not in ("mouse", "ctrl+p") else key for key in keys.split(" "))


def _help_cell(row: tuple[str, str, str, str], keys_width: int, does_width: int, with_ids: bool) -> Text:
    kind, keys, description, binding_id = row
    cell = Text()
    if kind == "group":
        cell.append(keys, style="bold underline")
        return cell
    cell.append(keys.ljust(keys_width) if len(keys) <= keys_width else keys[: keys_width - 1] + "…", style="bold")
    cell.append("  ")
    does = Text(brief(description, does_width))
    does.truncate(does_width, overflow="ellipsis", pad=with_ids)
    cell.append_text(does)
    if with_ids and binding_id:
        cell.append("  " + binding_id, style="dim")
    return cell


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
            title = Text(self.title_text, style="bold")
            title.append("   escape closes", style="dim")
            yield Static(title, id="help-title")
            yield Static(id="help-keys")
            yield Static(id="help-remap")
            if self.notes:
                yield Static(Text(self.notes))

    def on_resize(self) -> None:
        self.lay_out()

    def on_mount(self) -> None:
        self.lay_out()

    def lay_out(self) -> None:
        """The keys in as many columns as the screen needs to show them all at once."""
        box = self.query_one("#help", VerticalScroll)
        width = box.scrollable_content_region.width or self.size.width
        height = max(4, (box.scrollable_content_region.height or self.size.height) - 2)
        rows = help_entries(self.keymap, self.config, self.specs, self.palette)
        keys, with_ids = help_columns(rows, max(20, width), height)
        self.query_one("#help-keys", Static).update(keys)
        remap = Text(f"Remap a key by its binding id in {keymap_path()} ([keys] id = \"key,key\")", style="dim")
        if not with_ids:
            remap.append("; the ids show on a wider terminal and in the README's key table", style="dim")
        self.query_one("#help-remap", Static).update(remap)

    def action_close(self) -> None:
        self.dismiss(None)
