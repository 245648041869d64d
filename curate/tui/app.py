"""`curate annotate`: the Textual app. Thin: it holds the desk and shows the annotation screen."""

from __future__ import annotations

import gc

from textual.app import App
from textual.screen import Screen

from curate.annotating import AnnotatorDesk
from curate.tui.document import DEFAULT_TEXT_WIDTH
from curate.tui.screens.annotate import AnnotateScreen


class AnnotateApp(App[None]):
    """Annotate one corpus as one annotator; every change is saved when it is made."""

    CSS_PATH = "curate.tcss"
    TITLE = "curate annotate"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, desk: AnnotatorDesk, keymap: dict[str, str] | None = None, *, cursor_blink: bool = True, text_width: int = DEFAULT_TEXT_WIDTH) -> None:
        super().__init__()
        self.text_width = text_width  # the widest the snippet's text is wrapped (0: the window's width)
        self.desk = desk
        self.user_keymap = keymap or {}
        self.cursor_blink = cursor_blink

    def first_screen(self) -> Screen:
        return AnnotateScreen(self.desk, self.user_keymap)

    def on_mount(self) -> None:
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self.push_screen(self.first_screen())
        # Everything loaded so far lives as long as the app: keep it out of the collector's
        # way so its pauses do not land between a key and its frame.
        gc.freeze()

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
