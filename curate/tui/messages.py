"""Requests sent up to the annotation screen (from the command palette and prompts)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class GoToSnippet(Message):
    """Show the snippet with this id."""

    snippet_id: str


@dataclass
class FindText(Message):
    """Put the cursor on the next occurrence of this text: after the cursor, else in the next
    snippet of the queue that has it (`here_only`: in this snippet, wrapping to its top)."""

    query: str
    here_only: bool = False


@dataclass
class FilterQueue(Message):
    """Work through another queue: todo, all, flagged, skipped or done."""

    queue: str


@dataclass
class FoundElsewhere(Message):
    """A search of the queue found the text in the snippet at corpus `position` (None: nowhere)."""

    query: str
    position: int | None
