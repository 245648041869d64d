"""Merging several annotators' records of one snippet into gold, and finding what they disagree on.

A record is cut into *items*, each a decision every annotator made, explicitly or not:

- `story_start` at an offset: a story starts there (choice "start") or not (None);
- `truncated` at a story end offset: the story ending there is truncated ("truncated") or not;
- `boilerplate` over a range: its kind, or None when the annotator left the range as text;
- `entity` over a span: its label, or None when the annotator did not mark that exact span.

An item is agreed when every annotator made the same choice. Under the `majority` strategy a
choice wins when more than half of the annotators made it; an item with no such choice is a
tie, left for review. Spans chosen by a majority never overlap, because each annotator's own
spans are flat and two majorities must share an annotator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Literal

import msgspec
from pydantic import ValidationError

from curate.model import (
    Annotation,
    BoilerplateRange,
    Entity,
    GoldAnnotation,
    Story,
    text_sha256,
    utc_now,
)

ItemKind = Literal["story_start", "truncated", "boilerplate", "entity"]
ITEM_KINDS: tuple[ItemKind, ...] = ("story_start", "truncated", "boilerplate", "entity")
Strategy = Literal["unanimous", "majority"]


@dataclass(frozen=True)
class Item:
    """One decision on one place of the text, with every annotator's choice (None = not marked)."""

    kind: ItemKind
    start: int
    end: int
    choices: tuple[tuple[str, str | None], ...]

    @property
    def agreed(self) -> bool:
        return len({choice for _, choice in self.choices}) == 1

    def voters(self) -> dict[str | None, list[str]]:
        """Each choice with the annotators who made it, most chosen first."""
        grouped: dict[str | None, list[str]] = {}
        for annotator, choice in self.choices:
            grouped.setdefault(choice, []).append(annotator)
        return dict(sorted(grouped.items(), key=lambda pair: -len(pair[1])))

    def majority(self) -> str | None | Literal[False]:
        """The choice of more than half of the annotators, or False when there is none."""
        counts = Counter(choice for _, choice in self.choices)
        choice, count = counts.most_common(1)[0]
        return choice if count * 2 > len(self.choices) else False

    @property
    def key(self) -> tuple[ItemKind, int, int]:
        """What the item is about, the same in every record: (kind, start, end)."""
        return (self.kind, self.start, self.end)

    def choice_of(self, annotator: str) -> str | None:
        return dict(self.choices)[annotator]

    def describe(self) -> str:
        """Who chose what, e.g. `PERSON: ana, ben · ORG: cy · none: dee`."""
        parts = []
        for choice, names in self.voters().items():
            parts.append(f"{choice if choice is not None else 'none'}: {', '.join(names)}")
        return " · ".join(parts)


def _item_choices(records: dict[str, Annotation]) -> dict[tuple[ItemKind, int, int], dict[str, str]]:
    marked: dict[tuple[ItemKind, int, int], dict[str, str]] = {}
    for annotator, record in records.items():
        for start in record.story_starts:
            marked.setdefault(("story_start", start, start), {})[annotator] = "start"
        for story in record.stories:
            if story.truncated:
                marked.setdefault(("truncated", story.end, story.end), {})[annotator] = "truncated"
        for item in record.boilerplate:
            marked.setdefault(("boilerplate", item.start, item.end), {})[annotator] = item.kind
        for entity in record.entities:
            marked.setdefault(("entity", entity.start, entity.end), {})[annotator] = entity.label
    return marked


def record_items(record: Annotation) -> dict[tuple[ItemKind, int, int], str]:
    """What one record marks, as item keys (kind, start, end) and its choice for each; an item
    key missing from it is one the record leaves unmarked (choice None)."""
    return {key: chosen[""] for key, chosen in _item_choices({"": record}).items()}


def items(records: dict[str, Annotation]) -> list[Item]:
    """Every item any annotator marked, in text order (kind order within one offset)."""
    names = sorted(records)
    result = []
    for (kind, start, end), chosen in _item_choices(records).items():
        result.append(Item(kind, start, end, tuple((name, chosen.get(name)) for name in names)))
    result.sort(key=lambda item: (item.start, ITEM_KINDS.index(item.kind), item.end))
    return result


def disagreements(records: dict[str, Annotation]) -> list[Item]:
    """The items on which the annotators do not all agree, in text order."""
    return [item for item in items(records) if not item.agreed]


@dataclass
class MergeResult:
    record: GoldAnnotation | None
    ties: list[Item] = field(default_factory=list)
    reason: str | None = None


def build_record(
    snippet_id: str,
    text: str,
    decided: Iterable[Item],
    choose,
    *,
    sources: list[str],
    adjudicator: str,
    seconds: float = 0.0,
) -> GoldAnnotation:
    """A gold record from items and a `choose(item)` giving the chosen value (None = not marked).

    Raises ValueError (pydantic's ValidationError) when the choices do not make a valid record,
    for example an entity chosen across a story start that was not chosen.
    """
    starts: set[int] = set()
    truncated_ends: set[int] = set()
    boilerplate = []
    entities = []
    for item in decided:
        value = choose(item)
        if value is None:
            continue
        if item.kind == "story_start":
            starts.add(item.start)
        elif item.kind == "truncated":
            truncated_ends.add(item.start)
        elif item.kind == "boilerplate":
            boilerplate.append(BoilerplateRange(start=item.start, end=item.end, kind=value))
        else:
            entities.append(Entity(start=item.start, end=item.end, label=value))
    cuts = [0, *sorted(start for start in starts if 0 < start < len(text)), len(text)]
    stories = [Story(start=a, end=b, truncated=b in truncated_ends) for a, b in zip(cuts, cuts[1:])]
    return GoldAnnotation(
        snippet_id=snippet_id,
        annotator=adjudicator,
        text_sha256=text_sha256(text),
        stories=stories,
        boilerplate=sorted(boilerplate, key=lambda item: item.start),
        entities=sorted(entities, key=lambda item: item.start),
        status="done",
        seconds=seconds,
        updated_at=utc_now(),
        sources=sources,
        adjudicator=adjudicator,
    )


def merge(records: dict[str, Annotation], text: str, strategy: Strategy, adjudicator: str) -> MergeResult:
    """Merge records of one snippet; `record` is None when ties or invalid choices need review."""
    if not records:
        return MergeResult(None, reason="no records")
    snippet_id = next(iter(records.values())).snippet_id
    all_items = items(records)
    if strategy == "unanimous":
        ties = [item for item in all_items if not item.agreed]
    else:
        ties = [item for item in all_items if item.majority() is False]
    if ties:
        return MergeResult(None, ties, reason=f"{len(ties)} item(s) without {'agreement' if strategy == 'unanimous' else 'a majority'}")
    try:
        record = build_record(
            snippet_id,
            text,
            all_items,
            lambda item: item.majority(),
            sources=sorted(records),
            adjudicator=adjudicator,
        )
    except ValidationError as error:
        return MergeResult(None, reason=f"the majority choices do not form a valid record: {error.errors()[0]['msg']}")
    return MergeResult(record)


def same_annotation(first: Annotation, second: Annotation) -> bool:
    """True when two records make the same stories, boilerplate and entities."""
    return (
        first.stories == second.stories
        and first.boilerplate == second.boilerplate
        and first.entities == second.entities
    )


# ---------------------------------------------------------------- corpus level


def done_records_by_snippet(corpus, annotators: list[str] | None = None) -> Iterator[tuple[int, dict[str, Annotation]]]:
    """(position, {annotator: done record}) for every snippet done by at least one annotator."""
    import numpy as np

    names = annotators if annotators is not None else corpus.annotators()
    journals = {name: corpus.journal(name) for name in names}
    done = {name: journal.status_mask("done") for name, journal in journals.items()}
    if not done:
        return
    any_done = np.logical_or.reduce(list(done.values()))
    for position in np.flatnonzero(any_done):
        position = int(position)
        records = {}
        for name, journal in journals.items():
            if done[name][position]:
                record = journal.record_at(position)
                if record is not None:
                    records[name] = record
        yield position, records


def done_lines_by_snippet(
    corpus, annotators: list[str] | None = None, *, min_annotators: int = 1, skip=None, batch: int = 4096, journals=None
) -> Iterator[tuple[int, dict[str, bytes]]]:
    """(position, {annotator: the raw line of its done record}) for every snippet done by at
    least `min_annotators` (and not True in the bool array `skip`), in corpus order.

    The lines are not parsed: which snippets qualify comes from the journals' indexes, and the
    lines are sliced in batches from each journal's memory map. Parse or validate them only for
    what is needed (:func:`quick_unanimous`; :meth:`Journal.record_at` for a whole record).
    `journals` ({name: Journal}) are the caller's open journals, when it has them.
    """
    import numpy as np

    names = annotators if annotators is not None else corpus.annotators()
    journals = {name: journals[name] if journals is not None and name in journals else corpus.journal(name) for name in names}
    done = {name: journal.status_mask("done") for name, journal in journals.items()}
    if not done:
        return
    count = np.sum(list(done.values()), axis=0)
    wanted = count >= max(1, min_annotators)
    if skip is not None:
        wanted &= ~skip
    positions = np.flatnonzero(wanted)
    for start in range(0, len(positions), batch):
        chunk = positions[start : start + batch]
        lines: dict[str, dict[int, bytes]] = {}
        for name, journal in journals.items():
            mine = chunk[done[name][chunk]]
            lines[name] = dict(zip(mine.tolist(), journal.raw_lines(mine)))
        for position in chunk.tolist():
            yield position, {name: lines[name][position] for name in names if position in lines[name]}


_decode_record = None
_encode = None


def quick_unanimous(lines: dict[str, bytes], text: str, adjudicator: str, *, updated_at: str | None = None) -> GoldAnnotation | None:
    """The gold record `merge(records, text, "unanimous", adjudicator)` makes, found from the
    raw lines when every annotator's stories, boilerplate and entities are the same JSON and
    cover exactly the text: then the merge is that record (the model keeps stories contiguous
    from 0 and spans sorted), validated once as gold. None when this quick test cannot tell
    (different JSON, a text changed under a record, a line that does not parse): the caller
    then merges the validated records the usual way, which decides every other case.
    `updated_at` is the time of the accept (now, when not given)."""
    global _decode_record, _encode
    if _decode_record is None:
        _decode_record, _encode = msgspec.json.Decoder(dict).decode, msgspec.json.encode
    try:
        decoded = [_decode_record(line) for line in lines.values()]
    except Exception:  # msgspec.DecodeError and friends: the slow path reports it
        return None
    first = decoded[0]
    marks = (first.get("stories"), first.get("boilerplate", []), first.get("entities", []))
    if any((value.get("stories"), value.get("boilerplate", []), value.get("entities", [])) != marks for value in decoded[1:]):
        return None
    digest = text_sha256(text)
    if any(value.get("text_sha256") not in (None, digest) for value in decoded):
        return None
    stories = marks[0]
    if not isinstance(stories, list) or not stories or not isinstance(stories[-1], dict) or stories[-1].get("end") != len(text):
        return None
    try:
        # Validated from JSON: pydantic checks JSON several times faster than a dict of lists.
        return GoldAnnotation.model_validate_json(_encode(
            {
                "snippet_id": first.get("snippet_id"),
                "annotator": adjudicator,
                "text_sha256": digest,
                "stories": stories,
                "boilerplate": marks[1],
                "entities": marks[2],
                "status": "done",
                "seconds": 0.0,
                "updated_at": updated_at or utc_now(),
                "sources": sorted(lines),
                "adjudicator": adjudicator,
            }
        ))
    except (ValidationError, TypeError):
        return None


@dataclass
class GoldReport:
    merged: int = 0
    already_gold: int = 0
    too_few: int = 0
    left_for_review: list[tuple[str, str]] = field(default_factory=list)


def merge_corpus(
    corpus,
    strategy: Strategy,
    *,
    adjudicator: str | None = None,
    min_annotators: int = 2,
    annotators: list[str] | None = None,
    replace_existing: bool = False,
    on_snippet=None,
) -> GoldReport:
    """Merge every snippet done by at least `min_annotators` into gold.jsonl (one atomic rewrite).

    A snippet all annotators marked with the same JSON goes to gold from the raw lines
    (:func:`quick_unanimous`: when everyone agrees, the majority is that same record); the
    others are read as validated records and merged by `strategy`.
    """
    adjudicator = adjudicator or f"auto:{strategy}"
    gold = corpus.gold()
    report = GoldReport()
    new_records = []
    positions = []
    names = annotators if annotators is not None else corpus.annotators()
    journals = {name: corpus.journal(name) for name in names}
    accepted_at = utc_now()
    for position, lines in done_lines_by_snippet(corpus, names, journals=journals):
        if on_snippet is not None:
            on_snippet(position)
        records = None
        if len(lines) < min_annotators:
            records = {name: record for name in lines if (record := journals[name].record_at(position)) is not None}
            if len(records) < min_annotators:
                report.too_few += 1
                continue
        snippet = corpus.snippet(position)
        if snippet.id in gold and not replace_existing:
            report.already_gold += 1
            continue
        if records is None:
            quick = quick_unanimous(lines, snippet.text, adjudicator, updated_at=accepted_at)
            if quick is not None:
                new_records.append(quick)
                positions.append(position)
                continue
            records = {name: record for name in lines if (record := journals[name].record_at(position)) is not None}
            if len(records) < min_annotators:
                report.too_few += 1
                continue
        stale = [name for name, record in records.items() if record.text_sha256 not in (None, text_sha256(snippet.text))]
        if stale:
            report.left_for_review.append((snippet.id, f"the text changed under the records of {', '.join(stale)}"))
            continue
        result = merge(records, snippet.text, strategy, adjudicator)
        if result.record is None:
            report.left_for_review.append((snippet.id, result.reason or "needs review"))
            continue
        new_records.append(result.record)
        positions.append(position)
    if new_records:
        gold.put(*new_records, positions=positions)
    report.merged = len(new_records)
    return report


def contradicted_gold(corpus) -> list[tuple[str, str]]:
    """(snippet id, annotator) where an annotator's record, saved after the gold, differs from it.

    Streams: gold.jsonl is read as positions and offsets (:class:`GoldLines`), and a gold or
    annotator record is validated only when the annotator's done record was saved after the
    gold (read from the raw lines), so memory does not grow with the records.
    """
    import numpy as np

    from curate.store import GoldLines

    found: list[tuple[str, str]] = []
    decode = msgspec.json.Decoder(_RecordHead).decode
    with GoldLines(corpus) as gold, ExitStack() as stack:
        if not len(gold):
            return found
        journals = {name: stack.enter_context(corpus.journal(name)) for name in corpus.annotators()}
        done = {name: journal.status_mask("done")[gold.positions] for name, journal in journals.items()}
        if not done:
            return found
        for index in np.flatnonzero(np.logical_or.reduce(list(done.values()))).tolist():
            position = int(gold.positions[index])
            gold_at = gold.saved_at(index)  # read once for every annotator
            gold_record: GoldAnnotation | None | bool = False  # validated when first needed
            for name, journal in journals.items():
                if not done[name][index]:
                    continue
                if gold_at is not None:
                    try:
                        saved = decode(journal.raw_line(position)).updated_at or ""
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        saved = None  # the validated record decides
                    if saved is not None and saved <= gold_at:
                        continue
                if gold_record is False:
                    gold_record = gold.record_at(index)
                record = journal.record_at(position)
                if gold_record is None or record is None or record.status != "done":
                    continue
                if (record.updated_at or "") > (gold_record.updated_at or "") and not same_annotation(record, gold_record):
                    found.append((gold_record.snippet_id, name))
    return sorted(found)


class _RecordHead(msgspec.Struct):
    """The field of a journal line contradicted_gold reads before validating the record."""

    updated_at: str | None = None
