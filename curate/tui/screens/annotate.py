"""The annotation screen: keys in, edits to the record, the whole record saved after each."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from curate.annotating import AnnotatorDesk, OpenSnippet
from curate.editing import (
    Edit,
    EditRefused,
    entity_index_at,
    label_all_occurrences,
    label_at_cursor,
    label_doubt,
    label_span,
    label_target,
    next_paragraph_token,
    next_story_token,
    paragraph_is_boilerplate,
    remove_entities,
    resize_entity,
    set_boilerplate_kind,
    set_status,
    snap_to_tokens,
    toggle_boilerplate,
    toggle_story_start,
    toggle_truncated,
)
from curate.navigation import (
    Search,
    SuggestedItem,
    check_places,
    check_step,
    entity_to_review,
    entity_token,
    find_match,
    item_token,
    items_to_review,
    name_run,
    review_step,
)
from curate.store import StoreError
from curate.tui.commands import AnnotateCommands
from curate.tui.document import safe_text
from curate.tui.keymap import bindings
from curate.tui.learning import LearningHookup
from curate.tui.messages import FilterQueue, FindText, FoundElsewhere, GoToSnippet
from curate.tui.screens.help import HelpScreen
from curate.tui.screens.prompts import ConfirmPrompt, KindChooser, TextPrompt
from curate.tui.widgets.footer import KeyFooter
from curate.tui.widgets.snippet_view import SnippetView
from curate.tui.widgets.status import Legend, StatusHeader, annotate_counts, identity_parts
from curate.twins import Twin, TwinIndex, build_index, copy_twin


class AnnotateScreen(Screen[None]):
    """One snippet at a time from the annotator's queue."""

    BINDINGS = bindings()
    COMMANDS = {AnnotateCommands}
    # The clock for time spent on a snippet (tests give their own).
    clock = staticmethod(time.monotonic)

    def __init__(self, desk: AnnotatorDesk, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.desk = desk
        self.keymap = keymap or {}
        self.opened: OpenSnippet | None = None
        self._view = SnippetView(id="snippet")
        self.message = Text("")
        # A sticky message (a warning about this snippet, a failed save) stays until the
        # snippet changes or a save succeeds; any other goes at the next key or click.
        self.message_sticky = False
        self.last_kind: str | None = None
        # What `/`, `\`, `*` or `#` looked for last (`;` and `,` look again), for every snippet.
        self.last_search: Search | None = None
        self.learning: LearningHookup | None = None  # curate annotate's learning loop, set on mount
        self.twins: TwinIndex | None = None  # annotated near twins (issue 18), built by a worker on mount
        self._twins_building = False  # a worker builds the index now
        self._twins_stale = False  # records changed while it did: build again after it
        self._counts = desk.counts()
        config = desk.corpus.config
        self.colours = {label.name: label.colour for label in config.labels}
        # The label a pressed key gives: by the binding's default digit, so a remapped
        # label-1 still means the label on key 1 of corpus.toml.
        self.label_keys = {label.name: self.keymap.get(f"label-{label.key}", label.key) for label in config.labels}

    @property
    def corpus(self):
        return self.desk.corpus

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield self._view
        yield Legend(id="legend")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(Legend).show_labels(self.corpus.config, self.label_keys)
        self.learning = LearningHookup.attach(self)
        if isinstance(self.desk, AnnotatorDesk):
            self.find_twins()
        self.load_current()
        self.opening_message()

    def opening_message(self) -> None:
        """What the screen says when it opens, after the first snippet (review: how many went into gold)."""
        note = getattr(self.desk, "order_note", None)  # --order uncertainty over a damaged scores file
        if note:
            self.say(note, "yellow", sticky=True)

    @property
    def view(self) -> SnippetView:
        return self._view

    # ---- showing

    def load_current(self) -> None:
        self.opened = self.desk.current()
        if self.learning is not None:
            self.learning.opened(self.opened)
        self.message = Text("")
        self.message_sticky = False
        view = self.view
        if self.opened is None:
            view.clear()
        else:
            session = self.opened.session
            session.activity(self.clock())
            view.load(self.opened.snippet.text, session.model, session.record, self.colours, self.opened.cursor)
            if self.opened.warning:
                self.say(self.opened.warning, "bold red", sticky=True)
            elif not session.model.tokens:
                self.say("this snippet has no tokens to label; enter marks it done", "yellow")
        self.refresh_status()

    def state_name(self) -> str:
        if self.opened is None:
            return ""
        session = self.opened.session
        if session.unreviewed or session.back_to_suggestion:
            return "suggested, unreviewed"
        status = session.record.status
        if status is not None:
            return status
        return "in progress" if session.origin == "journal" and self.desk.has_saved_record(self.opened.position) else "new"

    def refresh_status(self) -> None:
        snippet_id = self.opened.snippet.id if self.opened else None
        parts = identity_parts(
            self.corpus.config.name,
            self.desk.annotator,
            snippet_id,
            self.state_name(),
            self.desk.index,
            len(self.desk),
            self.desk.queue_name,
            self.counts_text(),
        )
        if self.learning is not None:
            parts += self.learning.header_parts()
        self.query_one(StatusHeader).show(parts, self.context_line())

    def counts_text(self) -> str:
        return annotate_counts(self._counts)

    def context_line(self) -> Text:
        """The last message (it goes at the next key), then what is under the cursor."""
        line = Text()
        if self.message.plain:
            line.append_text(self.message)
            line.append("   ")
        twin = self._twin_here()
        if twin is not None:
            story, found = twin
            key = self.keymap.get("copy-twin", "T").split(",")[0]
            line.append(safe_text(f"story {story + 1} is a near twin of {found.source_id} story {found.source_story + 1} (similarity {found.similarity:.2f}): {key} copies it"), style="cyan")
            line.append("   ")
        view = self.view
        span = view.cursor_span
        if self.opened is not None and span is not None:
            record = self.opened.session.record
            model = self.opened.session.model
            story = record.story_of(span[0])
            line.append(f"story {story + 1}/{len(record.stories)}", style="bold")
            if record.stories[story].truncated:
                line.append(" truncated", style="yellow")
            line.append(f" · paragraph {model.paragraph_at(span[0]) + 1}/{len(model.paragraphs)}")
            selection = view.selection_span
            if selection is not None:
                line.append(" · selected ", style="italic")
                line.append(quoted(model.text[selection[0] : selection[1]]))
                line.append(f" ({selection[1] - selection[0]} chars)", style="italic")
            entity = entity_index_at(record, span[0])
            if entity is not None:
                found = record.entities[entity]
                line.append(f" · {found.label} ", style="bold")
                line.append(quoted(model.text[found.start : found.end]))
                if self._suggested_entity_here(found):
                    line.append(" suggested", style="yellow")
            elif selection is None:
                line.append(" · ")
                line.append(quoted(model.text[span[0] : span[1]]))
            if record.note:
                line.append(" · note: ", style="dim")
                line.append(safe_text(record.note[:60]), style="dim")
        line.rstrip()
        return line

    def _suggested_entity_here(self, entity) -> bool:
        """True when the entity is one of the suggestion's, still to review (curate.navigation)."""
        session = self.opened.session
        return entity_to_review(session.suggestion, session.record, session.accepted, entity.start, entity.end, entity.label)

    def _items_to_review(self):
        session = self.opened.session
        return items_to_review(session.suggestion, session.record, session.accepted)

    def say(self, message: str, style: str = "", *, sticky: bool = False) -> None:
        self.message = Text(safe_text(message), style=style)
        self.message_sticky = sticky
        self.refresh_status()

    def expire_message(self) -> None:
        """The editor acted: a message that is not sticky has been seen."""
        if self.message.plain and not self.message_sticky:
            self.message = Text("")
            self.refresh_status()

    def on_key(self, event) -> None:
        # Keys reach the screen before its bindings run, so an action's own message follows.
        self.expire_message()

    def on_mouse_down(self, event) -> None:
        self.expire_message()

    @on(SnippetView.CursorMoved)
    def cursor_moved(self, event: SnippetView.CursorMoved) -> None:
        self.refresh_status()

    # ---- saving

    def apply(self, edit: Edit) -> bool:
        """Do an edit, show it, save the whole record at once; False when the save failed
        (the edit stays, on screen and in the session, and the next save writes it)."""
        assert self.opened is not None
        session = self.opened.session
        session.do(edit)
        self.view.update_record(session.record)
        self.view.clear_selection()
        return self.save(edit.message)

    def save(self, message: str | None = None) -> bool:
        """Save the open snippet's whole record; a failure says NOT SAVED and why until a save succeeds.

        `message` (the edit's) replaces the status message once the save succeeded, so the status
        line is drawn once per edit."""
        assert self.opened is not None
        try:
            self.desk.save(self.opened, self.clock())
        except (OSError, StoreError):
            self.say(f"NOT SAVED, kept here (saved with your next change): {self.opened.unsaved}", "bold red reverse", sticky=True)
            return False
        if message is not None:
            self.message, self.message_sticky = Text(safe_text(message)), False
        elif self.message.plain.startswith("NOT SAVED"):
            self.message = Text("")
            self.message_sticky = False
        self._counts = self.desk.counts()
        if self.learning is not None:
            self.learning.saved(self.opened)
        self.refresh_status()
        return True

    def edit(self, make) -> bool:
        """Run an edit maker; a refusal becomes a message, not an error. True when the edit was made."""
        if self.opened is None:
            self.say("nothing to edit: the queue is empty")
            return False
        self.opened.session.activity(self.clock())
        try:
            edit = make(self.opened.session.record, self.opened.session.model)
        except EditRefused as refusal:
            self.say(str(refusal), "yellow")
            return False
        self.apply(edit)
        return True

    def leave_current(self) -> bool:
        """Stop the clock on this snippet and retry a change whose save failed (False, and the
        editor stays, when it fails again). Leaving writes nothing else: `seconds` counts the
        time up to each change, so the time since the last one was looking, not editing."""
        if self.opened is None:
            return True
        self.opened.cursor = self.view.cursor
        self.opened.session.leave(self.clock())
        if self.opened.unsaved is not None and not self.save():
            self.say(f"NOT SAVED, staying on this snippet until it is: {self.opened.unsaved}", "bold red reverse", sticky=True)
            return False
        return True

    # ---- moving

    def _has_tokens(self) -> bool:
        if self.opened is not None and self.opened.session.model.tokens:
            self.opened.session.activity(self.clock())
            return True
        return False

    def action_move(self, step: int) -> None:
        if self._has_tokens():
            self.view.set_cursor(self.view.cursor + step)

    def action_move_line(self, step: int) -> None:
        if self._has_tokens():
            self.view.clear_selection()
            self.view.move_vertically(step)

    def action_select(self, step: int) -> None:
        if self._has_tokens():
            self.view.set_cursor(self.view.cursor + step, extend=True)

    def action_select_line(self, step: int) -> None:
        if self._has_tokens():
            self.view.move_vertically(step, extend=True)

    def action_paragraph(self, step: int) -> None:
        if self._has_tokens():
            self.view.set_cursor(next_paragraph_token(self.opened.session.model, self.view.cursor, step))

    def action_story(self, step: int) -> None:
        if self._has_tokens():
            session = self.opened.session
            self.view.set_cursor(next_story_token(session.record, session.model, self.view.cursor, step))

    def action_clear_selection(self) -> None:
        self.view.clear_selection()
        self.refresh_status()

    def action_page(self, step: int) -> None:
        view = self.view
        height = max(1, view.scrollable_content_region.height)
        view.scroll_to(y=view.scroll_offset.y + step * (height - 1), animate=False, immediate=True)

    # ---- jumping and searching

    def select_tokens(self, first: int, last: int) -> None:
        """Put the cursor on `last` with the selection from `first` (one token: no selection)."""
        self.view.set_cursor(first)
        if last != first:
            self.view.set_cursor(last, extend=True)

    def action_entity(self, step: int) -> None:
        if not self._has_tokens():
            return
        session = self.opened.session
        target = entity_token(session.record, session.model, self.view.cursor, step)
        if target is None:
            self.say(f"no entity {'after' if step > 0 else 'before'} the cursor", "yellow")
            return
        self.view.set_cursor(target)

    def action_review(self, step: int) -> None:
        """Accept the suggested items under the cursor and go to the next (previous) one still to review."""
        if not self._has_tokens():
            return
        session = self.opened.session
        if session.suggestion is None:
            self.say("nothing to review: this snippet did not open from a suggestion", "yellow")
            return
        items = self._items_to_review()
        here, target = review_step(session.model, items, self.view.cursor, step)
        session.accepted.update(item.key for item in here)
        accepted = f"accepted {len(here)}; " if here else ""
        left = len(items) - len(here)
        if target is None:
            where = "after" if step > 0 else "before"
            self.say(f"{accepted}no suggested item to review {where} the cursor ({left} left)" if left else f"{accepted}every suggested item reviewed", "yellow" if left else "green")
            return
        self.view.set_cursor(target)
        there = [item.describe(session.model.text) for item in items if item_token(session.model, item) == target]
        self.say(f"{accepted}review ({left} left, r accepts): {'; '.join(there)}")

    def action_name(self, step: int) -> None:
        if not self._has_tokens():
            return
        session = self.opened.session
        run = name_run(session.record, session.model, self.view.cursor, step)
        if run is None:
            self.say(f"no capitalised token without a label {'after' if step > 0 else 'before'} the cursor", "yellow")
            return
        first, last = run
        if step > 0:
            self.select_tokens(first, last)
        else:
            self.select_tokens(last, first)  # the cursor on the run's start, so O walks on back

    def action_check(self, step: int) -> None:
        """Go to the next (previous) place most likely to need a fix (curate.navigation.check_places):
        a run of capitalised tokens without a label is selected, an entity in doubt gets the cursor."""
        if not self._has_tokens():
            return
        session = self.opened.session
        place = check_step(session.record, session.model, self.view.cursor, step)
        if place is None:
            other_way = len(check_places(session.record, session.model))  # none lie this way: all lie the other
            if other_way:
                self.say(f"nothing to check {'after' if step > 0 else 'before'} the cursor ({other_way} {'before' if step > 0 else 'after'} it)", "yellow")
            else:
                self.say("nothing to check in this snippet", "yellow")
            return
        if not place.select:
            self.view.set_cursor(place.first)
        elif step > 0:
            self.select_tokens(place.first, place.last)
        else:
            self.select_tokens(place.last, place.first)
        self.say(f"check: {place.reason}")

    def action_search_prompt(self, backward: bool) -> None:
        if self.opened is None:
            return
        last = self.last_search.query if self.last_search else ""

        def answered(value: str | None) -> None:
            if value is None:
                return
            query = value or last
            if not query:
                self.say("nothing to search for", "yellow")
                return
            self.run_search(Search(query, backward))

        question = f"Search {'backward' if backward else 'forward'} in this snippet" + (" (enter alone: the last search)" if last else "")
        self.app.push_screen(TextPrompt(question, "", placeholder=safe_text(last)), answered)

    def action_search_again(self, reverse: bool) -> None:
        if self.last_search is None:
            self.say("no search yet: / searches forward, * for the token under the cursor", "yellow")
            return
        self.run_search(self.last_search.reversed() if reverse else self.last_search, remember=False)

    def action_search_token(self, backward: bool) -> None:
        if not self._has_tokens():
            return
        session = self.opened.session
        start, end = label_target(session.record, session.model, self.view.cursor, None)
        self.view.clear_selection()
        self.run_search(Search(session.model.text[start:end], backward, whole_tokens=True), offset=start)

    def run_search(self, search: Search, *, remember: bool = True, offset: int | None = None) -> None:
        """Select the next match of `search` from the cursor (or its selection), wrapping round."""
        if remember:
            self.last_search = search
        if not self._has_tokens():
            return
        model = self.opened.session.model
        if offset is None:
            offset = self.view.target_span[0]
        found = find_match(model, search, offset)
        if found is None:
            self.say(f"{quoted(search.query)} is not in this snippet (ctrl+p find searches the queue)", "yellow")
            return
        (start, end), wrapped = found
        start, end = snap_to_tokens(model, start, end) or (start, end)  # the tokens the match touches
        first, last = model.token_at(start), model.token_at(max(start, end - 1))
        self.select_tokens(first, last)
        wrap = (" (from the bottom)" if search.backward else " (from the top)") if wrapped else ""
        self.say(f"{'backward' if search.backward else 'found'} {quoted(search.query)}{wrap}", "yellow" if wrapped else "")

    # ---- editing

    def action_label(self, key: str) -> None:
        label = self.corpus.config.label_for_key(key)
        if label is None:
            self.say(f"no label on key {key} in corpus.toml", "yellow")
            return
        if not self._has_tokens():
            self.say("no token here to label", "yellow")
            return
        selection = self.view.selection_span
        cursor = self.view.cursor
        session = self.opened.session

        def make(record, model):
            if selection is not None:
                return label_span(record, model, selection[0], selection[1], label)
            return label_at_cursor(record, model, cursor, label)

        start, end = label_target(session.record, session.model, cursor, selection)
        if selection is None and self._accept_by_label(start, end, label):
            return
        doubt = label_doubt(session.model.text[start:end])
        if doubt is None:
            self.edit(make)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.edit(make)
            else:
                self.say("not labelled")

        question = f"{quoted(session.model.text[start:end])} is {doubt}: label it {label}? (y: yes)"
        self.app.push_screen(ConfirmPrompt(question), answered)

    def _accept_by_label(self, start: int, end: int, label: str) -> bool:
        """A label key naming the label a suggested entity already has accepts it (True)."""
        session = self.opened.session
        if not entity_to_review(session.suggestion, session.record, session.accepted, start, end, label):
            return False
        session.accepted.add(SuggestedItem("entity", start, end, label).key)
        self.say(f"{label} {quoted(session.model.text[start:end])} accepted")
        return True

    def action_resize(self, edge: str, step: int) -> None:
        """Grow or shrink the entity under the cursor by a token at its start or end."""
        if not self._has_tokens():
            self.say("no token here", "yellow")
            return
        cursor = self.view.cursor
        if not self.edit(lambda record, model: resize_entity(record, model, cursor, edge, step)):
            return
        session = self.opened.session
        if entity_index_at(session.record, session.model.tokens[cursor][0]) is None:
            # The cursor's token was shrunk off: stay on the entity, so the key can go on.
            self.view.set_cursor(cursor + (1 if edge == "start" else -1))

    def action_remove_entity(self) -> None:
        span = self.view.target_span
        if span is None:
            self.say("no entity here", "yellow")
            return
        self.edit(lambda record, model: remove_entities(record, span[0], span[1]))

    def action_label_all(self) -> None:
        span = self.view.cursor_span
        if span is None:
            self.say("no entity here", "yellow")
            return
        self.edit(lambda record, model: label_all_occurrences(record, model, span[0]))

    def action_toggle_story_start(self) -> None:
        span = self.view.cursor_span
        if span is None:
            self.say("no sentence here", "yellow")
            return
        self.edit(lambda record, model: toggle_story_start(record, model, span[0]))

    def action_toggle_truncated(self) -> None:
        span = self.view.cursor_span
        offset = span[0] if span else 0
        self.edit(lambda record, model: toggle_truncated(record, offset))

    def action_toggle_boilerplate(self) -> None:
        span = self.view.cursor_span
        if span is None or self.opened is None:
            self.say("no paragraph here", "yellow")
            return
        session = self.opened.session
        paragraph = session.model.paragraph_at(span[0])
        kinds = list(self.corpus.config.boilerplate_kinds) or ["boilerplate"]
        if paragraph_is_boilerplate(session.record, session.model, paragraph) or len(kinds) == 1:
            self.edit(lambda record, model: toggle_boilerplate(record, model, paragraph, kinds[0]))
            return

        def chosen(kind: str | None) -> None:
            if kind is None:
                self.say("not marked")
                return
            self.last_kind = kind
            self.edit(lambda record, model: toggle_boilerplate(record, model, paragraph, kind))

        self.app.push_screen(KindChooser(kinds, self.last_kind), chosen)

    def action_choose_boilerplate_kind(self) -> None:
        """`C`: mark the paragraph with a kind, or change the kind it has; a number answers."""
        span = self.view.cursor_span
        if span is None or self.opened is None:
            self.say("no paragraph here", "yellow")
            return
        session = self.opened.session
        paragraph = session.model.paragraph_at(span[0])
        chosen_paragraph = session.model.paragraphs[paragraph]
        kinds = list(self.corpus.config.boilerplate_kinds) or ["boilerplate"]
        current = next((item.kind for item in session.record.boilerplate if item.start < chosen_paragraph.end and item.end > chosen_paragraph.start), None)
        if len(kinds) == 1:
            self.edit(lambda record, model: set_boilerplate_kind(record, model, paragraph, kinds[0]))
            return

        def chosen(kind: str | None) -> None:
            if kind is None:
                self.say("unchanged")
            elif kind == KindChange.UNMARK:
                if current is not None:
                    self.edit(lambda record, model: toggle_boilerplate(record, model, paragraph, current))
            else:
                self.last_kind = kind
                self.edit(lambda record, model: set_boilerplate_kind(record, model, paragraph, kind))

        question = f"Boilerplate kind of this paragraph (now {safe_text(current)}; c unmarks it)" if current else "Boilerplate kind of this paragraph"
        self.app.push_screen(KindChange(kinds, current or self.last_kind, question=question), chosen)

    # ---- status and snippets

    def finish(self, status: str, note: str | None = None) -> None:
        """Set the snippet's status (saved at once), then move on."""
        if self.opened is None:
            self.say("the queue is empty")
            return
        self.opened.session.activity(self.clock())
        try:
            edit = set_status(self.opened.session.record, status, note)
        except EditRefused:
            edit = None
        if edit is not None and not self.apply(edit):
            return
        if status == "done" and self.twins is not None:
            self.find_twins()  # this snippet's stories can now be the twins of later ones
        if self.at_end(1):
            if self.opened.unsaved is None or self.save():
                self.say(f"{status}; that was the last snippet of the '{self.desk.queue_name}' queue", "bold green")
            return
        self.step(1)

    def action_done(self) -> None:
        self.finish("done")

    def action_skip(self) -> None:
        self.finish("skipped")

    def action_flag(self) -> None:
        if self.opened is None:
            self.say("the queue is empty")
            return

        def answered(note: str | None) -> None:
            if note is None:
                self.say("not flagged")
                return
            self.finish("flagged", note)

        self.app.push_screen(TextPrompt("Flag this snippet: why? (a note for the reviewer)", self.opened.session.record.note or ""), answered)

    def at_end(self, delta: int) -> bool:
        """True when a step of `delta` would leave the queue."""
        return not 0 <= self.desk.index + delta < len(self.desk)

    def step(self, delta: int) -> bool:
        """Go `delta` snippets along the queue; False at either end, or when this snippet's
        change still cannot be saved (the editor stays on it, told so)."""
        if self.at_end(delta):
            return False
        if not self.leave_current():
            return False
        self.desk.step(delta)
        self.load_current()
        return True

    def action_step(self, delta: int) -> None:
        if self.at_end(delta):
            self.say("end of the queue" if delta > 0 else "start of the queue", "yellow")
            return
        self.step(delta)

    def action_undo(self) -> None:
        self._history(undo=True)

    def action_redo(self) -> None:
        self._history(undo=False)

    def _history(self, undo: bool) -> None:
        if self.opened is None:
            return
        session = self.opened.session
        session.activity(self.clock())
        edit = session.undo() if undo else session.redo()
        if edit is None:
            self.say("nothing to undo on this snippet" if undo else "nothing to redo", "yellow")
            return
        self.view.update_record(session.record)
        if self.save():
            self.say(f"{'undone' if undo else 'redone'}: {edit.name}")

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.keymap, self.corpus.config))

    def action_quit(self) -> None:
        """Quit, saving first; a change that still cannot be saved is lost only if the editor says so."""
        if self.leave_current():
            self.app.exit()
            return
        assert self.opened is not None
        question = f"1 change to {self.opened.snippet.id} is NOT SAVED ({self.opened.unsaved}). Quit and lose it?"

        def answered(lose: bool | None) -> None:
            if lose:
                self.app.exit()
            else:
                self.say(f"NOT SAVED, not quitting (q tries again): {self.opened.unsaved}", "bold red reverse", sticky=True)

        self.app.push_screen(ConfirmPrompt(question), answered)

    def on_unmount(self) -> None:
        # The app is closing (`q`, or after the editor agreed to lose an unsaved change):
        # remember where the editor was, for the next `curate annotate` (best effort).
        if self.learning is not None:
            self.learning.stop()  # a fit still running is killed; models/ stays as it was
        if self.opened is None:
            return
        self.opened.session.leave(self.clock())
        self.desk.remember_place(self.opened.snippet.id, self.view.cursor)

    # ---- palette requests

    def prompt_for(self, kind: str) -> None:
        if kind == "goto":
            self.app.push_screen(TextPrompt("Go to snippet id"), lambda value: value and self.post_message(GoToSnippet(value.strip())))
        elif kind == "find":
            self.app.push_screen(TextPrompt("Find text (this snippet, then the queue)"), lambda value: value and self.post_message(FindText(value)))

    @on(GoToSnippet)
    def go_to_snippet(self, message: GoToSnippet) -> None:
        position = self.corpus.position(message.snippet_id)
        if position is None:
            self.say(f"no snippet with id {message.snippet_id!r}", "yellow")
            return
        if not self.leave_current():
            return
        self.desk.go_to_position(position)
        self.load_current()

    @on(FindText)
    def find_text(self, message: FindText) -> None:
        if not message.query:
            return
        span = self.view.cursor_span
        if self.select_text(message.query, span[1] if span else 0):
            return
        if message.here_only:
            if not self.select_text(message.query, 0):
                self.say(f"{message.query!r} is not in this snippet", "yellow")
            return
        self.say(f"searching the '{self.desk.queue_name}' queue for {message.query!r}…", "italic")
        self.search_queue(message.query)

    def select_text(self, query: str, after: int) -> bool:
        """Select the first occurrence of `query` at or after offset `after` (case-insensitive)."""
        if self.opened is None:
            return False
        model = self.opened.session.model
        found = model.text.casefold().find(query.casefold(), after)
        if found == -1 or not model.tokens:
            return False
        first = model.token_at(found)
        last = model.token_at(found + len(query) - 1)
        self.view.set_cursor(first)
        if last != first:
            self.view.set_cursor(last, extend=True)
        self.say(f"found {query!r}")
        return True

    # ---- near twins (issue 18): copy an annotated wire story onto its repeat here

    def find_twins(self) -> None:
        """(Re)build the twin index off the screen's thread; the hint and `T` wait for it, opening a
        snippet never does. A build reads the corpus through dedup (its cache is stale after any
        save), so one runs at a time: asked again meanwhile, it builds once more after it."""
        if self._twins_building:
            self._twins_stale = True
            return
        self._twins_building = True
        self._build_twins()

    @work(thread=True, group="twins", exit_on_error=False)  # not exclusive: find_twins lets one run at a time
    def _build_twins(self) -> None:
        index = None
        try:
            index = build_index(self.corpus.layout.root)
        except (OSError, StoreError, ValueError):
            pass  # the hint is a help, not a duty: without an index no twin is offered
        finally:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._twins_built, index)

    def _twins_built(self, index: TwinIndex | None) -> None:
        self._twins_building = False
        if index is not None:
            self.twins = index
            self.refresh_status()
        if self._twins_stale:
            self._twins_stale = False
            self.find_twins()

    def _twin_here(self) -> tuple[int, Twin] | None:
        if self.twins is None or self.opened is None:
            return None
        span = self.view.cursor_span
        return self.twins.at(self.opened.snippet.id, self.opened.session.record, span[0] if span else 0)

    def action_copy_twin(self) -> None:
        twin = self._twin_here()
        if twin is None:
            still = " (still looking)" if self.twins is None and self.opened is not None else ""
            self.say(f"no story of this snippet has an annotated near twin{still}", "yellow")
            return
        _, found = twin
        self.edit(lambda record, model: copy_twin(record, model.text, found.source, found.source_text, found.source_story, source_id=found.source_id).edit)

    @work(thread=True, exclusive=True, group="find")
    def search_queue(self, query: str) -> None:
        worker = get_current_worker()
        position = self.desk.find_forward(query, lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(FoundElsewhere(query, position))

    @on(FoundElsewhere)
    def found_elsewhere(self, message: FoundElsewhere) -> None:
        if message.position is None:
            self.say(f"{message.query!r} is in no snippet of the '{self.desk.queue_name}' queue", "yellow")
            return
        if self.opened is not None and message.position == self.opened.position:
            self.select_text(message.query, 0)  # only here: wrap to the first occurrence
            return
        if not self.leave_current():
            return
        self.desk.go_to_position(message.position)
        self.load_current()
        self.select_text(message.query, 0)

    @on(FilterQueue)
    def filter_queue(self, message: FilterQueue) -> None:
        if not self.leave_current():
            return
        self.desk.set_queue(message.queue, keep_position=self.opened.position if self.opened else None)
        self.load_current()
        self.say(f"queue: {message.queue} ({len(self.desk)} snippets)")


class KindChange(KindChooser):
    """The kind chooser of `C`: a number gives the paragraph that kind, `c` unmarks it."""

    UNMARK = "\x00unmark"  # no kind's name: corpus.toml names are printable
    BINDINGS = [Binding("c", "unmark", "Unmark", id="kind-unmark")]

    def action_unmark(self) -> None:
        self.dismiss(self.UNMARK)


def quoted(text: str, limit: int = 40) -> str:
    """`text` for the status line: terminal-safe, quoted, cut to `limit` characters with an ellipsis."""
    safe = safe_text(text)
    if len(safe) > limit:
        safe = safe[: limit - 1] + "…"
    return repr(safe)
