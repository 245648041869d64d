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
    """Put the cursor on the next occurrence of this text in the snippet."""

    query: str


@dataclass
class FilterQueue(Message):
    """Work through another queue: todo, all, flagged, skipped or done."""

    queue: str
