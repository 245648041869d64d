"""Small modal questions: a line of text (flag note, snippet id, search), a boilerplate kind, yes or no."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from curate.tui.document import safe_text


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; enter answers, escape cancels (answers None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt-cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Label(self.question, markup=False)
            yield Input(self.value, placeholder=self.placeholder)
            yield Label("enter: ok   escape: cancel", classes="prompt-keys")

    def on_mount(self) -> None:
        # Tests and benchmarks turn blinking off so frames are deterministic.
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KindChooser(ModalScreen[str | None]):
    """Choose one of a few names (a boilerplate kind, an annotator): arrows and enter, or its number; escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="kind-cancel")]

    def __init__(self, kinds: list[str], default: str | None = None, question: str = "Boilerplate kind of this paragraph") -> None:
        super().__init__()
        self.kinds = kinds
        self.default = default if default in kinds else kinds[0]
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Label(self.question, markup=False)
            yield OptionList(*(Option(Text(f"{number}  {safe_text(kind)}"), id=kind) for number, kind in enumerate(self.kinds, start=1)))
            yield Label("enter: choose   1-9: choose by number   escape: cancel", classes="prompt-keys")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = self.kinds.index(self.default)

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_key(self, event) -> None:
        if event.character and event.character.isdigit():
            number = int(event.character)
            if 1 <= number <= len(self.kinds):
                event.stop()
                self.dismiss(self.kinds[number - 1])

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmPrompt(ModalScreen[bool]):
    """A yes/no question whose answer is no unless the editor presses `y` (enter and escape say no)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,enter,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Label(safe_text(self.question), markup=False, classes="prompt-question")
            yield Label("y: yes   n, enter or escape: no", classes="prompt-keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
