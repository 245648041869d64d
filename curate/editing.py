"""Editing one snippet's annotation without a screen: reversible edit commands and undo/redo.

Every edit is computed by a pure function from the current record and the snippet's
:class:`~curate.text.TextModel`, and returned as an :class:`Edit` holding the touched fields
before and after; applying it builds a new (validated) record, reverting it applies the
inverse. :class:`EditSession` keeps the undo and redo stacks and the time spent. The UI
only maps keys to these calls and saves the resulting record.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from curate.model import Annotation, BoilerplateRange, Entity, Story, text_sha256, utc_now
from curate.text import TextModel

# A pause longer than this between two actions counts as this long: an editor who walks away
# from an open snippet should not be billed for the coffee break.
IDLE_GAP_SECONDS = 120.0

Origin = Literal["journal", "suggestion", "new"]


class EditRefused(Exception):
    """An edit that cannot be made here, with a message for the editor."""


@dataclass(frozen=True)
class Edit:
    """A reversible change: the value of every field it touches, before and after."""

    name: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    message: str = ""

    def inverse(self) -> "Edit":
        return Edit(self.name, self.after, self.before, self.message)


def apply_edit(record: Annotation, edit: Edit) -> Annotation:
    """The record with the edit's `after` values (validated like any record)."""
    values = dict(record)
    values.update({name: list(value) if isinstance(value, tuple) else value for name, value in edit.after.items()})
    return Annotation(**values)


def _edit(name: str, record: Annotation, message: str = "", **after: Any) -> Edit:
    before = {key: _frozen(getattr(record, key)) for key in after}
    return Edit(name, before, {key: _frozen(value) for key, value in after.items()}, message)


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# ---------------------------------------------------------------- starting a record


@dataclass(frozen=True)
class StartingRecord:
    record: Annotation
    origin: Origin
    warning: str | None = None


def fresh_record(snippet_id: str, annotator: str, text: str) -> Annotation:
    """A record with one story over the whole text and nothing marked."""
    return Annotation(snippet_id=snippet_id, annotator=annotator, stories=[Story(start=0, end=len(text))])


def starting_record(
    snippet_id: str, annotator: str, text: str, own: Annotation | None, suggestion: Annotation | None
) -> StartingRecord:
    """What the editor sees first: their own last record, else the suggestion, else a fresh one.

    A record whose stories do not cover this text (the snippet changed under it) is not
    usable; the next source is taken and a warning says why.
    """
    warning = None
    if own is not None:
        if own.text_length == len(text):
            changed = own.text_sha256 is not None and own.text_sha256 != text_sha256(text)
            return StartingRecord(own, "journal", "the snippet's text changed since this record was saved" if changed else None)
        warning = f"your saved record covers {own.text_length} characters, the text has {len(text)}; starting again"
    if suggestion is not None and suggestion.text_length == len(text):
        adopted = suggestion.model_copy(
            update={"annotator": annotator, "status": None, "note": None, "seconds": 0.0, "updated_at": None, "text_sha256": None}
        )
        return StartingRecord(adopted, "suggestion", warning)
    return StartingRecord(fresh_record(snippet_id, annotator, text), "new", warning)


# ---------------------------------------------------------------- lookups


def entity_index_at(record: Annotation, offset: int) -> int | None:
    """Index of the entity covering character `offset`, or None."""
    starts = [entity.start for entity in record.entities]
    index = bisect_right(starts, offset) - 1
    if index >= 0 and record.entities[index].end > offset:
        return index
    return None


def entities_overlapping(record: Annotation, start: int, end: int) -> list[Entity]:
    return [entity for entity in record.entities if entity.start < end and entity.end > start]


def _with_entities(entities: list[Entity], removed: list[Entity], added: list[Entity]) -> list[Entity]:
    removed_ids = {id(entity) for entity in removed}
    kept = [entity for entity in entities if id(entity) not in removed_ids]
    return sorted(kept + added, key=lambda entity: entity.start)


def _story_bounds(record: Annotation, offset: int) -> tuple[int, int]:
    story = record.stories[record.story_of(offset)]
    return story.start, story.end


# ---------------------------------------------------------------- entities


def snap_to_tokens(model: TextModel, start: int, end: int) -> tuple[int, int] | None:
    """Grow `[start, end)` outward to token edges (TextModel.snap_to_tokens, by bisection)."""
    tokens = model.tokens
    first = max(0, bisect_right(model.token_starts, start) - 1)
    if first < len(tokens) and tokens[first][1] <= start:
        first += 1
    last = bisect_left(model.token_starts, end) - 1
    if first >= len(tokens) or last < first:
        return None
    return tokens[first][0], tokens[last][1]


def selection_limit(model: TextModel, anchor: int, token: int) -> int:
    """Where a selection from token `anchor` may reach towards token `token`: no further than
    the anchor's paragraph (a line), so an entity never holds a line break."""
    paragraph = model.paragraphs[model.paragraph_at(model.tokens[anchor][0])]
    first = bisect_left(model.token_starts, paragraph.start)
    last = bisect_left(model.token_starts, paragraph.end) - 1
    return min(max(token, first), last)


def label_span(record: Annotation, model: TextModel, start: int, end: int, label: str) -> Edit:
    """Label the tokens of `[start, end)`; entities it overlaps are replaced."""
    snapped = snap_to_tokens(model, start, end)
    if snapped is None:
        raise EditRefused("no token there to label")
    start, end = snapped
    if model.paragraph_at(start) != model.paragraph_at(end - 1):
        raise EditRefused("an entity cannot cross a line break; shorten the selection")
    story_start, story_end = _story_bounds(record, start)
    if end > story_end:
        raise EditRefused("an entity cannot cross a story start; shorten the selection")
    overlapping = entities_overlapping(record, start, end)
    if len(overlapping) == 1 and (overlapping[0].start, overlapping[0].end) == (start, end):
        return relabel(record, record.entities.index(overlapping[0]), label)
    entity = Entity(start=start, end=end, label=label)
    entities = _with_entities(record.entities, overlapping, [entity])
    replaced = f" (replacing {len(overlapping)})" if overlapping else ""
    return _edit("label", record, f"{label}: {model.text[start:end]!r}{replaced}", entities=entities)


def relabel(record: Annotation, index: int, label: str) -> Edit:
    entity = record.entities[index]
    if entity.label == label:
        raise EditRefused(f"already {label}")
    entities = list(record.entities)
    entities[index] = Entity(start=entity.start, end=entity.end, label=label)
    return _edit("relabel", record, f"{entity.label} -> {label}", entities=entities)


def label_at_cursor(record: Annotation, model: TextModel, token: int, label: str) -> Edit:
    """Key 1-9 without a selection: relabel the entity under the cursor, else label its token."""
    start, end = model.tokens[token]
    index = entity_index_at(record, start)
    if index is not None:
        return relabel(record, index, label)
    return label_span(record, model, start, end, label)


def label_target(record: Annotation, model: TextModel, token: int, selection: tuple[int, int] | None) -> tuple[int, int]:
    """The characters a label key would label: the selection (on token edges), else the entity
    under the cursor token (a relabel), else the token."""
    if selection is not None:
        return snap_to_tokens(model, *selection) or selection
    start, end = model.tokens[token]
    index = entity_index_at(record, start)
    if index is not None:
        return record.entities[index].start, record.entities[index].end
    return start, end


def label_doubt(surface: str) -> str | None:
    """Why labelling `surface` is probably a slip (no letter in it: a lone `.`, a number), or None."""
    if any(char.isalpha() for char in surface):
        return None
    if any(char.isdigit() for char in surface):
        return "only digits"
    return "only punctuation"


def resize_entity(record: Annotation, model: TextModel, token: int, edge: Literal["start", "end"], step: int) -> Edit:
    """Move the start or the end of the entity under the cursor token by one token.

    `step` -1 moves the edge left, 1 right: the start left or the end right grows the entity,
    the other two shrink it. It stays on its line and in its story, does not grow into another
    entity, and keeps at least one token (`x` removes it).
    """
    tokens = model.tokens
    if not tokens:
        raise EditRefused("no token here")
    index = entity_index_at(record, tokens[token][0])
    if index is None:
        raise EditRefused("no entity under the cursor")
    entity = record.entities[index]
    first = model.token_at(entity.start)
    last = model.token_at(max(entity.start, entity.end - 1))
    if edge == "start":
        first += step
    else:
        last += step
    if first > last:
        raise EditRefused(f"{entity.label} is one token: x removes it")
    if first < 0 or last >= len(tokens):
        raise EditRefused("no token there to take in")
    start = tokens[first][0] if edge == "start" else entity.start
    end = tokens[last][1] if edge == "end" else entity.end
    if model.paragraph_at(start) != model.paragraph_at(end - 1):
        raise EditRefused("an entity never crosses a line break")
    story_start, story_end = _story_bounds(record, entity.start)
    if start < story_start or end > story_end:
        raise EditRefused("an entity cannot cross a story start")
    others = [other for other in entities_overlapping(record, start, end) if other is not entity]
    if others:
        other = others[0]
        raise EditRefused(f"{other.label} {model.text[other.start : other.end]!r} is there; x removes it first")
    grown = (edge == "start") == (step < 0)
    entities = list(record.entities)
    entities[index] = Entity(start=start, end=end, label=entity.label)
    return _edit("grow entity" if grown else "shrink entity", record, f"{entity.label}: {model.text[start:end]!r}", entities=entities)


def remove_entities(record: Annotation, start: int, end: int) -> Edit:
    """Remove every entity overlapping `[start, end)` (the cursor token or the selection)."""
    overlapping = entities_overlapping(record, start, end)
    if not overlapping:
        raise EditRefused("no entity here")
    entities = _with_entities(record.entities, overlapping, [])
    names = ", ".join(entity.label for entity in overlapping)
    return _edit("remove", record, f"removed {names}", entities=entities)


def label_all_occurrences(record: Annotation, model: TextModel, offset: int) -> Edit:
    """Label every other occurrence of the entity at `offset` (same text, on token edges) alike.

    Occurrences that overlap another entity are left alone, except an entity over exactly the
    same characters, which is relabelled.
    """
    index = entity_index_at(record, offset)
    if index is None:
        raise EditRefused("put the cursor on an entity first")
    source = record.entities[index]
    surface = model.text[source.start : source.end]
    edges = model.token_edges
    added: list[Entity] = []
    removed: list[Entity] = []
    position = model.text.find(surface)
    while position != -1:
        end = position + len(surface)
        if position != source.start and position in edges and end in edges:
            story_start, story_end = _story_bounds(record, position)
            overlapping = entities_overlapping(record, position, end)
            if end <= story_end:
                if not overlapping:
                    added.append(Entity(start=position, end=end, label=source.label))
                elif len(overlapping) == 1 and (overlapping[0].start, overlapping[0].end) == (position, end) and overlapping[0].label != source.label:
                    removed.append(overlapping[0])
                    added.append(Entity(start=position, end=end, label=source.label))
        position = model.text.find(surface, position + 1)
    if not added:
        raise EditRefused(f"no other unlabelled occurrence of {surface!r}")
    entities = _with_entities(record.entities, removed, added)
    return _edit("label all", record, f"{source.label}: {len(added)} more {surface!r}", entities=entities)


# ---------------------------------------------------------------- stories


def toggle_story_start(record: Annotation, model: TextModel, offset: int) -> Edit:
    """Add or remove a story start at the start of the sentence holding `offset`.

    A paragraph's first sentence starts its story at the line start (the line break belongs to
    the story before). Adding a start inside a story splits it: the first part keeps the
    story's `truncated` flag and the new story starts without one, so marking teasers top to
    bottom (`b`, `t`, next paragraph, `b`, `t`) never moves a flag already set. Entities across
    the new start are dropped and boilerplate across it is cut in two. Removing a start merges
    the two stories, keeping the later one's flag (it owns the merged story's end).
    """
    sentence = model.sentence_start_at(offset)
    boundary = model.boundary_offset(sentence)
    starts = [story.start for story in record.stories]
    # A start anywhere between the line start and the sentence (e.g. imported at the
    # paragraph's first character) is the same boundary.
    existing = [index for index, start in enumerate(starts) if boundary <= start <= sentence and index > 0]
    if existing:
        index = existing[0]
        stories = list(record.stories)
        before, after = stories[index - 1], stories[index]
        stories[index - 1 : index + 1] = [Story(start=before.start, end=after.end, truncated=after.truncated)]
        return _edit("join stories", record, f"joined stories {index} and {index + 1}", stories=stories)
    if boundary == 0 or sentence == 0:
        raise EditRefused("the first story always starts at the top")
    index = record.story_of(boundary)
    story = record.stories[index]
    if boundary == story.start:
        raise EditRefused("a story already starts here")
    stories = list(record.stories)
    stories[index : index + 1] = [
        Story(start=story.start, end=boundary, truncated=story.truncated),
        Story(start=boundary, end=story.end, truncated=False),
    ]
    crossing = [entity for entity in record.entities if entity.start < boundary < entity.end]
    entities = _with_entities(record.entities, crossing, [])
    boilerplate: list[BoilerplateRange] = []
    for item in record.boilerplate:
        if item.start < boundary < item.end:
            boilerplate.append(BoilerplateRange(start=item.start, end=boundary, kind=item.kind))
            boilerplate.append(BoilerplateRange(start=boundary, end=item.end, kind=item.kind))
        else:
            boilerplate.append(item)
    dropped = f"; {len(crossing)} entity(ies) across it dropped" if crossing else ""
    return _edit("new story", record, f"story {index + 2} starts here{dropped}", stories=stories, entities=entities, boilerplate=boilerplate)


def toggle_truncated(record: Annotation, offset: int) -> Edit:
    index = record.story_of(offset)
    stories = list(record.stories)
    story = stories[index]
    stories[index] = Story(start=story.start, end=story.end, truncated=not story.truncated)
    state = "truncated" if not story.truncated else "not truncated"
    return _edit("truncated", record, f"story {index + 1} {state}", stories=stories)


# ---------------------------------------------------------------- boilerplate


def paragraph_is_boilerplate(record: Annotation, model: TextModel, paragraph: int) -> bool:
    chosen = model.paragraphs[paragraph]
    return any(item.start < chosen.end and item.end > chosen.start for item in record.boilerplate)


def toggle_boilerplate(record: Annotation, model: TextModel, paragraph: int, kind: str) -> Edit:
    """Mark the paragraph as boilerplate of `kind`, or unmark it when any of it is marked.

    A paragraph holding a story start mid-way is marked as one range per story, because a
    range must lie inside one story.
    """
    chosen = model.paragraphs[paragraph]
    overlapping = [item for item in record.boilerplate if item.start < chosen.end and item.end > chosen.start]
    if overlapping:
        kept = [item for item in record.boilerplate if item not in overlapping]
        kinds = ", ".join(sorted({item.kind for item in overlapping}))
        return _edit("unmark boilerplate", record, f"no longer {kinds}", boilerplate=kept)
    pieces: list[BoilerplateRange] = []
    start = chosen.start
    for story in record.stories:
        if story.start < chosen.end and story.end > start:
            piece_end = min(story.end, chosen.end)
            if piece_end > start:
                pieces.append(BoilerplateRange(start=start, end=piece_end, kind=kind))
            start = piece_end
    boilerplate = sorted([*record.boilerplate, *pieces], key=lambda item: item.start)
    return _edit("boilerplate", record, f"paragraph {paragraph + 1}: {kind}", boilerplate=boilerplate)


def set_boilerplate_kind(record: Annotation, model: TextModel, paragraph: int, kind: str) -> Edit:
    """Give the paragraph's boilerplate this kind: a change of kind on a marked paragraph (every
    range over it), a new mark on an unmarked one."""
    chosen = model.paragraphs[paragraph]
    overlapping = [item for item in record.boilerplate if item.start < chosen.end and item.end > chosen.start]
    if not overlapping:
        return toggle_boilerplate(record, model, paragraph, kind)
    if all(item.kind == kind for item in overlapping):
        raise EditRefused(f"already {kind}")
    before = ", ".join(sorted({item.kind for item in overlapping}))
    boilerplate = [BoilerplateRange(start=item.start, end=item.end, kind=kind) if item in overlapping else item for item in record.boilerplate]
    return _edit("boilerplate kind", record, f"paragraph {paragraph + 1}: {before} -> {kind}", boilerplate=boilerplate)


# ---------------------------------------------------------------- status


def set_status(record: Annotation, status: str | None, note: str | None = None) -> Edit:
    """Mark done, skipped or flagged (with a note); the note is kept unless one is given."""
    new_note = record.note if note is None else (note.strip() or None)
    if record.status == status and new_note == record.note:
        raise EditRefused(f"already {status}")
    message = status if status else "in progress"
    return _edit(f"status {status}", record, message, status=status, note=new_note)


# ---------------------------------------------------------------- navigation helpers


def paragraph_starts_token(model: TextModel) -> list[int]:
    """Token index of the first token of each paragraph (paragraphs without tokens repeat the next)."""
    result = []
    for paragraph in model.paragraphs:
        result.append(min(bisect_left(model.token_starts, paragraph.start), max(0, len(model.tokens) - 1)))
    return result


def next_paragraph_token(model: TextModel, token: int, step: int) -> int:
    """First token of the next (step=1) or previous (step=-1) paragraph from the cursor token."""
    if not model.tokens:
        return 0
    firsts = sorted(set(paragraph_starts_token(model)))
    if step > 0:
        index = bisect_right(firsts, token)
        return firsts[index] if index < len(firsts) else token
    index = bisect_left(firsts, token) - 1
    return firsts[index] if index >= 0 else firsts[0]


def next_story_token(record: Annotation, model: TextModel, token: int, step: int) -> int:
    """First token of the next or previous story from the cursor token."""
    if not model.tokens:
        return 0
    firsts = []
    for story in record.stories:
        first = bisect_left(model.token_starts, story.start)
        if first < len(model.tokens) and model.tokens[first][0] < story.end:
            firsts.append(first)
    firsts = sorted(set(firsts))
    if step > 0:
        index = bisect_right(firsts, token)
        return firsts[index] if index < len(firsts) else token
    index = bisect_left(firsts, token) - 1
    return firsts[index] if index >= 0 else firsts[0]


# ---------------------------------------------------------------- the session


@dataclass
class EditSession:
    """One snippet being edited: the record, its undo/redo stacks and the time spent on it."""

    record: Annotation
    model: TextModel
    origin: Origin = "new"
    undo_stack: list[Edit] = field(default_factory=list)
    redo_stack: list[Edit] = field(default_factory=list)
    saved_seconds: float = 0.0
    last_saved_seconds: float = 0.0
    # The machine's proposal the session opened from: undoing back to it is unreviewed again.
    suggestion: Annotation | None = None
    # Keys of the suggestion's items the editor accepted by moving on from them (see
    # curate.navigation): kept for the session only, never saved.
    accepted: set = field(default_factory=set)
    _spent: float = 0.0
    # Time on this visit since its last change: it becomes editing time only when a change
    # follows (see record_to_save), and leaving drops it (looking is not editing).
    _pending: float = 0.0
    _last_activity: float | None = None

    def __post_init__(self) -> None:
        self.saved_seconds = self.record.seconds
        self.last_saved_seconds = self.record.seconds
        if self.origin == "suggestion" and self.suggestion is None:
            self.suggestion = self.record

    @property
    def text(self) -> str:
        return self.model.text

    @property
    def unreviewed(self) -> bool:
        """Still the machine's proposal, not yet touched by the editor."""
        return self.origin == "suggestion" and not self.undo_stack and self.record.status is None

    @property
    def back_to_suggestion(self) -> bool:
        """Every change undone: the record is the suggestion it opened from, with no status or note."""
        record, suggestion = self.record, self.suggestion
        if suggestion is None or record.status is not None or record.note:
            return False
        return record.stories == suggestion.stories and record.boilerplate == suggestion.boilerplate and record.entities == suggestion.entities

    def do(self, edit: Edit) -> Annotation:
        self.record = apply_edit(self.record, edit)
        self.undo_stack.append(edit)
        self.redo_stack.clear()
        return self.record

    def undo(self) -> Edit | None:
        if not self.undo_stack:
            return None
        edit = self.undo_stack.pop()
        self.record = apply_edit(self.record, edit.inverse())
        self.redo_stack.append(edit)
        return edit

    def redo(self) -> Edit | None:
        if not self.redo_stack:
            return None
        edit = self.redo_stack.pop()
        self.record = apply_edit(self.record, edit)
        self.undo_stack.append(edit)
        return edit

    # ---- time

    def activity(self, now: float) -> None:
        """Count the time since the last activity (capped) as pending and restart the clock."""
        if self._last_activity is not None:
            self._pending += min(max(0.0, now - self._last_activity), IDLE_GAP_SECONDS)
        self._last_activity = now

    def leave(self, now: float) -> None:
        """End the visit: the time since its last change (or since opening, when nothing
        changed) was looking, not editing, and is dropped."""
        self._pending = 0.0
        self._last_activity = None

    @property
    def seconds(self) -> float:
        """The editing time so far: the saved record's, plus this session's up to its last change."""
        return round(self.saved_seconds + self._spent, 1)

    def record_to_save(self, now: float, *, change: bool = True) -> Annotation:
        """The whole record as it goes into the journal: text hash, time spent, timestamp.

        A `change` turns the time pending since the visit opened or its previous change into
        editing time; a save without one (a retry) adds none.
        """
        if self._last_activity is not None:
            self.activity(now)
        if change:
            self._spent += self._pending
            self._pending = 0.0
        self.last_saved_seconds = self.seconds
        return self.record.model_copy(
            update={"text_sha256": text_sha256(self.text), "seconds": self.seconds, "updated_at": utc_now()}
        )
