"""What the command line prints: foreign text made safe for a terminal, progress bars on stderr,
and the comma-separated name lists its options take.

Ids, labels, paths and reasons often come from scraped pages or other tools' files, and such
text is hostile: an ESC or BEL in it would reach the terminal raw (rich passes control
characters through, and they can retitle the window, clear the screen or fake output).
Everything that prints foreign text escapes it with :func:`terminal_safe` here, so there is one
rule for what counts as unsafe. rich is imported only here and in the CLI (and in the rich
renderer the CLI prints, `curate.agreement.render`); the UI's own rich use comes with Textual.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.progress import Progress

# Control, format (bidi overrides, zero-width), private-use, surrogate, line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Co", "Cs", "Zl", "Zp"))
_LAYOUT = "\n\t"

out = Console()
errors = Console(stderr=True)


def terminal_safe(text: object, *, multiline: bool = False) -> str:
    """`text` with every unsafe character written as its Python escape (`\\x1b`, `\\u202e`).

    Line breaks and tabs are escaped too, so one message stays one line (`file:line: reason`);
    `multiline` keeps them, for text that is meant to span lines (a dataset card).
    """
    return "".join(
        char
        if (multiline and char in _LAYOUT) or unicodedata.category(char) not in _UNSAFE_CATEGORIES
        else char.encode("unicode_escape").decode("ascii")
        for char in str(text)
    )


def markup_safe(text: object) -> str:
    """:func:`terminal_safe` text also escaped for rich markup, to embed in a marked-up line."""
    return escape(terminal_safe(text))


def split_names(value: str | None) -> list[str] | None:
    """The names of a comma-separated option (`"ana,,ben, "` is `["ana", "ben"]`); None when
    the option was not given (or given empty)."""
    if not value:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def stderr_progress(description: str, *, remaining: bool = False) -> Progress:
    """A transient rich progress bar on stderr, off when stderr is not a terminal (so error
    output starts with its first problem)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [SpinnerColumn(), TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal)


def record_progress(description: str, total: int | None) -> tuple[Progress, Callable[[int], None]]:
    """A :func:`stderr_progress` bar and the callback that advances it to a record count
    (redrawn every 256 records and at the last)."""
    progress = stderr_progress(description)
    task = progress.add_task(description, total=total)

    def advance(count: int) -> None:
        if count % 256 == 0 or count == total:
            progress.update(task, completed=count)

    return progress, advance
