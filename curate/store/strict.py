"""Validating journal lines fast: what a strict scan accepts without building pydantic models.

A strict scan (:mod:`curate.store.scan`) must accept exactly the lines
``Annotation.model_validate_json`` accepts, and report the others with pydantic's reason.
Building a pydantic model per record (a model per story, entity and boilerplate range, each
with its validator) costs most of a rebuild, so a block of lines is first decoded by msgspec
into structs that mirror the model field by field (:class:`_Record`: the same names, types,
strictness, bounds and no unknown fields), and the model's validators (spans end after they
start; stories start at 0 and are contiguous; entities and boilerplate ranges are sorted, do
not overlap and each lie inside one story) are checked for the whole block at once with numpy
(:func:`accepted`).

This is a pre-check, never the last word: a line it accepts is one pydantic accepts, with an
equal record (tests/unit/test_strict_validate.py compares the two over many generated and
mutated lines); a line it does not accept (or cannot tell about: a value outside the ranges it
checks in int64, a record type other than :class:`~curate.model.Annotation`) is read by
pydantic, which accepts it or gives the reason. msgspec is at least as strict as pydantic's
JSON parser where they differ (a repeated key must be valid each time; ``NaN`` is not JSON).
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter
from typing import Annotated, Literal, NamedTuple

import msgspec
import numpy as np

from curate.model import MAX_OFFSET, STATUSES

Offset = Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET)]
Name = Annotated[str, msgspec.Meta(min_length=1)]


class StorySpan(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """:class:`curate.model.Story` as msgspec reads it (also in gold's quick check, curate.store.gold)."""

    start: Offset
    end: Offset
    truncated: bool = False


class BoilerplateSpan(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    start: Offset
    end: Offset
    kind: Name


class EntitySpan(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    start: Offset
    end: Offset
    label: Name


class _Record(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """:class:`curate.model.Annotation`'s fields as msgspec reads them (its validators are
    checked by :func:`accepted`; `seconds` is checked there too: finite and not negative)."""

    snippet_id: Name
    annotator: Name
    stories: Annotated[list[StorySpan], msgspec.Meta(min_length=1)]
    text_sha256: str | None = None
    boilerplate: list[BoilerplateSpan] = []
    entities: list[EntitySpan] = []
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    note: str | None = None
    seconds: float = 0.0
    updated_at: str | None = None


RECORD = msgspec.json.Decoder(_Record)
RECORDS = msgspec.json.Decoder(list[_Record])

_STORIES, _ENTITIES, _BOILERPLATE = attrgetter("stories"), attrgetter("entities"), attrgetter("boilerplate")
_START, _END, _SECONDS = attrgetter("start"), attrgetter("end"), attrgetter("seconds")
# Offsets at most this large are checked in int64 with a block's records laid end to end
# (a record with a larger one is left to pydantic).
_LAID_OUT_LIMIT = 1 << 31


class _Spans(NamedTuple):
    """The spans of one field of a block's records, laid end to end: each span's record,
    start and end, and where each record's spans begin (``firsts``, one more than records)."""

    owners: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    firsts: np.ndarray


def _spans(lists: list[list], count: int) -> _Spans:
    sizes = np.fromiter(map(len, lists), dtype=np.int64, count=count)
    flat = list(chain.from_iterable(lists))
    total = len(flat)
    firsts = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(sizes, out=firsts[1:])
    return _Spans(
        np.repeat(np.arange(count, dtype=np.int64), sizes),
        np.fromiter(map(_START, flat), dtype=np.int64, count=total),
        np.fromiter(map(_END, flat), dtype=np.int64, count=total),
        firsts,
    )


def _sorted_apart(spans: _Spans, bad: np.ndarray) -> None:
    """Mark in `bad` the records whose spans are not sorted or overlap (each starts at or
    after the end of the one before it in its record), or end at or before they start."""
    np.logical_or.at(bad, spans.owners[spans.ends <= spans.starts], True)
    if len(spans.starts) > 1:
        same_record = spans.owners[1:] == spans.owners[:-1]
        overlapping = same_record & (spans.starts[1:] < spans.ends[:-1])
        bad[spans.owners[1:][overlapping]] = True


def accepted(records: list[_Record]) -> np.ndarray:
    """One bool per record: True where :class:`curate.model.Annotation` accepts it (its
    validators, and `seconds` finite and not negative); False where pydantic must decide."""
    count = len(records)
    bad = np.zeros(count, dtype=bool)
    if not count:
        return ~bad
    seconds = np.fromiter(map(_SECONDS, records), dtype=np.float64, count=count)
    bad |= ~(np.isfinite(seconds) & (seconds >= 0))
    stories = _spans(list(map(_STORIES, records)), count)
    entities = _spans(list(map(_ENTITIES, records)), count)
    boilerplate = _spans(list(map(_BOILERPLATE, records)), count)
    # Stories: each ends after it starts, the first starts at 0, each next starts where the one before ends.
    np.logical_or.at(bad, stories.owners[stories.ends <= stories.starts], True)
    bad |= stories.starts[stories.firsts[:-1]] != 0
    if len(stories.starts) > 1:
        same_record = stories.owners[1:] == stories.owners[:-1]
        bad[stories.owners[1:][same_record & (stories.starts[1:] != stories.ends[:-1])]] = True
    _sorted_apart(entities, bad)
    _sorted_apart(boilerplate, bad)
    # Offsets too large to lay the records end to end in int64: pydantic decides.
    for spans in (stories, entities, boilerplate):
        bad[spans.owners[spans.ends >= _LAID_OUT_LIMIT]] = True
    # Each entity and boilerplate range lies inside one story: with the stories of the records
    # still in the running laid end to end (record r's offsets moved by `bases[r]`), the story
    # holding a range's start is the first whose end is past it (bisect_right, as the model).
    good_story = ~bad[stories.owners]
    text_lengths = stories.ends[stories.firsts[1:] - 1]
    bases = np.zeros(count, dtype=np.int64)
    np.cumsum(np.where(bad, 0, text_lengths + 1)[:-1], out=bases[1:])
    story_ends = (stories.ends + bases[stories.owners])[good_story]
    # The last story of each record in the running, as an index into story_ends.
    kept_before = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.where(bad, 0, stories.firsts[1:] - stories.firsts[:-1]), out=kept_before[1:])
    for spans in (entities, boilerplate):
        running = ~bad[spans.owners]
        owners = spans.owners[running]
        starts = spans.starts[running] + bases[owners]
        ends = spans.ends[running] + bases[owners]
        story = np.searchsorted(story_ends, starts, side="right")
        outside = story >= kept_before[owners + 1]
        inside = ~outside
        outside[inside] = ends[inside] > story_ends[story[inside]]
        bad[owners[outside]] = True
    return ~bad
