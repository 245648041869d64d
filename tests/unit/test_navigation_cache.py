"""items_to_review keeps its last answer, and entity_to_review answers for one entity: both
must say exactly what a fresh pass over the suggestion and the record says."""

from __future__ import annotations

from curate import navigation
from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.navigation import _review_items, entity_to_review, items_to_review

TEXT = "Putin met Kimberly Lee in Jakarta. Photo: Reuters"


def record(entities, boilerplate=(), annotator="model:test") -> Annotation:
    return Annotation(
        snippet_id="page-1",
        annotator=annotator,
        stories=[Story(start=0, end=len(TEXT))],
        entities=[Entity(start=start, end=end, label=label) for start, end, label in entities],
        boilerplate=[BoilerplateRange(start=start, end=end, kind=kind) for start, end, kind in boilerplate],
    )


SUGGESTED = [(0, 5, "PERSON"), (10, 22, "ORG"), (26, 33, "LOC")]
SUGGESTION = record(SUGGESTED, [(35, 49, "credit")])


def test_the_kept_answer_follows_a_new_record_and_an_accepted_set_changed_in_place():
    accepted: set = set()
    current = record(SUGGESTED, [(35, 49, "credit")], annotator="ana")
    first = items_to_review(SUGGESTION, current, accepted)
    assert [item.start for item in first] == [0, 10, 26, 35]
    first.clear()  # a caller changing its list does not change the kept answer
    assert len(items_to_review(SUGGESTION, current, accepted)) == 4
    accepted.add(("entity", 0, 5, "PERSON"))  # the same set object, one key more
    assert [item.start for item in items_to_review(SUGGESTION, current, accepted)] == [10, 26, 35]
    relabelled = record([(0, 5, "PERSON"), (10, 22, "PERSON"), (26, 33, "LOC")], annotator="ana")  # and the credit unmarked
    assert items_to_review(SUGGESTION, relabelled, accepted) == _review_items(SUGGESTION, relabelled, accepted)
    assert [item.start for item in items_to_review(SUGGESTION, relabelled, accepted)] == [26]
    assert items_to_review(None, relabelled, accepted) == []


def test_the_same_question_twice_goes_through_the_records_once(monkeypatch):
    calls = []
    original = navigation.record_items
    monkeypatch.setattr(navigation, "record_items", lambda rec: calls.append(rec) or original(rec))
    current = record(SUGGESTED, annotator="ana")
    accepted: set = set()
    for _ in range(3):
        items_to_review(SUGGESTION, current, accepted)
    assert len(calls) == 2  # the suggestion's items and the record's, once


def test_entity_to_review_says_what_items_to_review_says_of_each_entity():
    cases = [
        (record(SUGGESTED, annotator="ana"), set()),
        (record(SUGGESTED, annotator="ana"), {("entity", 10, 22, "ORG")}),
        (record([(0, 5, "ORG"), (10, 18, "ORG"), (26, 33, "LOC")], annotator="ana"), set()),
        (record([(0, 5, "PERSON")], annotator="ana"), set()),
    ]
    for current, accepted in cases:
        expected = {(item.start, item.end, item.value) for item in _review_items(SUGGESTION, current, accepted) if item.kind == "entity"}
        asked = {(start, end, label) for start, end, label in {*SUGGESTED, *((e.start, e.end, e.label) for e in current.entities)}}
        found = {key for key in asked if entity_to_review(SUGGESTION, current, accepted, *key)}
        assert found == expected, (current.entities, accepted)
    assert not entity_to_review(None, record(SUGGESTED), set(), 0, 5, "PERSON")
