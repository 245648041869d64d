"""An adjudicator's desk: the review queue, merged starting records, taking choices, accepting gold.

UI-free, like :mod:`curate.annotating`: the review screen calls these methods and tests call
them directly. The queue holds the snippets done by at least `min_annotators` annotators that
have no gold yet, most-disagreed first. Snippets on which every annotator agrees exactly are
merged into gold when the desk opens (unless `auto_accept` is off). Edits made while reviewing
go to the adjudicator's own review journal (`.curate/review/NAME.jsonl`), so a crash loses no
more than the action in flight; accepting writes the snippet to gold.jsonl atomically.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from curate.adjudicate import Item, ItemKind, build_record, done_lines_by_snippet, items, merge, quick_unanimous, record_items
from curate.agreement.disagreement import snippet_disagreement
from curate.annotating import Desk, OpenSnippet
from curate.editing import Edit, EditRefused, EditSession, toggle_story_start
from curate.model import Annotation, BoilerplateRange, Entity, GoldAnnotation, Story, text_sha256, utc_now
from curate.store import Corpus, Journal, check_annotator_name
from curate.text import TextModel

_RECORD_FIELDS = ("stories", "boilerplate", "entities")

ItemKey = tuple[ItemKind, int, int]


# ---------------------------------------------------------------- choices on a record (pure)


def item_anchor(item: Item, model: TextModel) -> tuple[int, int]:
    """The span of text an item is about, for finding it under the cursor and highlighting it.

    Spans (entities, boilerplate) are themselves; a story start is the paragraph (or the
    sentence, inside a paragraph) it opens; a truncated flag is the last paragraph before the
    story end it belongs to.
    """
    if item.kind in ("entity", "boilerplate"):
        return item.start, item.end
    if not model.paragraphs:
        return item.start, item.start
    if item.kind == "story_start":
        token = bisect_left(model.token_starts, item.start)
        first = model.tokens[min(token, len(model.tokens) - 1)][0] if model.tokens else item.start
        paragraph = model.paragraphs[model.paragraph_at(first)]
        return first, paragraph.end
    last = model.paragraphs[model.paragraph_at(max(0, item.start - 1))]
    return last.start, last.end


def items_at(found: list[Item], model: TextModel, offset: int) -> list[Item]:
    """The items whose anchor holds `offset`."""
    return [item for item in found if (anchor := item_anchor(item, model))[0] <= offset < max(anchor[1], anchor[0] + 1)]


def record_with_choice(record: Annotation, model: TextModel, item: Item, choice: str | None) -> Annotation:
    """The record with `choice` taken for `item` (None: the item not marked). Raises EditRefused.

    A span chosen replaces every span it overlaps; a span not chosen (None) removes only a
    span over exactly its characters, since "not this span" says nothing about another one
    that overlaps it (ana's "Kenyan Transport" where ben chose "Kenyan").
    """
    if item.kind == "entity":
        if choice is None:
            kept = [entity for entity in record.entities if (entity.start, entity.end) != (item.start, item.end)]
        else:
            kept = [entity for entity in record.entities if entity.end <= item.start or entity.start >= item.end]
        if choice is not None:
            story = record.story_of(item.start)
            if item.end > record.stories[story].end:
                raise EditRefused("that entity crosses a story start; take the story start choice first")
            kept.append(Entity(start=item.start, end=item.end, label=choice))
        return record.model_copy(update={"entities": sorted(kept, key=lambda entity: entity.start)})
    if item.kind == "boilerplate":
        if choice is None:
            kept = [part for part in record.boilerplate if (part.start, part.end) != (item.start, item.end)]
        else:
            kept = [part for part in record.boilerplate if part.end <= item.start or part.start >= item.end]
        if choice is not None:
            story = record.story_of(item.start)
            if item.end > record.stories[story].end:
                raise EditRefused("that range crosses a story start; take the story start choice first")
            kept.append(BoilerplateRange(start=item.start, end=item.end, kind=choice))
        return record.model_copy(update={"boilerplate": sorted(kept, key=lambda part: part.start)})
    if item.kind == "story_start":
        has_start = item.start in record.story_starts
        if has_start == (choice is not None):
            return record
        token = bisect_left(model.token_starts, item.start)
        if token >= len(model.tokens):
            raise EditRefused("no sentence starts there")
        edit = toggle_story_start(record, model, model.tokens[token][0])
        values = dict(record)
        values.update({name: list(value) for name, value in edit.after.items()})
        return Annotation(**values)
    ends = [story.end for story in record.stories]
    if item.start not in ends:
        raise EditRefused("no story of the record ends there; take the story start choice first")
    stories = list(record.stories)
    index = ends.index(item.start)
    stories[index] = Story(start=stories[index].start, end=stories[index].end, truncated=choice is not None)
    return record.model_copy(update={"stories": stories})


@dataclass(frozen=True)
class ChoiceEdit(Edit):
    """An edit that takes choices for items (`a`, `m`, `A`, `M`): while it is done (not undone),
    the items it names count as resolved, even when the record already held those choices."""

    decided: frozenset[ItemKey] = frozenset()


def choices_edit(name: str, before: Annotation, after: Annotation, message: str, decided: Iterable[ItemKey] = ()) -> ChoiceEdit:
    """One reversible edit from `before` to `after` over stories, boilerplate and entities,
    resolving the `decided` items. Refused when it neither changes the record nor decides any."""
    decided = frozenset(decided)
    if not decided and same_fields(before, after):
        raise EditRefused("nothing changes: the record already has that")
    return ChoiceEdit(
        name,
        {part: tuple(getattr(before, part)) for part in _RECORD_FIELDS},
        {part: tuple(getattr(after, part)) for part in _RECORD_FIELDS},
        message,
        decided,
    )


def same_fields(first: Annotation, second: Annotation) -> bool:
    """True when two records mark the same stories, boilerplate and entities."""
    return all(getattr(first, part) == getattr(second, part) for part in _RECORD_FIELDS)


def resolved_keys(found: list[Item], record: Annotation, merged: Annotation, done: Iterable[Edit]) -> frozenset[ItemKey]:
    """The disagreements (of `found`) the adjudicator has settled: those a choice edit still
    done (`done`, the undo stack) decided, and those whose choice in `record` is no longer the
    one of `merged`, the record review started from (an annotation key changed it, now or in
    an earlier session saved to the review journal)."""
    decided: set[ItemKey] = set()
    for edit in done:
        if isinstance(edit, ChoiceEdit):
            decided |= edit.decided
    now, start = record_items(record), record_items(merged)
    return frozenset(item.key for item in found if item.key in decided or now.get(item.key) != start.get(item.key))


_LAYOUT_SPACE = re.compile(r"[ \t\r\n]+")


def item_excerpt(item: Item, text: str, width: int = 24) -> str:
    """A short excerpt of the text an item is about, on one line (raw: the caller makes it
    terminal-safe): a span's own text, the words a story start opens, the words a truncated
    story ends with. Longer text is cut with `…` (at the end; for a truncation, at the start)."""
    if item.kind in ("entity", "boilerplate"):
        excerpt, cut_start = text[item.start : item.end], False
    elif item.kind == "story_start":
        excerpt, cut_start = text[item.start : item.start + 4 * width], False
    else:
        excerpt, cut_start = text[max(0, item.start - 4 * width) : item.start], True
    excerpt = _LAYOUT_SPACE.sub(" ", excerpt).strip()
    if len(excerpt) <= width:
        return excerpt
    # Cut between words when one ends in the half kept nearest the cut, else within a word.
    if cut_start:
        kept = excerpt[-(width - 1) :]
        space = kept.find(" ")
        return "…" + (kept[space + 1 :] if 0 <= space < width // 2 else kept)
    kept = excerpt[: width - 1]
    space = kept.rfind(" ")
    return (kept[:space] if space >= width // 2 else kept) + "…"


def take_choices(record: Annotation, model: TextModel, chosen: list[tuple[Item, str | None]]) -> Annotation:
    """Apply several choices; story starts first so spans land in the stories they belong to,
    and of each kind the spans not chosen before those chosen, so one never undoes another."""
    order = {"story_start": 0, "truncated": 1, "boilerplate": 2, "entity": 3}
    for item, choice in sorted(chosen, key=lambda pair: (order[pair[0].kind], pair[1] is not None, pair[0].start)):
        record = record_with_choice(record, model, item, choice)
    return record


def starting_merge(records: dict[str, Annotation], text: str, adjudicator: str) -> Annotation:
    """The record review starts from: every majority choice taken, ties left unmarked."""
    snippet_id = next(iter(records.values())).snippet_id
    found = items(records)

    def majority_or_none(item: Item) -> str | None:
        choice = item.majority()
        return None if choice is False else choice

    try:
        merged = build_record(snippet_id, text, found, majority_or_none, sources=sorted(records), adjudicator=adjudicator)
    except ValidationError:
        first = records[sorted(records)[0]]
        merged = first
    return Annotation(
        snippet_id=snippet_id,
        annotator=adjudicator,
        stories=merged.stories,
        boilerplate=merged.boilerplate,
        entities=merged.entities,
    )


# ---------------------------------------------------------------- the desk


@dataclass
class ReviewSnippet(OpenSnippet):
    records: dict[str, Annotation] | None = None
    score: float = 0.0
    # The record review starts from (every majority choice): what an item's choice is compared
    # with to tell whether the adjudicator changed it.
    merged: Annotation | None = None
    _found: list[Item] | None = field(default=None, repr=False)
    _resolved: tuple[Annotation, frozenset[ItemKey]] | None = field(default=None, repr=False)
    _marked: tuple[Annotation, dict[ItemKey, str]] | None = field(default=None, repr=False)

    @property
    def annotators(self) -> list[str]:
        """The annotators compared, in the order they are numbered on screen and in `a`/`A` (from 1)."""
        return sorted(self.records or {})

    def disagreements(self) -> list[Item]:
        if self._found is None:
            self._found = [item for item in items(self.records or {}) if not item.agreed]
        return self._found

    def resolved(self) -> frozenset[ItemKey]:
        """The keys of the disagreements settled so far (see :func:`resolved_keys`)."""
        record = self.session.record
        if self._resolved is None or self._resolved[0] is not record:
            merged = self.merged if self.merged is not None else record
            self._resolved = (record, resolved_keys(self.disagreements(), record, merged, self.session.undo_stack))
        return self._resolved[1]

    def open_disagreements(self) -> list[Item]:
        """The disagreements not resolved yet, in text order."""
        done = self.resolved()
        return [item for item in self.disagreements() if item.key not in done]

    def record_choice(self, item: Item) -> str | None:
        """The choice the record (the gold to be) holds for `item` now; None: not marked."""
        record = self.session.record
        if self._marked is None or self._marked[0] is not record:
            self._marked = (record, record_items(record))
        return self._marked[1].get(item.key)


class NothingToReview(Exception):
    """Opening the review found no snippet to show; the message says why (and what went into
    gold without asking)."""


class ReviewDesk(Desk):
    """One adjudicator turning several annotators' done records into gold."""

    def __init__(
        self,
        corpus: Corpus,
        adjudicator: str,
        *,
        min_annotators: int = 2,
        auto_accept: bool = True,
        annotators: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.corpus = corpus
        self.annotator = check_annotator_name(adjudicator)
        self.min_annotators = min_annotators
        self.queue_name = "review"
        self.gold = corpus.gold()
        self.journal = Journal(corpus, self.review_journal_path(corpus, adjudicator), writable=True)
        self._records: dict[int, dict[str, Annotation]] = {}
        self._scores: dict[int, float] = {}
        self.auto_accepted = 0
        self.accepted = 0
        # Snippets left for later (`s`) and not accepted since, by corpus position.
        self._skipped: set[int] = set()
        auto: list[GoldAnnotation] = []
        auto_positions: list[int] = []
        # Which snippets to look at comes from the journals' indexes; their lines are parsed only
        # as far as needed: snippets all annotators marked alike (most of them) go to gold from
        # their raw lines, validated once as gold; the others are read as validated records.
        names = annotators if annotators is not None else corpus.annotators()
        in_gold = np.zeros(len(corpus), dtype=bool)
        if len(self.gold):
            placed = corpus.positions_of(list(self.gold.records))
            in_gold[placed[placed >= 0]] = True
        journals = {name: corpus.journal(name) for name in names}
        accepted_at = utc_now()  # the agreed snippets go into gold together, at this time
        for position, lines in done_lines_by_snippet(corpus, names, min_annotators=min_annotators, skip=in_gold, journals=journals):
            text = corpus.snippet(position).text
            if auto_accept:
                quick = quick_unanimous(lines, text, adjudicator, updated_at=accepted_at)
                if quick is not None and quick.snippet_id not in self.gold:
                    auto.append(quick)
                    auto_positions.append(position)
                    continue
            records = {name: record for name in lines if (record := journals[name].record_at(position)) is not None}
            if len(records) < min_annotators:
                continue
            snippet_id = next(iter(records.values())).snippet_id
            if snippet_id in self.gold:
                continue
            records = {name: record for name, record in records.items() if record.text_sha256 in (None, text_sha256(text))}
            if len(records) < min_annotators:
                continue
            if auto_accept:
                unanimous = merge(records, text, "unanimous", adjudicator).record
                if unanimous is not None:
                    auto.append(unanimous)
                    auto_positions.append(position)
                    continue
            self._records[position] = records
            self._scores[position] = snippet_disagreement(records)
        if auto:
            try:
                self.gold.put(*auto, positions=auto_positions)
            except BaseException:
                self.journal.close()
                raise
            self.auto_accepted = len(auto)
        self.queue: list[int] = sorted(self._records, key=lambda position: (-self._scores[position], position))

    @staticmethod
    def check_can_open(corpus: Corpus, adjudicator: str) -> None:
        """The quick refusal of opening a review desk (StoreError): the adjudicator's review
        journal locked by another process or in a read-only folder. Nothing is read, so the UI
        can refuse before its screen and leave the slow part (every annotator's journal, the
        merge of agreed snippets into gold) to a worker."""
        Journal.check_writable(corpus, ReviewDesk.review_journal_path(corpus, adjudicator))

    @classmethod
    def open_to_review(cls, corpus: Corpus, adjudicator: str, **options) -> "ReviewDesk":
        """The desk, as the review screen's worker opens it (agreed snippets merged into gold
        on the way); NothingToReview, with the desk closed, when it has no snippet to show."""
        desk = cls(corpus, adjudicator, **options)
        if len(desk):
            return desk
        message = desk.nothing_to_review()
        desk.close()
        raise NothingToReview(message)

    @staticmethod
    def review_journal_path(corpus: Corpus, adjudicator: str) -> Path:
        return corpus.layout.review_journal(check_annotator_name(adjudicator))

    @classmethod
    def open(cls, directory: Path | str, adjudicator: str, **options) -> "ReviewDesk":
        corpus = Corpus.open(directory)
        try:
            return cls(corpus, adjudicator, **options)
        except BaseException:
            corpus.close()
            raise

    def close(self) -> None:
        self.journal.close()
        self.corpus.close()

    # ---- queue: one, most disagreed first

    def go_to_position(self, position: int) -> None:
        if position in self._records:
            self.index = self.queue.index(position)

    def set_queue(self, queue: str, keep_position: int | None = None) -> None:
        """Review has one queue; kept for the annotation screen's palette."""

    @property
    def skipped(self) -> int:
        return len(self._skipped)

    def skip(self, position: int) -> None:
        """Leave this snippet for later (counted once, however often it is skipped)."""
        self._skipped.add(position)

    def counts(self) -> dict[str, int]:
        return {"done": self.accepted, "skipped": self.skipped, "flagged": 0, "gold": len(self.gold), "auto": self.auto_accepted}

    def nothing_to_review(self) -> str:
        """What `curate review` says instead of opening an empty screen."""
        merged = f"{self.auto_accepted} snippet(s) on which all annotators agree went into gold without asking; " if self.auto_accepted else ""
        return (
            f"{merged}nothing to review: no snippet done by at least {self.min_annotators} annotator(s) is without gold "
            f"({len(self.gold)} gold in all)"
        )

    def score(self, position: int) -> float:
        return self._scores.get(position, 0.0)

    # ---- snippets

    def _open(self, position: int, snippet) -> ReviewSnippet:
        records = self._records[position]
        saved = self.journal.record_at(position)
        merged = starting_merge(records, snippet.text, self.annotator)
        if saved is not None and saved.text_length == len(snippet.text):
            start, origin = saved, "journal"
        else:
            start, origin = merged, "new"
        session = EditSession(start, TextModel(snippet.text), origin)
        return ReviewSnippet(position=position, snippet=snippet, session=session, records=records, score=self._scores[position], merged=merged)

    def accept(self, opened: ReviewSnippet, now: float | None = None) -> GoldAnnotation:
        """Write the snippet's record to gold.jsonl (atomic rewrite) with its provenance.

        Counted as accepted only once the rewrite succeeded; a failed one (raised) leaves
        the desk's gold and counts as they were.
        """
        record = self.save(opened, now)
        gold = GoldAnnotation(
            **{**dict(record), "status": "done", "annotator": self.annotator},
            sources=opened.annotators,
            adjudicator=self.annotator,
        )
        previous = self.gold.get(gold.snippet_id)
        try:
            self.gold.put(gold)
        except BaseException:
            # gold.jsonl is as it was: so is what this desk says is gold (and its counts)
            if self.gold.get(gold.snippet_id) is gold:
                if previous is None:
                    self.gold.records.pop(gold.snippet_id, None)
                else:
                    self.gold.records[gold.snippet_id] = previous
            raise
        if previous is None:
            self.accepted += 1
        self._skipped.discard(opened.position)
        return gold
