"""Span edits, label guards, boilerplate kinds and the jump targets, as pure functions."""

from __future__ import annotations

import pytest

from curate.editing import (
    EditRefused,
    EditSession,
    apply_edit,
    label_doubt,
    label_span,
    label_target,
    resize_entity,
    set_boilerplate_kind,
    toggle_boilerplate,
)
from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.navigation import (
    Search,
    entity_token,
    find_match,
    item_token,
    items_to_review,
    name_run,
    review_step,
)
from curate.text import TextModel

TEXT = (
    "The talks with Putin’s envoy ended at Ben Gurion airport on Monday.\n"
    "Photo: Reuters 2024\n"
    "Kimberly Lee said the airport reopened. Putin said nothing."
)
MODEL = TextModel(TEXT)


def span(text: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(text, start + 1)
    return start, start + len(text)


def token(text: str, nth: int = 0) -> int:
    return MODEL.token_at(span(text, nth)[0])


def record(*entities: tuple[str, str], stories: list[Story] | None = None, boilerplate: list[BoilerplateRange] | None = None) -> Annotation:
    return Annotation(
        snippet_id="s",
        annotator="ana",
        stories=stories or [Story(start=0, end=len(TEXT))],
        entities=sorted((Entity(start=span(text)[0], end=span(text)[1], label=label) for text, label in entities), key=lambda e: e.start),
        boilerplate=boilerplate or [],
    )


def surfaces(result: Annotation) -> list[tuple[str, str]]:
    return [(TEXT[e.start : e.end], e.label) for e in result.entities]


# ---------------------------------------------------------------- growing and shrinking


def test_the_possessive_is_its_own_token_so_one_shrink_drops_it():
    start = record(("Putin’s", "PERSON"))
    edit = resize_entity(start, MODEL, token("Putin"), "end", -1)
    assert surfaces(apply_edit(start, edit)) == [("Putin", "PERSON")]
    assert edit.name == "shrink entity" and edit.message == "PERSON: 'Putin'"


def test_growing_the_end_takes_in_the_next_word_and_shrinking_the_start_drops_the_first():
    start = record(("Ben Gurion", "LOC"))
    grown = apply_edit(start, resize_entity(start, MODEL, token("Gurion"), "end", 1))
    assert surfaces(grown) == [("Ben Gurion airport", "LOC")]
    shrunk = apply_edit(grown, resize_entity(grown, MODEL, token("Ben"), "start", 1))
    assert surfaces(shrunk) == [("Gurion airport", "LOC")]
    regrown = apply_edit(shrunk, resize_entity(shrunk, MODEL, token("airport"), "start", -1))
    assert surfaces(regrown) == [("Ben Gurion airport", "LOC")]


def test_an_entity_never_grows_over_a_line_break_nor_a_story_start():
    at_line_end = record(("Monday", "DATE"))
    once = apply_edit(at_line_end, resize_entity(at_line_end, MODEL, token("Monday"), "end", 1))
    assert surfaces(once) == [("Monday.", "DATE")]
    with pytest.raises(EditRefused, match="line break"):
        resize_entity(once, MODEL, token("Monday"), "end", 1)  # 'Photo' is on the next line
    story = span("Putin said")[0]
    split = record(("Putin said", "X"), stories=[Story(start=0, end=story), Story(start=story, end=len(TEXT))])
    split = split.model_copy(update={"entities": [Entity(start=story, end=story + 5, label="PERSON")]})
    with pytest.raises(EditRefused, match="story start"):
        resize_entity(split, MODEL, token("Putin", 1), "start", -1)  # the '.' before is story 1's


def test_an_entity_keeps_a_token_and_does_not_grow_into_another():
    one = record(("Putin", "PERSON"))
    with pytest.raises(EditRefused, match="x removes it"):
        resize_entity(one, MODEL, token("Putin"), "end", -1)
    neighbours = record(("Ben", "PERSON"), ("Gurion airport", "LOC"))
    with pytest.raises(EditRefused, match="LOC 'Gurion airport' is there"):
        resize_entity(neighbours, MODEL, token("Ben"), "end", 1)
    with pytest.raises(EditRefused, match="no entity"):
        resize_entity(neighbours, MODEL, token("talks"), "end", 1)


def test_a_selection_unlike_the_entity_respans_it_instead_of_saying_already():
    start = record(("Putin’s", "PERSON"))
    edit = label_span(start, MODEL, *span("Putin"), "PERSON")
    assert surfaces(apply_edit(start, edit)) == [("Putin", "PERSON")]
    with pytest.raises(EditRefused, match="already PERSON"):
        label_span(start, MODEL, *span("Putin’s"), "PERSON")


# ---------------------------------------------------------------- what a label key labels, and when it asks


def test_label_target_is_the_selection_else_the_entity_else_the_token():
    start = record(("Ben Gurion", "LOC"))
    assert label_target(start, MODEL, token("Gurion"), None) == span("Ben Gurion")
    assert label_target(start, MODEL, token("airport"), None) == span("airport")
    assert label_target(start, MODEL, token("airport"), (span("Gurion")[0] + 2, span("airport")[0] + 1)) == span("Gurion airport")


@pytest.mark.parametrize(
    ("surface", "doubt"),
    [(".", "only punctuation"), ("2024", "only digits"), ("1,703", "only digits"), ("—", "only punctuation"), ("Reuters", None), ("G7", None), ("’s", None)],
)
def test_a_span_without_a_letter_is_doubted(surface, doubt):
    assert label_doubt(surface) == doubt


# ---------------------------------------------------------------- boilerplate kinds


def test_a_kind_change_replaces_the_kind_of_every_range_over_the_paragraph():
    photo = MODEL.paragraph_at(span("Photo")[0])
    marked = apply_edit(record(), toggle_boilerplate(record(), MODEL, photo, "caption"))
    changed = apply_edit(marked, set_boilerplate_kind(marked, MODEL, photo, "credit"))
    assert [(TEXT[b.start : b.end], b.kind) for b in changed.boilerplate] == [("Photo: Reuters 2024", "credit")]
    with pytest.raises(EditRefused, match="already credit"):
        set_boilerplate_kind(changed, MODEL, photo, "credit")
    fresh = apply_edit(record(), set_boilerplate_kind(record(), MODEL, photo, "credit"))
    assert [b.kind for b in fresh.boilerplate] == ["credit"]


# ---------------------------------------------------------------- jumps


def test_entity_jumps_go_to_first_tokens_and_stop_at_the_ends():
    start = record(("Putin’s", "PERSON"), ("Ben Gurion airport", "LOC"), ("Kimberly Lee", "PERSON"))
    assert entity_token(start, MODEL, 0, 1) == token("Putin")
    assert entity_token(start, MODEL, token("Putin"), 1) == token("Ben")
    assert entity_token(start, MODEL, token("airport"), -1) == token("Ben")  # from inside: its own start
    assert entity_token(start, MODEL, token("Ben"), -1) == token("Putin")
    assert entity_token(start, MODEL, token("Kimberly"), 1) is None
    assert entity_token(start, MODEL, token("Putin"), -1) is None


def test_name_runs_skip_labelled_tokens_and_sentence_words_written_lower_case_elsewhere():
    start = record(("Putin’s", "PERSON"))
    # 'The' starts a sentence and 'the' is in the text: no name; 'Putin' is labelled
    assert name_run(start, MODEL, 0, 1) == (token("Ben"), token("Gurion"))
    assert name_run(start, MODEL, token("Ben"), 1) == (token("Monday"), token("Monday"))  # out of the run first
    assert name_run(start, MODEL, token("Monday"), 1) == (token("Photo"), token("Photo"))
    assert name_run(start, MODEL, token("Photo"), 1) == (token("Reuters"), token("Reuters"))
    assert name_run(start, MODEL, token("Reuters"), 1) == (token("Kimberly"), token("Lee"))
    assert name_run(start, MODEL, token("Kimberly"), 1) == (token("Putin", 1), token("Putin", 1))
    assert name_run(start, MODEL, token("Putin", 1), 1) is None
    assert name_run(start, MODEL, token("said", 1), -1) == (token("Putin", 1), token("Putin", 1))
    assert name_run(start, MODEL, token("Lee"), -1) == (token("Kimberly"), token("Lee"))  # from inside: its start
    assert name_run(start, MODEL, token("Kimberly"), -1) == (token("Reuters"), token("Reuters"))
    assert name_run(start, MODEL, token("airport"), -1) == (token("Ben"), token("Gurion"))


def test_search_forward_backward_wraps_and_keeps_original_offsets():
    straße = TextModel("Die Straße und die STRASSE und die straße.")
    found, wrapped = find_match(straße, Search("straße"), 0)
    assert found == (4, 10) and not wrapped
    assert find_match(straße, Search("straße"), 4) == ((35, 41), False)
    assert find_match(straße, Search("straße"), 35) == ((4, 10), True)
    assert find_match(straße, Search("straße", backward=True), 4) == ((35, 41), True)
    assert find_match(straße, Search("nowhere"), 0) is None


def test_token_search_matches_whole_tokens_in_their_case():
    # 'Putin' inside no other word here; 'air' is no token of 'airport'
    assert find_match(MODEL, Search("Putin", whole_tokens=True), span("Putin")[0]) == (span("Putin", 1), False)
    assert find_match(MODEL, Search("air", whole_tokens=True), 0) is None
    assert find_match(MODEL, Search("the", whole_tokens=True), 0) == (span("the"), False)  # not 'The'
    assert find_match(MODEL, Search("the"), 0) == (span("the"), False)  # '/' ignores case, but not the cursor's own
    assert find_match(MODEL, Search("Putin", whole_tokens=True).reversed(), span("Putin", 1)[0]) == (span("Putin"), False)


# ---------------------------------------------------------------- suggestions to review


def suggestion() -> Annotation:
    middle = span("Photo")[0]
    return Annotation(
        snippet_id="s",
        annotator="model:x",
        stories=[Story(start=0, end=middle), Story(start=middle, end=len(TEXT), truncated=True)],
        entities=[Entity(start=span("Putin’s")[0], end=span("Putin’s")[1], label="PERSON"), Entity(start=span("Kimberly")[0], end=span("Kimberly")[1], label="ORG")],
        boilerplate=[BoilerplateRange(start=middle, end=span("2024")[1], kind="credit")],
    )


def test_items_to_review_are_the_suggestions_the_record_still_holds_unaccepted():
    suggested = suggestion()
    session = EditSession(suggested, MODEL, "suggestion")
    items = items_to_review(session.suggestion, session.record, session.accepted)
    assert [(item.kind, TEXT[item.start : item.end].split("\n")[0]) for item in items] == [
        ("entity", "Putin’s"),
        ("entity", "Kimberly"),
        ("story", "Photo: Reuters 2024"),
        ("boilerplate", "Photo: Reuters 2024"),
    ]
    # relabelling one settles it; the rest stay
    session.do(label_span(session.record, MODEL, *span("Kimberly"), "PERSON"))
    left = items_to_review(session.suggestion, session.record, session.accepted)
    assert [item.describe(TEXT) for item in left] == ["PERSON 'Putin’s'", "story start, truncated", "boilerplate credit"]
    # accepting one (moving on from it) settles it too; undo brings a changed one back
    session.accepted.add(left[0].key)
    session.undo()
    left = items_to_review(session.suggestion, session.record, session.accepted)
    assert [item.describe(TEXT) for item in left] == ["ORG 'Kimberly'", "story start, truncated", "boilerplate credit"]
    assert items_to_review(None, session.record, set()) == []


def test_review_step_names_the_items_here_and_the_next_token_to_review():
    items = items_to_review(suggestion(), suggestion(), set())
    photo = token("Photo")
    assert item_token(MODEL, items[2]) == photo == item_token(MODEL, items[3])
    here, target = review_step(MODEL, items, 0, 1)
    assert here == [] and target == token("Putin")
    here, target = review_step(MODEL, items, token("Putin"), 1)
    assert [item.kind for item in here] == ["entity"] and target == photo
    here, target = review_step(MODEL, items, photo, 1)
    assert [item.kind for item in here] == ["story", "boilerplate"] and target == token("Kimberly")
    assert review_step(MODEL, items, token("Kimberly"), 1)[1] is None
    assert review_step(MODEL, items, token("Kimberly"), -1)[1] == photo
