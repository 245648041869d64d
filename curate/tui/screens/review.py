"""The review screen: one merged view of several annotators' work, disagreements marked, gold out.

It is the annotation screen (every annotation key edits the record that becomes gold) with
keys to walk the disagreements and take the majority's or one annotator's choice; `enter`
accepts the snippet into gold.jsonl with its sources and adjudicator.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text

from textual.app import ComposeResult
from textual.keys import format_key
from textual.widgets import Footer, Static

from curate.adjudicate import Item
from curate.annotating import save_failure_reason
from curate.editing import EditRefused
from curate.reviewing import ReviewDesk, ReviewSnippet, choices_edit, item_anchor, items_at, take_choices
from curate.store import StoreError
from curate.tui.commands import ReviewCommands
from curate.tui.document import safe_text
from curate.tui.keymap import REVIEW_KEYS, REVIEW_SCREEN_KEYS, bindings, keys_of
from curate.tui.screens.annotate import AnnotateScreen
from curate.tui.screens.help import REVIEW_PALETTE, HelpScreen
from curate.tui.screens.prompts import KindChooser
from curate.tui.widgets.status import Legend, StatusHeader

# Review's own keys have a line of their own (above the footer); these annotation keys stay
# out of the footer to leave room for the rest.
_QUIET_IN_FOOTER = {"label-all", "truncated", "next-snippet", "previous-snippet"}
_KIND_NAMES = {"story_start": "story start", "truncated": "truncated", "boilerplate": "boilerplate", "entity": "entity"}
# The review keys line: pairs of bindings (the key alone, the key for the whole snippet).
_REVIEW_LINE = (
    ("disagreement-next", "disagreement-previous", "next/prev disagreement"),
    ("take-majority", "take-majority-all", "majority here/all"),
    ("take-annotator", "take-annotator-all", "annotator's here/all"),
)


class ReviewScreen(AnnotateScreen, inherit_bindings=False):
    """Adjudicate the review queue, most-disagreed snippet first."""

    # Every key of review: its own and the annotation keys that apply (not `f`: flagging is
    # an annotator's note to the reviewer; `s` leaves a snippet for later).
    BINDINGS = bindings(
        tuple(replace(spec, show=False) if spec.id in _QUIET_IN_FOOTER or spec.group == "review" else spec for spec in REVIEW_SCREEN_KEYS)
    )
    COMMANDS = {ReviewCommands}

    desk: ReviewDesk
    opened: ReviewSnippet | None

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield self._view
        yield Legend(id="legend")
        yield Static(self.review_keys_line(), id="review-keys")
        yield Footer(compact=True, show_command_palette=False)

    def review_keys_line(self) -> Text:
        """Review's keys (after the user's keymap) with a word each: `d/D next/prev disagreement`."""
        specs = {spec.id: spec for spec in REVIEW_KEYS}

        def key(spec_id: str) -> str:
            return format_key(keys_of(specs[spec_id], self.keymap).split(",")[0])

        line = Text(no_wrap=True, overflow="ellipsis")
        for one, whole, words in _REVIEW_LINE:
            line.append(f"{key(one)}/{key(whole)}", style="bold")
            line.append(f" {words}  ")
        line.rstrip()
        return line

    def counts_text(self) -> str:
        counts = self._counts
        return f"accepted {counts.get('done', 0)}  skipped {counts.get('skipped', 0)}  gold {counts.get('gold', 0)}"

    def opening_message(self) -> None:
        if self.desk.auto_accepted:
            self.say(f"{self.desk.auto_accepted} snippet(s) on which all annotators agree went into gold without asking", "bold green")
        elif not len(self.desk):
            self.say("nothing to review: no snippet done by enough annotators is without gold", "yellow")

    # ---- showing

    def load_current(self) -> None:
        super().load_current()
        if self.opened is None:
            self.view.set_highlights([])
            return
        model = self.opened.session.model
        self.view.set_highlights([item_anchor(item, model) for item in self.opened.disagreements()])

    def state_name(self) -> str:
        if self.opened is None:
            return ""
        gold = "in gold" if self.opened.snippet.id in self.desk.gold else "not in gold"
        count = len(self.opened.disagreements())
        return f"{gold} · {count} disagreement{'' if count == 1 else 's'} · score {self.opened.score:.2f}"

    def context_line(self) -> Text:
        """Who chose what under the cursor; a message (gone at the next key) comes first."""
        line = Text()
        if self.message.plain:
            line.append_text(self.message)
            line.append("   ")
        if self.opened is not None:
            line.append(f"annotators {', '.join(self.opened.annotators)} · ", style="dim")
            under = self._items_under_cursor()
            for item in under:
                line.append(f"{_KIND_NAMES[item.kind]}: ", style="bold")
                line.append(safe_text(item.describe()))
                line.append("   ")
            if not under:
                line.append("no disagreement here (d: next)", style="dim")
        line.rstrip()
        return line

    def _items_under_cursor(self) -> list[Item]:
        if self.opened is None:
            return []
        span = self.view.cursor_span
        if span is None:
            return []
        return items_at(self.opened.disagreements(), self.opened.session.model, span[0])

    # ---- review keys

    def action_disagreement(self, step: int) -> None:
        if self.opened is None or not self.opened.session.model.tokens:
            return
        model = self.opened.session.model
        anchors = sorted({item_anchor(item, model)[0] for item in self.opened.disagreements()})
        if not anchors:
            self.say("no disagreements on this snippet", "yellow")
            return
        here = self.view.cursor_span[0] if self.view.cursor_span else 0
        ahead = [offset for offset in anchors if offset > here] if step > 0 else [offset for offset in anchors if offset < here]
        if not ahead:
            self.say("no more disagreements this way", "yellow")
            return
        target = ahead[0] if step > 0 else ahead[-1]
        self.view.set_cursor(model.token_at(target))
        self.refresh_status()

    def _take(self, chosen: list[tuple[Item, str | None]], name: str, message: str) -> None:
        if not chosen:
            self.say("no disagreement under the cursor (d: next)", "yellow")
            return

        def make(record, model):
            return choices_edit(name, record, take_choices(record, model, chosen), message)

        self.edit(make)

    def action_take_majority(self, whole: bool) -> None:
        if self.opened is None:
            return
        found = self.opened.disagreements() if whole else self._items_under_cursor()
        decided = [(item, choice) for item in found if (choice := item.majority()) is not False]
        if found and not decided:
            self.say("no majority here: take one annotator's choice (a) or edit it", "yellow")
            return
        ties = len(found) - len(decided)
        self._take(decided, "take majority", f"majority taken for {len(decided)} item(s)" + (f"; {ties} tie(s) left" if ties else ""))

    def action_take_annotator(self, whole: bool) -> None:
        if self.opened is None:
            return
        opened = self.opened
        names = opened.annotators

        def chosen(name: str | None) -> None:
            if name is None:
                self.say("nothing taken")
                return
            if whole:
                source = opened.records[name]
                self.edit(lambda record, model: choices_edit(
                    "take record", record, record.model_copy(update={"stories": source.stories, "boilerplate": source.boilerplate, "entities": source.entities}), f"whole record taken from {name}"
                ))
                return
            under = self._items_under_cursor()
            self._take([(item, item.choice_of(name)) for item in under], "take choice", f"{len(under)} item(s) taken from {name}")

        question = "Take whose whole record?" if whole else "Take whose choice for what is under the cursor?"
        self.app.push_screen(KindChooser(names, names[0], question), chosen)

    # ---- accepting

    def action_done(self) -> None:
        if self.opened is None:
            self.say("nothing to review")
            return
        self.opened.session.activity(self.clock())
        try:
            gold = self.desk.accept(self.opened, self.clock())
        except (OSError, StoreError, EditRefused) as error:
            self._counts = self.desk.counts()
            self.say(f"NOT IN GOLD (enter tries again): {save_failure_reason(error, self.corpus.path)}", "bold red reverse", sticky=True)
            return
        self._counts = self.desk.counts()
        if self.at_end(1):
            self.say(f"{gold.snippet_id} is gold; that was the last snippet to review", "bold green")
        elif self.step(1):
            self.say(f"{gold.snippet_id} went into gold (from {', '.join(gold.sources)})", "green")

    def action_skip(self) -> None:
        """Leave the snippet for later (no gold) and go to the next; the last one counts too."""
        if self.opened is None:
            self.say("nothing to review")
            return
        position = self.opened.position
        if self.at_end(1):
            if self.opened.unsaved is not None and not self.save():
                return
            self.desk.skip(position)
            self._counts = self.desk.counts()
            self.say("skipped; that was the last snippet to review", "yellow")
            return
        if self.step(1):
            self.desk.skip(position)
            self._counts = self.desk.counts()
            self.refresh_status()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.keymap, self.corpus.config, REVIEW_SCREEN_KEYS, "curate review: keys", REVIEW_PALETTE))
