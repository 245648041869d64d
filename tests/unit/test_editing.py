"""The UI-free editing service: edit commands, undo/redo, time, starting records, the desk."""

from __future__ import annotations

import json
import random

import pytest

from curate.annotating import AnnotatorDesk, queue_positions
from curate.editing import (
    IDLE_GAP_SECONDS,
    EditRefused,
    EditSession,
    apply_edit,
    fresh_record,
    label_all_occurrences,
    label_at_cursor,
    label_span,
    next_paragraph_token,
    next_story_token,
    remove_entities,
    set_status,
    starting_record,
    toggle_boilerplate,
    toggle_story_start,
    toggle_truncated,
)
from curate.ingest import ingest
from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.store import Corpus
from curate.text import TextModel

TEXT = (
    "Kim Jong-un met Putin in Pyongyang. Putin thanked Kim warmly.\n"
    "Photo: AP\n"
    "Kim said ties are at a new high. Kimberly Lee disagreed.\n"
    "Airlines in Bali canceled flights."
)


def token_index(model: TextModel, word: str, nth: int = 0) -> int:
    found = [index for index, (start, end) in enumerate(model.tokens) if model.text[start:end] == word]
    return found[nth]


def offset_of(word: str, nth: int = 0) -> int:
    position = -1
    for _ in range(nth + 1):
        position = TEXT.index(word, position + 1)
    return position


@pytest.fixture
def model() -> TextModel:
    return TextModel(TEXT)


@pytest.fixture
def record() -> Annotation:
    return fresh_record("s-1", "ana", TEXT)


def test_label_token_then_relabel_and_remove(model, record):
    labelled = apply_edit(record, label_at_cursor(record, model, token_index(model, "Putin"), "PERSON"))
    assert [(e.start, e.end, e.label) for e in labelled.entities] == [(16, 21, "PERSON")]
    relabelled = apply_edit(labelled, label_at_cursor(labelled, model, token_index(model, "Putin"), "ORG"))
    assert [e.label for e in relabelled.entities] == ["ORG"]
    with pytest.raises(EditRefused):
        label_at_cursor(relabelled, model, token_index(model, "Putin"), "ORG")
    removed = apply_edit(relabelled, remove_entities(relabelled, 16, 21))
    assert removed.entities == []
    with pytest.raises(EditRefused):
        remove_entities(removed, 16, 21)


def test_label_span_snaps_to_tokens_and_replaces_overlaps(model, record):
    with_kim = apply_edit(record, label_span(record, model, 0, 3, "PERSON"))
    # a selection from inside "Kim" to inside "Jong-un" grows to both whole tokens
    grown = apply_edit(with_kim, label_span(with_kim, model, 1, 6, "PERSON"))
    assert [(e.start, e.end) for e in grown.entities] == [(0, 11)]
    assert TEXT[0:11] == "Kim Jong-un"


def test_entity_cannot_cross_a_story_start(model, record):
    split = apply_edit(record, toggle_story_start(record, model, offset_of("Putin thanked")))
    with pytest.raises(EditRefused, match="story"):
        label_span(split, model, offset_of("Pyongyang"), offset_of("thanked"), "GPE")


def test_label_all_occurrences_respects_token_edges_and_existing_entities(model, record):
    kim = apply_edit(record, label_span(record, model, 0, 3, "PERSON"))
    everywhere = apply_edit(kim, label_all_occurrences(kim, model, 0))
    starts = [e.start for e in everywhere.entities]
    # "Kim" three times as a word; "Kimberly" is not on a token edge and stays unlabelled
    assert starts == [0, offset_of("Kim", 1), offset_of("Kim", 2)]
    assert offset_of("Kimberly") not in starts
    with pytest.raises(EditRefused):
        label_all_occurrences(everywhere, model, 0)
    with pytest.raises(EditRefused):
        label_all_occurrences(record, model, 0)


def test_story_start_toggles_at_line_start_and_mid_paragraph(model, record):
    paragraph = model.paragraphs[2]
    added = apply_edit(record, toggle_story_start(record, model, offset_of("ties")))
    # the cursor is in the paragraph's first sentence: the story starts at its line start
    assert added.story_starts == [paragraph.line_start]
    assert added.stories[0].end == paragraph.line_start
    mid = apply_edit(added, toggle_story_start(added, model, offset_of("disagreed")))
    assert mid.story_starts == [paragraph.line_start, offset_of("Kimberly")]
    removed = apply_edit(mid, toggle_story_start(mid, model, offset_of("Kimberly")))
    assert removed.story_starts == [paragraph.line_start]
    with pytest.raises(EditRefused, match="first story"):
        toggle_story_start(record, model, offset_of("Jong-un"))


def test_new_story_start_splits_boilerplate_drops_crossing_entities_and_keeps_truncation(model):
    text_end = len(TEXT)
    start = offset_of("Putin thanked")
    record = Annotation(
        snippet_id="s-1",
        annotator="ana",
        stories=[Story(start=0, end=text_end, truncated=True)],
        boilerplate=[BoilerplateRange(start=0, end=model.paragraphs[0].end, kind="ad")],
        entities=[Entity(start=offset_of("Pyongyang"), end=start + 5, label="MISC")],
    )
    split = apply_edit(record, toggle_story_start(record, model, start))
    assert [(s.start, s.end, s.truncated) for s in split.stories] == [(0, start, True), (start, text_end, False)]
    assert [(b.start, b.end) for b in split.boilerplate] == [(0, start), (start, model.paragraphs[0].end)]
    assert split.entities == []
    second_truncated = apply_edit(split, toggle_truncated(split, start))
    joined = apply_edit(second_truncated, toggle_story_start(second_truncated, model, start))
    assert [(s.start, s.end, s.truncated) for s in joined.stories] == [(0, text_end, True)]
    joined = apply_edit(split, toggle_story_start(split, model, start))
    assert [(s.start, s.end, s.truncated) for s in joined.stories] == [(0, text_end, False)]


def test_boilerplate_toggles_per_paragraph_and_splits_at_story_starts(model, record):
    marked = apply_edit(record, toggle_boilerplate(record, model, 1, "credit"))
    assert [(b.start, b.end, b.kind) for b in marked.boilerplate] == [(model.paragraphs[1].start, model.paragraphs[1].end, "credit")]
    assert TEXT[marked.boilerplate[0].start : marked.boilerplate[0].end] == "Photo: AP"
    unmarked = apply_edit(marked, toggle_boilerplate(marked, model, 1, "credit"))
    assert unmarked.boilerplate == []
    split = apply_edit(record, toggle_story_start(record, model, offset_of("Putin thanked")))
    whole_paragraph = apply_edit(split, toggle_boilerplate(split, model, 0, "ad"))
    assert [(b.start, b.end) for b in whole_paragraph.boilerplate] == [
        (0, offset_of("Putin thanked")),
        (offset_of("Putin thanked"), model.paragraphs[0].end),
    ]


def test_truncated_and_status(record):
    truncated = apply_edit(record, toggle_truncated(record, 5))
    assert truncated.stories[0].truncated is True
    assert apply_edit(truncated, toggle_truncated(truncated, 5)).stories[0].truncated is False
    flagged = apply_edit(record, set_status(record, "flagged", "  odd page  "))
    assert (flagged.status, flagged.note) == ("flagged", "odd page")
    done = apply_edit(flagged, set_status(flagged, "done"))
    assert (done.status, done.note) == ("done", "odd page")
    with pytest.raises(EditRefused):
        set_status(done, "done")


def test_navigation_helpers(model, record):
    second_paragraph = next_paragraph_token(model, 0, 1)
    assert model.tokens[second_paragraph][0] == model.paragraphs[1].start
    assert next_paragraph_token(model, second_paragraph, -1) == 0
    last = len(model.tokens) - 1
    assert next_paragraph_token(model, last, 1) == last
    split = apply_edit(record, toggle_story_start(record, model, offset_of("Airlines")))
    story_two = next_story_token(split, model, 0, 1)
    assert model.tokens[story_two][0] == offset_of("Airlines")
    assert next_story_token(split, model, story_two, -1) == 0


def test_undo_redo_walks_back_and_forth_through_random_edits(model, record):
    session = EditSession(record, model)
    rng = random.Random(7)
    history = [session.record]
    for _ in range(60):
        offset = model.tokens[rng.randrange(len(model.tokens))][0]
        makers = [
            lambda r: label_at_cursor(r, model, model.token_at(offset), rng.choice(["PERSON", "ORG", "GPE"])),
            lambda r: remove_entities(r, offset, offset + 1),
            lambda r: toggle_story_start(r, model, offset),
            lambda r: toggle_boilerplate(r, model, model.paragraph_at(offset), "ad"),
            lambda r: toggle_truncated(r, offset),
            lambda r: label_all_occurrences(r, model, offset),
            lambda r: set_status(r, rng.choice(["done", "skipped", None])),
        ]
        try:
            edit = rng.choice(makers)(session.record)
        except EditRefused:
            continue
        session.do(edit)
        history.append(session.record)
    assert len(history) > 20
    for expected in reversed(history[:-1]):
        assert session.undo() is not None
        assert session.record == expected
    assert session.undo() is None
    for expected in history[1:]:
        assert session.redo() is not None
        assert session.record == expected
    assert session.redo() is None
    session.undo()
    session.do(toggle_truncated(session.record, 0))
    assert session.redo_stack == []


def test_a_suggestion_session_is_back_to_the_suggestion_only_when_every_change_is_undone(model, record):
    session = EditSession(record, model, "suggestion")
    assert session.unreviewed and session.back_to_suggestion
    session.do(toggle_truncated(session.record, 0))
    assert not session.unreviewed and not session.back_to_suggestion
    session.do(toggle_truncated(session.record, 0))  # toggled back: a change and its reverse
    assert not session.unreviewed and session.back_to_suggestion
    session.do(set_status(session.record, "done"))
    assert not session.back_to_suggestion
    assert not EditSession(record, model, "journal").back_to_suggestion


def test_time_accumulates_with_idle_gaps_capped(model, record):
    session = EditSession(record.model_copy(update={"seconds": 10.0}), model)
    session.activity(100.0)
    session.activity(105.0)
    session.activity(105.0 + 10_000)  # walked away: counts as the cap
    assert session.record_to_save(105.0 + 10_000).seconds == 10.0 + 5.0 + IDLE_GAP_SECONDS  # a change counts it
    session.leave(105.0 + 10_001)  # the second after the last change is not counted
    session.activity(99_999.0)  # coming back restarts the clock without counting the absence
    saved = session.record_to_save(100_002.0)
    assert saved.seconds == round(10.0 + 5.0 + IDLE_GAP_SECONDS + 3.0, 1)
    assert saved.updated_at and saved.updated_at.endswith("Z")
    assert len(saved.text_sha256) == 64
    assert saved.status is None


def test_starting_record_prefers_own_then_suggestion(record):
    suggestion = record.model_copy(update={"annotator": "model:rules", "entities": [Entity(start=0, end=3, label="PERSON")]})
    from_suggestion = starting_record("s-1", "ana", TEXT, None, suggestion)
    assert from_suggestion.origin == "suggestion"
    assert from_suggestion.record.annotator == "ana" and from_suggestion.record.entities == suggestion.entities
    own = record.model_copy(update={"status": "done"})
    assert starting_record("s-1", "ana", TEXT, own, suggestion).record.status == "done"
    stale = fresh_record("s-1", "ana", TEXT + " more")
    fallback = starting_record("s-1", "ana", TEXT, stale, None)
    assert fallback.origin == "new" and "starting again" in fallback.warning
    assert starting_record("s-1", "ana", TEXT, None, None).record == record


@pytest.fixture
def corpus_dir(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"s-{n}", "text": f"Snippet {n} about Kim.\nSecond line."}) + "\n" for n in range(5)))
    ingest([source], tmp_path / "corpus")
    return tmp_path / "corpus"


def test_desk_saves_whole_records_and_queues_from_the_status_array(corpus_dir):
    desk = AnnotatorDesk.open(corpus_dir, "ana")
    try:
        assert len(desk) == 5
        opened = desk.current()
        opened.session.do(set_status(opened.session.record, "done"))
        desk.save(opened, now=1.0)
        desk.step(1)
        opened = desk.open_snippet(desk.position)
        opened.session.do(set_status(opened.session.record, "flagged", "why"))
        desk.save(opened, now=1.0)
        assert desk.counts()["done"] == 1 and desk.counts()["flagged"] == 1
        desk.set_queue("todo")
        assert list(desk.queue) == [2, 3, 4]
        desk.go_to_position(0)
        assert desk.position == 0 and list(desk.queue) == [0, 2, 3, 4]
        assert desk.go_to_id("s-4") and desk.position == 4
        assert not desk.go_to_id("nope")
    finally:
        desk.close()
    with Corpus.open(corpus_dir) as corpus:
        journal = corpus.journal("ana")
        assert journal.record_at(1).note == "why"
        assert journal.record_at(0).text_sha256 is not None
        assert list(queue_positions(journal, "flagged")) == [1]
        assert list(queue_positions(journal, "done")) == [0]


def test_desk_takes_suggestions_written_while_it_is_open(corpus_dir):
    desk = AnnotatorDesk.open(corpus_dir, "ana")
    try:
        assert desk.suggestions is None and desk.open_snippet(0).session.record.entities == []
        with Corpus.open(corpus_dir) as corpus, corpus.suggestions(writable=True) as suggestions:
            for n in (1, 2):
                text = corpus.snippet(n).text
                kim = text.index("Kim")
                suggestions.append(Annotation(snippet_id=f"s-{n}", annotator="model:test", stories=[Story(start=0, end=len(text))], entities=[Entity(start=kim, end=kim + 3, label="PERSON")]))
        assert [(e.start, e.label) for e in desk.open_snippet(1).session.record.entities] == [(16, "PERSON")]
        with Corpus.open(corpus_dir) as corpus, corpus.suggestions(writable=True) as suggestions:
            text = corpus.snippet(3).text
            suggestions.append(Annotation(snippet_id="s-3", annotator="model:test", stories=[Story(start=0, end=len(text))], entities=[Entity(start=0, end=7, label="ORG")]))
        assert [(e.start, e.label) for e in desk.open_snippet(3).session.record.entities] == [(0, "ORG")]
    finally:
        desk.close()


def test_queue_positions(corpus_dir):
    with Corpus.open(corpus_dir) as corpus, corpus.journal("ana", writable=True) as journal:
        for n, status in ((1, None), (2, "done"), (3, "skipped")):
            text = corpus.snippet(n).text
            journal.append(Annotation(snippet_id=f"s-{n}", annotator="ana", stories=[Story(start=0, end=len(text))], status=status))
        assert list(queue_positions(journal, "todo")) == [0, 1, 4]  # no record, or in progress
        assert list(queue_positions(journal, "skipped")) == [3]
        assert list(queue_positions(journal, "done")) == [2]
        assert list(queue_positions(journal, "all")) == [0, 1, 2, 3, 4]
        with pytest.raises(ValueError):
            queue_positions(journal, "later")


def test_snap_to_tokens_agrees_with_the_text_model(model):
    from curate.editing import snap_to_tokens

    rng = random.Random(3)
    for _ in range(500):
        start = rng.randrange(len(TEXT))
        end = rng.randrange(start, len(TEXT) + 1)
        assert snap_to_tokens(model, start, end) == model.snap_to_tokens(start, end), (start, end)
