"""curate.twins: word alignment of two near-twin texts, and copying a twin story's marks (issue 18, item 3)."""

from __future__ import annotations

import pytest

from curate.editing import EditRefused, apply_edit, fresh_record
from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.text import TextModel
from curate.twins import align, copy_twin

BODY = (
    "Acme Corp said on Tuesday it would buy Widget Holdings for 2 billion dollars. "
    "Chief executive Jane Doe told Reuters the deal would close in June.\n"
    "Analysts at Big Bank welcomed the move."
)
SOURCE_TEXT = "PARIS, March 3 (Reuters) -\n" + BODY + "\nOther news: the weather in Oslo was cold."


def find(text: str, surface: str, after: int = 0) -> tuple[int, int]:
    start = text.index(surface, after)
    return start, start + len(surface)


def source_record() -> Annotation:
    """Story 1: the wire story (dateline as boilerplate, five entities); story 2: other news."""
    split = SOURCE_TEXT.index("\nOther news") + 1
    entities = []
    for surface, label in (("Acme Corp", "ORG"), ("Widget Holdings", "ORG"), ("Jane Doe", "PERSON"), ("Reuters", "ORG"), ("Big Bank", "ORG")):
        start, end = find(SOURCE_TEXT, surface, SOURCE_TEXT.index("-\n"))
        entities.append(Entity(start=start, end=end, label=label))
    oslo = find(SOURCE_TEXT, "Oslo")
    entities.append(Entity(start=oslo[0], end=oslo[1], label="GPE"))
    dateline = find(SOURCE_TEXT, "PARIS, March 3 (Reuters) -")
    return Annotation(
        snippet_id="src",
        annotator="gold",
        stories=[Story(start=0, end=split, truncated=True), Story(start=split, end=len(SOURCE_TEXT))],
        boilerplate=[BoilerplateRange(start=dateline[0], end=dateline[1], kind="dateline")],
        entities=sorted(entities, key=lambda entity: entity.start),
        status="done",
    )


def tokens(text: str):
    return TextModel(text).tokens


def copied(target_text: str, record: Annotation | None = None):
    record = record or fresh_record("dst", "ann", target_text)
    result = copy_twin(record, target_text, source_record(), SOURCE_TEXT, 0, source_id="src")
    return result, apply_edit(record, result.edit)


def surfaces(text: str, record: Annotation) -> list[tuple[str, str]]:
    return [(text[entity.start : entity.end], entity.label) for entity in record.entities]


def test_align_maps_equal_words_and_marks_a_changed_word():
    source = "the bank raised rates on Tuesday"
    target = "the bank cut rates on Tuesday"
    alignment = align(source, tokens(source), target, tokens(target))
    assert alignment.exact == [0, 1, -1, 3, 4, 5]
    # a range starting or ending on the changed word still has a place in the target
    assert alignment.first[2] == 2 and alignment.last[2] == 2


def test_align_follows_a_shifted_dateline_and_ignores_case():
    source = "PARIS, March 3 (Reuters) - Shares rose"
    target = "Updated\nNEW YORK, May 21 (REUTERS) - shares rose"
    alignment = align(source, tokens(source), target, tokens(target))
    target_words = [target[start:end] for start, end in tokens(target)]
    source_words = [source[start:end] for start, end in tokens(source)]
    mapped = {source_words[index]: target_words[where] for index, where in enumerate(alignment.exact) if where >= 0}
    assert mapped["(Reuters"[1:]] == "REUTERS" and mapped["Shares"] == "shares"
    assert alignment.exact[0] == -1  # PARIS is not NEW YORK
    assert target_words[alignment.first[0]] in ("NEW", "YORK")  # but the dateline still starts there, not at "Updated"


def test_copy_onto_a_twin_with_a_changed_word_and_a_changed_dateline():
    text = "LONDON, March 4 (Reuters) -\n" + BODY.replace("on Tuesday", "on Wednesday") + "\nSports: United won 2-0 at home."
    result, record = copied(text)
    assert result.copied == 5 and result.entities == 5 and result.not_mapped == []
    assert surfaces(text, record) == [("Acme Corp", "ORG"), ("Widget Holdings", "ORG"), ("Jane Doe", "PERSON"), ("Reuters", "ORG"), ("Big Bank", "ORG")]
    # the story ends where the twin's ended (before "Sports"), flagged truncated like the twin
    assert [text[story.start : story.end].split()[0] for story in record.stories] == ["LONDON,", "Sports:"]
    assert record.stories[0].truncated and not record.stories[1].truncated
    # the dateline boilerplate follows onto the changed dateline
    assert [(text[item.start : item.end], item.kind) for item in record.boilerplate] == [("LONDON, March 4 (Reuters) -", "dateline")]
    assert "copied 5 of 5 entities" in result.edit.message


def test_copy_onto_a_twin_that_starts_later_in_its_snippet():
    text = "Menu Home World\n\nNEW YORK, March 3 (Reuters) -\n" + BODY
    result, record = copied(text)
    assert len(record.stories) == 2 and result.story == 1
    assert text[record.stories[1].start :].lstrip().startswith("NEW YORK")
    assert record.stories[0].end == record.stories[1].start
    assert all(entity.start >= record.stories[1].start for entity in record.entities)


def test_entities_over_changed_words_are_left_and_named():
    text = "PARIS, March 3 (Reuters) -\n" + BODY.replace("Jane Doe", "John Roe").replace("Big Bank", "Big Lender")
    result, record = copied(text)
    assert result.copied == 3 and result.entities == 5
    assert sorted(result.not_mapped) == ["Big Bank", "Jane Doe"]
    assert "copied 3 of 5 entities; 2 not mapped" in result.edit.message
    assert ("John Roe", "PERSON") not in surfaces(text, record)


def test_entities_of_other_stories_and_outside_the_twin_are_kept():
    text = "PARIS, March 3 (Reuters) -\n" + BODY + "\nLocal: Mayor Ann Lee opened a bridge."
    own = fresh_record("dst", "ann", text)
    lee = find(text, "Ann Lee")
    stale = find(text, "Acme Corp")
    own = own.model_copy(update={"entities": [Entity(start=stale[0], end=stale[1], label="PERSON"), Entity(start=lee[0], end=lee[1], label="PERSON")]})
    _, record = copied(text, own)
    labels = dict(surfaces(text, record))
    assert labels["Ann Lee"] == "PERSON"  # outside the twin story: untouched
    assert labels["Acme Corp"] == "ORG"  # inside: the twin's label replaces the old one


def test_undoing_the_copy_gives_the_record_back():
    text = "PARIS, March 3 (Reuters) -\n" + BODY
    record = fresh_record("dst", "ann", text)
    result, after = copied(text, record)
    assert apply_edit(after, result.edit.inverse()) == record


def test_copying_twice_is_refused_and_so_is_an_unrelated_text():
    text = "PARIS, March 3 (Reuters) -\n" + BODY
    _, record = copied(text)
    with pytest.raises(EditRefused, match="already has the marks"):
        copy_twin(record, text, source_record(), SOURCE_TEXT, 0, source_id="src")
    other = "Completely different words here."
    with pytest.raises(EditRefused, match="not a twin"):
        copy_twin(fresh_record("x", "ann", other), other, source_record(), SOURCE_TEXT, 0, source_id="src")


def test_the_twin_is_the_story_holding_most_of_its_range_after_a_heading_is_cut_off() -> None:
    # the index saw the page as one story; after `T` (or the editor) cut "Top stories" off, the
    # status line said "story 1 is a near twin" of the heading
    from curate.twins import Twin, TwinIndex

    text = "Top stories\n\n" + "word " * 100
    source = Annotation(snippet_id="a", annotator="ana", text_sha256="0" * 64, stories=[Story(start=0, end=len(text))], status="done")
    twin = Twin(0, len(text), "a", 0, 0.9, source, text)
    index = TwinIndex({"b": [twin]})
    whole = Annotation(snippet_id="b", annotator="ben", text_sha256="0" * 64, stories=[Story(start=0, end=len(text))])
    assert index.at("b", whole, 0) == (0, twin)
    cut = whole.model_copy(update={"stories": [Story(start=0, end=13), Story(start=13, end=len(text))]})
    assert index.at("b", cut, 20) == (1, twin)
    assert index.at("b", cut, 0) == (1, twin)  # on the heading: the twin story is named, not the heading
