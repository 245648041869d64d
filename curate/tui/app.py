"""`curate annotate`: the Textual app. Thin: it holds the desk and shows the annotation screen."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from curate.annotating import AnnotatorDesk
from curate.tui.document import DEFAULT_TEXT_WIDTH
from curate.tui.screens.annotate import AnnotateScreen

if TYPE_CHECKING:
    from curate.learning_loop import LearningLoop


class OpeningScreen(Screen):
    """Shown while a worker opens the desk (indexing a large journal can take seconds): what is
    being opened, and that keys typed now are ignored, except `q` and ctrl+q, which quit."""

    BINDINGS = [Binding("q", "app.quit", "quit", show=False)]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(Text(self.message), id="opening-message")  # Text: the path is shown, never parsed as markup
        yield Static(Text("keys typed before the snippet shows are ignored; q quits"), id="opening-hint")


class AnnotateApp(App[None]):
    """Annotate one corpus as one annotator; every change is saved when it is made.

    Given a desk, it shows it at once. Given an opener (a callable returning the desk), it shows
    an opening screen with `opening` and runs the opener in a worker thread, then shows the desk;
    if the opener fails with StoreError or OSError the app exits and :attr:`open_error` holds it."""

    CSS_PATH = "curate.tcss"
    TITLE = "curate annotate"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        desk: AnnotatorDesk | Callable[[], AnnotatorDesk],
        keymap: dict[str, str] | None = None,
        *,
        cursor_blink: bool = True,
        text_width: int = DEFAULT_TEXT_WIDTH,
        opening: str = "opening the corpus…",
        learning: "LearningLoop | None" = None,
    ) -> None:
        super().__init__()
        self.learning = learning  # refits in the background as the editor marks snippets done (curate/tui/learning.py)
        self.text_width = text_width  # the widest the snippet's text is wrapped (0: the window's width)
        self.opener: Callable[[], AnnotatorDesk] | None = desk if callable(desk) else None
        self.desk: AnnotatorDesk | None = None if callable(desk) else desk
        self.opening = opening
        self.open_error: BaseException | None = None
        # Set once the opener has returned or raised: after that `desk` or `open_error` is final.
        self.opened = threading.Event()
        self.open_worker: Worker | None = None
        self.open_begun = False
        self.user_keymap = keymap or {}
        self.cursor_blink = cursor_blink

    def first_screen(self) -> Screen:
        return AnnotateScreen(self.desk, self.user_keymap)

    def on_mount(self) -> None:
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        if self.opener is not None:
            self.push_screen(OpeningScreen(self.opening))
            self.open_worker = self.open_desk()
            return
        self.show_desk()

    def show_desk(self) -> None:
        self.push_screen(self.first_screen())
        # Everything loaded so far lives as long as the app: keep it out of the collector's
        # way so its pauses do not land between a key and its frame.
        gc.freeze()

    @work(thread=True, exit_on_error=False)
    def open_desk(self) -> None:
        assert self.opener is not None
        self.open_begun = True
        try:
            desk = self.opener()
        except BaseException as error:
            self.open_error = error
            self.opened.set()
            self.call_from_thread(self.exit)
            return
        self.desk = desk
        self.opened.set()
        self.call_from_thread(self.desk_opened)

    def action_command_palette(self) -> None:
        if isinstance(self.screen, OpeningScreen):
            return  # no desk yet: its commands would have nothing to act on
        super().action_command_palette()

    def wait_opened(self) -> None:
        """After `run()`: wait for an opener still running (the app quit while it worked), so
        its desk can be closed; return at once if it never started."""
        worker = self.open_worker
        if worker is None:
            return
        while not self.opened.wait(0.05):
            if worker.is_finished and not self.open_begun:
                return  # cancelled before it ran

    def desk_opened(self) -> None:
        if self._exit:
            return  # quit while opening: the caller closes the desk
        if isinstance(self.screen, OpeningScreen):
            self.pop_screen()
        self.show_desk()

    async def action_quit(self) -> None:
        """ctrl+q quits like `q`: saving first, and asking before an unsaved change is lost."""
        from curate.tui.screens.prompts import ConfirmPrompt

        if isinstance(self.screen, ConfirmPrompt):
            return  # the question is already on screen
        for screen in reversed(self.screen_stack):
            if isinstance(screen, AnnotateScreen):
                screen.action_quit()
                return
        self.exit()


class ReviewApp(AnnotateApp):
    """Adjudicate one corpus: several annotators' work becomes gold."""

    TITLE = "curate review"

    def first_screen(self) -> Screen:
        from curate.tui.screens.review import ReviewScreen

        return ReviewScreen(self.desk, self.user_keymap)
