"""The annotation screen's side of the learning loop (curate/learning_loop.py): it tells the
loop what the editor opens and saves, runs a due fit in a worker thread that waits on the fit
process (the event loop never waits), and puts the model in the header."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.tui.widgets.model_status import model_part
from curate.tui.widgets.status import HeaderPart

if TYPE_CHECKING:
    from curate.annotating import OpenSnippet
    from curate.learning_loop import FitJob, FitOutcome, LearningLoop
    from curate.tui.screens.annotate import AnnotateScreen


class LearningHookup:
    def __init__(self, screen: "AnnotateScreen", loop: "LearningLoop") -> None:
        self.screen = screen
        self.loop = loop

    @classmethod
    def attach(cls, screen: "AnnotateScreen") -> "LearningHookup | None":
        """The hookup when the app runs a learning loop (`curate annotate`), else None."""
        loop = getattr(screen.app, "learning", None)
        if loop is None:
            return None
        loop.begin_session(screen.desk.journal.positions_with_status("done"))
        return cls(screen, loop)

    def opened(self, opened: "OpenSnippet | None") -> None:
        if opened is not None:
            self.loop.note_opened(opened.position)

    def saved(self, opened: "OpenSnippet") -> None:
        if self.loop.note_saved(opened.position, opened.session.record.status):
            self.screen.call_later(self._start)  # once the key's action is over: `done` first moves on

    def _start(self) -> None:
        """Start the due fit: it refreshes the queued snippets after the one now on screen."""
        if not self.loop.due:
            return  # a fit began meanwhile, or the session ended
        desk = self.screen.desk
        job = self.loop.begin(desk.queue, desk.index)
        self.screen.run_worker(lambda: self._fit(job), thread=True, group="learning", exit_on_error=False)
        self.screen.refresh_status()

    def _fit(self, job: "FitJob") -> None:
        """In the worker thread: wait for the fit process, then hand its outcome to the UI thread."""
        outcome = self.loop.fit(job)
        try:
            self.screen.app.call_from_thread(self._finished, outcome)
        except RuntimeError:
            self.loop.finish(outcome)  # the app has closed: no UI thread to hand it to

    def _finished(self, outcome: "FitOutcome") -> None:
        self.loop.finish(outcome)
        if self.screen.is_attached:
            self.screen.refresh_status()
            if self.loop.stopped or self.screen.message_sticky:
                return  # a sticky message (NOT SAVED) keeps the line
            # The header's model part is dropped first on a narrow screen: the outcome is said here too.
            if outcome.kind == "failed":
                self.screen.say(f"learning: the fit failed, models/ is as it was: {outcome.message}", "yellow")
            elif outcome.kind == "fitted" and outcome.state is not None:
                fresh = f"; {len(outcome.refreshed)} queued snippet(s) have new suggestions" if outcome.refreshed else ""
                self.screen.say(f"model {outcome.state.version} learned from {outcome.state.examples} snippets{fresh}", "green")

    def header_parts(self) -> list[HeaderPart]:
        return [model_part(self.loop)]

    def stop(self) -> None:
        self.loop.stop()
