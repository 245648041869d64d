"""The review screen: one merged view of several annotators' work, disagreements marked, gold out.

It is the annotation screen (every annotation key edits the record that becomes gold) with
keys to walk the disagreements and take the majority's or one annotator's choice; `enter`
accepts the snippet into gold.jsonl with its sources and adjudicator. The line under the header
numbers the annotators as `a`/`A` do (`1 ana · 2 ben`) and, for each item under the cursor, shows
its text, who chose what and the choice the record holds now; a resolved item is dim with a ✓,
loses its underline in the text, and `d`/`D` pass it by.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.keys import format_key
from textual.widgets import Static

from curate.adjudicate import Item
from curate.annotating import save_failure_reason
from curate.console import terminal_safe
from curate.editing import EditRefused
from curate.reviewing import ReviewDesk, ReviewSnippet, choices_edit, item_anchor, item_excerpt, items_at, same_fields, take_choices
from curate.store import StoreError
from curate.tui.commands import ReviewCommands
from curate.tui.document import safe_text
from curate.tui.keymap import REVIEW_KEYS, REVIEW_SCREEN_KEYS, bindings, keys_of
from curate.tui.screens.annotate import AnnotateScreen
from curate.tui.screens.help import REVIEW_PALETTE, HelpScreen
from curate.tui.screens.prompts import KindChooser
from curate.tui.widgets.footer import KeyFooter
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
_RESOLVED = "✓ "
# What the review help adds under the keys: the line under the header, read left to right.
REVIEW_HELP_NOTE = (
    "The line under the header: the annotators numbered as `a`/`A` take them (1 ana · 2 ben), then for "
    "each disagreement under the cursor its kind and text, who chose what, and `now:` the choice the "
    "record (the gold to be) holds. A resolved one (a choice taken with a/m/A/M, or changed by an "
    "annotation key) is dim with a ✓ and no longer underlined in the text; d/D pass it by. "
    "The header counts the disagreements and how many are resolved."
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
        yield KeyFooter()

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

    def refresh_status(self) -> None:
        self._underline_open_disagreements()
        super().refresh_status()

    def _underline_open_disagreements(self) -> None:
        """The text underlines the disagreements not yet resolved (redrawn only when they change)."""
        spans: list[tuple[int, int]] = []
        if self.opened is not None:
            model = self.opened.session.model
            spans = sorted(item_anchor(item, model) for item in self.opened.open_disagreements())
        if spans != self.view.highlights:
            self.view.set_highlights(spans)

    def state_name(self) -> str:
        if self.opened is None:
            return ""
        gold = "in gold" if self.opened.snippet.id in self.desk.gold else "not in gold"
        count = len(self.opened.disagreements())
        resolved = len(self.opened.resolved())
        settled = f" · {resolved} resolved" if resolved else ""
        return f"{gold} · {count} disagreement{'' if count == 1 else 's'}{settled} · score {self.opened.score:.2f}"

    def context_line(self) -> Text:
        """The numbered annotators, then each item under the cursor (open ones first): its text,
        who chose what and the record's choice now. A message (gone at the next key) comes first.
        Page text goes in as plain Text, made terminal-safe; never as markup."""
        line = Text()
        if self.message.plain:
            line.append_text(self.message)
            line.append("   ")
        opened = self.opened
        if opened is not None:
            line.append_text(self.annotator_numbers())
            line.append("  ")
            resolved = opened.resolved()
            under = sorted(self._items_under_cursor(), key=lambda item: item.key in resolved)
            for item in under:
                line.append_text(self.item_text(item, item.key in resolved))
                line.append("   ")
            if not under:
                if opened.disagreements() and not opened.open_disagreements():
                    line.append("every disagreement is resolved (enter: accept)", style="green")
                else:
                    line.append("no disagreement here (d: next)", style="dim")
        line.rstrip()
        return line

    def annotator_numbers(self) -> Text:
        """`1 ana · 2 ben · 3 cy`: the numbers `a` and `A` take."""
        numbers = Text()
        for number, name in enumerate(self.opened.annotators if self.opened else [], start=1):
            if number > 1:
                numbers.append(" · ", style="dim")
            numbers.append(f"{number}", style="bold")
            numbers.append(f" {safe_text(name)}")
        return numbers

    def item_text(self, item: Item, resolved: bool) -> Text:
        """`entity “Bolt Corp”: ORG: ana, cy · GPE: ben · now: ORG`, dim with a ✓ when resolved."""
        assert self.opened is not None
        text = Text(style="dim" if resolved else "")
        if resolved:
            text.append(_RESOLVED, style="green")
        text.append(_KIND_NAMES[item.kind], style="bold")
        text.append(f" “{terminal_safe(item_excerpt(item, self.opened.snippet.text))}”: ")
        text.append(safe_text(item.describe()))
        choice = self.opened.record_choice(item)
        text.append(" · now: ")
        text.append(safe_text(choice if choice is not None else "none"), style="" if resolved else "bold")
        return text

    def _items_under_cursor(self) -> list[Item]:
        if self.opened is None:
            return []
        span = self.view.cursor_span
        if span is None:
            return []
        return items_at(self.opened.disagreements(), self.opened.session.model, span[0])

    # ---- review keys

    def action_disagreement(self, step: int) -> None:
        """To the next (previous) disagreement not resolved yet; resolved ones are passed by."""
        if self.opened is None or not self.opened.session.model.tokens:
            return
        model = self.opened.session.model
        if not self.opened.disagreements():
            self.say("no disagreements on this snippet", "yellow")
            return
        anchors = sorted({item_anchor(item, model)[0] for item in self.opened.open_disagreements()})
        if not anchors:
            self.say("every disagreement is resolved: enter accepts the snippet", "green")
            return
        here = self.view.cursor_span[0] if self.view.cursor_span else 0
        ahead = [offset for offset in anchors if offset > here] if step > 0 else [offset for offset in anchors if offset < here]
        if not ahead:
            behind = [offset for offset in anchors if offset < here] if step > 0 else [offset for offset in anchors if offset > here]
            other = f" ({len(behind)} the other way)" if behind else ""
            self.say(f"no more open disagreements this way{other}", "yellow")
            return
        target = ahead[0] if step > 0 else ahead[-1]
        self.view.set_cursor(model.token_at(target))
        self.refresh_status()

    def _take(self, chosen: list[tuple[Item, str | None]], name: str, message: str) -> None:
        """Take the choices; the items count as resolved from now on (until undone), also when
        the record already held those choices."""
        if not chosen:
            self.say("no disagreement under the cursor (d: next)", "yellow")
            return
        assert self.opened is not None
        resolved = self.opened.resolved()
        newly = [item.key for item, _ in chosen if item.key not in resolved]

        def make(record, model):
            after = take_choices(record, model, chosen)
            said = f"{message} (the record already held that: now resolved)" if same_fields(record, after) else message
            return choices_edit(name, record, after, said, newly)

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
                resolved = opened.resolved()
                newly = [item.key for item in opened.disagreements() if item.key not in resolved]
                self.edit(lambda record, model: choices_edit(
                    "take record", record, record.model_copy(update={"stories": source.stories, "boilerplate": source.boilerplate, "entities": source.entities}), f"whole record taken from {name}", newly
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
        self.app.push_screen(HelpScreen(self.keymap, self.corpus.config, REVIEW_SCREEN_KEYS, "curate review: keys", REVIEW_PALETTE, notes=REVIEW_HELP_NOTE))
