"""scripts/keyplan.py: a name inside a wider run is added by labelling the run and shrinking it."""

from __future__ import annotations

import sys
from pathlib import Path

from curate.model import Annotation, Entity, Story
from curate.text import TextModel

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

import keyplan  # noqa: E402

TEXT = "talks with Farmer Liu Bing Yong ended."
NAME = (TEXT.index("Liu"), TEXT.index(" ended"))
MOVES = {"cursor-left", "cursor-right", "select-left", "select-right", "name-next", "clear-selection"}


def plan(bindings: set[str]) -> tuple[list[str], Annotation]:
    model = TextModel(TEXT)
    story = [Story(start=0, end=len(TEXT))]
    gold = Annotation(snippet_id="s", annotator="gold", stories=story, entities=[Entity(start=NAME[0], end=NAME[1], label="PERSON")])
    page = keyplan.Page(model, gold, {"PERSON": "label-1"}, [], frozenset(bindings | {"label-1"}))
    record = Annotation(snippet_id="s", annotator="model:test", stories=story)
    planned = keyplan.Planner(page).next_plan(record, keyplan.Cursor(0))
    assert planned is not None
    return [step.binding for step, _, _ in planned.steps], planned.steps[-1][2]


def test_a_name_inside_a_wider_run_is_labelled_then_shrunk():
    keys, record = plan(MOVES | {"entity-shrink-start", "entity-shrink-end"})
    # o selects "Farmer Liu Bing Yong"; 1 labels it; ) drops "Farmer".
    assert keys == ["name-next", "label-1", "entity-shrink-start"]
    assert [(e.start, e.end, e.label) for e in record.entities] == [(*NAME, "PERSON")]


def test_without_the_span_keys_the_name_is_selected_token_by_token():
    keys, record = plan(MOVES)
    assert len(keys) == 6 and keys[-1] == "label-1"  # e.g. l l l shift+right shift+right 1
    assert [(e.start, e.end, e.label) for e in record.entities] == [(*NAME, "PERSON")]
