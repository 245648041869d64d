"""The export's quick reading of gold lines (msgspec) accepts a line only when pydantic's
`GoldAnnotation` accepts it too, with the same values; anything else is left to pydantic."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.model import GoldAnnotation
from curate.store import quick_gold

BASE = {
    "snippet_id": "p1", "annotator": "gold", "adjudicator": "c", "sources": ["a", "b"], "status": "done",
    "stories": [{"start": 0, "end": 10}, {"start": 10, "end": 30, "truncated": True}],
    "boilerplate": [{"start": 2, "end": 5, "kind": "credit"}],
    "entities": [{"start": 0, "end": 2, "label": "PERSON"}, {"start": 12, "end": 15, "label": "GPE"}],
    "seconds": 1.5, "note": None, "updated_at": "2026-01-01T00:00:00Z", "text_sha256": None,
}
ODD = st.sampled_from([None, True, False, 0, -1, 1, 2.0, 2.5, 10, 12, 14, 20, 30, 31, 2**53, 2**53 - 1, 2**64, "", "x", "17", [], {}, [1], {"a": 1}, "\ud800", "é"])
PATHS = st.sampled_from([
    ("snippet_id",), ("annotator",), ("adjudicator",), ("sources",), ("status",), ("seconds",), ("note",), ("updated_at",), ("text_sha256",),
    ("stories",), ("boilerplate",), ("entities",), ("extra",),
    ("stories", 0, "start"), ("stories", 0, "end"), ("stories", 1, "start"), ("stories", 1, "end"), ("stories", 1, "truncated"), ("stories", 0, "extra"),
    ("boilerplate", 0, "start"), ("boilerplate", 0, "end"), ("boilerplate", 0, "kind"),
    ("entities", 0, "start"), ("entities", 0, "end"), ("entities", 1, "start"), ("entities", 1, "end"), ("entities", 1, "label"), ("entities", 1, "x"),
])


def mutated(changes) -> dict:
    record = json.loads(json.dumps(BASE))
    for path, value in changes:
        target = record
        for key in path[:-1]:
            try:
                target = target[key]
            except (KeyError, IndexError, TypeError):
                break  # an earlier change took the way there
        if not isinstance(target, dict if isinstance(path[-1], str) else list):
            continue
        if value == "<drop>":
            target.pop(path[-1], None)
        else:
            target[path[-1]] = json.loads(json.dumps(value))  # a copy: a later change must not reach into the shared value
    return record


@given(st.lists(st.tuples(PATHS, ODD | st.just("<drop>")), max_size=3), st.booleans())
@settings(max_examples=1500, deadline=None)
def test_a_quickly_read_gold_line_is_one_pydantic_accepts_with_the_same_values(changes, ascii):
    line = json.dumps(mutated(changes), ensure_ascii=ascii).encode("utf-8", "surrogatepass")
    quick = quick_gold(line)
    if quick is None:
        return
    record = GoldAnnotation.model_validate_json(line)  # raises if pydantic refuses what was read quickly
    assert msgspec.to_builtins(quick) == record.model_dump(mode="json")
    assert quick.text_length == record.text_length


def test_valid_lines_are_read_quickly_and_invalid_ones_are_left_to_pydantic():
    assert quick_gold(json.dumps(BASE).encode()) is not None
    overlapping = mutated([(("entities", 0, "start"), 12), (("entities", 0, "end"), 14)])  # both inside story 1
    unordered_stories = mutated([(("stories", 1, "start"), 11)])
    outside = mutated([(("entities", 1, "end"), 31)])
    for record in (overlapping, unordered_stories, outside, mutated([(("seconds",), 1e308 * 10)])):
        assert quick_gold(json.dumps(record).encode()) is None
