"""The review desk without a screen: queue order, auto-accept, starting merge, taking choices, accept."""

import json

import pytest
from review_corpora import ANA, SECOND, TEXT, same_start_corpus

from curate.editing import EditRefused
from curate.reviewing import ReviewDesk, choices_edit, items_at, record_with_choice, take_choices
from curate.store import Corpus


def test_desk_auto_accepts_agreement_and_orders_the_rest_by_disagreement(review_corpus):
    corpus = review_corpus
    desk = ReviewDesk(corpus, "judge")
    assert desk.auto_accepted == 1
    gold = [json.loads(line) for line in (corpus.path / "gold.jsonl").read_text().splitlines()]
    assert [(g["snippet_id"], g["sources"], g["adjudicator"]) for g in gold] == [("s1", ["ana", "ben", "cy"], "judge")]
    ids = [corpus.snippet(position).id for position in desk.queue]
    assert ids == ["s3", "s2"]  # s3 disagrees on more; s4 was done by one annotator only
    assert desk.score(desk.queue[0]) > desk.score(desk.queue[1]) > 0
    desk.close()


def test_no_auto_accept_keeps_agreed_snippets_in_the_queue(review_corpus):
    corpus = review_corpus
    desk = ReviewDesk(corpus, "judge", auto_accept=False)
    assert desk.auto_accepted == 0
    assert not (corpus.path / "gold.jsonl").exists()
    assert len(desk) == 3
    desk.close()


def test_review_starts_from_the_majority_and_takes_one_annotators_choice(review_corpus):
    corpus = review_corpus
    desk = ReviewDesk(corpus, "judge")
    desk.go_to_position(corpus.position("s2"))
    opened = desk.current()
    record = opened.session.record
    assert [(e.start, e.end, e.label) for e in record.entities] == list(ANA)  # ORG by ana and cy
    [item] = items_at(opened.disagreements(), opened.session.model, 15)
    assert item.describe() == "ORG: ana, cy · GPE: ben"
    taken = record_with_choice(record, opened.session.model, item, item.choice_of("ben"))
    assert (taken.entities[1].start, taken.entities[1].label) == (14, "GPE")
    opened.session.do(choices_edit("take ben", record, taken, "ben's choice"))
    gold = desk.accept(opened)
    assert gold.sources == ["ana", "ben", "cy"] and gold.adjudicator == "judge"
    assert [e.label for e in gold.entities] == ["PERSON", "GPE", "GPE"]
    on_disk = {json.loads(line)["snippet_id"]: json.loads(line) for line in (corpus.path / "gold.jsonl").read_text().splitlines()}
    assert on_disk["s2"]["entities"][1]["label"] == "GPE"
    desk.close()


def test_taking_story_start_and_truncation_choices(review_corpus):
    corpus = review_corpus
    desk = ReviewDesk(corpus, "judge")
    desk.go_to_position(corpus.position("s3"))
    opened = desk.current()
    model = opened.session.model
    found = {(item.kind, item.start): item for item in opened.disagreements()}
    start = found[("story_start", SECOND)]
    record = opened.session.record
    assert record.story_starts == [SECOND]  # ana and ben
    without = take_choices(record, model, [(start, None), (found[("truncated", len(TEXT))], None)])
    assert without.story_starts == [] and not without.stories[0].truncated
    back = take_choices(without, model, [(start, "start"), (found[("truncated", len(TEXT))], "truncated")])
    assert back.story_starts == [SECOND] and back.stories[-1].truncated
    with pytest.raises(EditRefused):
        choices_edit("same", back, back, "")
    desk.close()


def test_review_edits_survive_a_crash_and_accepts_are_kept(review_corpus):
    corpus = review_corpus
    desk = ReviewDesk(corpus, "judge")
    first = desk.current()
    desk.accept(first)
    desk.step(1)
    second = desk.current()
    record = second.session.record
    edited = record.model_copy(update={"entities": record.entities[:1]})
    second.session.do(choices_edit("drop", record, edited, ""))
    desk.save(second)
    # No close: the process dies here. Drop the lock the way the OS would.
    desk.journal._lock.release()
    reopened = ReviewDesk(Corpus.open(corpus.path), "judge")
    gold_ids = {json.loads(line)["snippet_id"] for line in (corpus.path / "gold.jsonl").read_text().splitlines()}
    assert gold_ids == {"s1", corpus.snippet(first.position).id}
    [position] = reopened.queue
    assert reopened.current().session.record.entities == edited.entities
    assert position == second.position
    reopened.close()


@pytest.mark.parametrize(("annotator", "expected"), [("ana", [(0, 16, "PERSON")]), ("ben", [(0, 6, "NORP")])])
def test_taking_one_annotators_choices_where_two_spans_start_at_the_same_token(tmp_path, annotator, expected):
    corpus = same_start_corpus(tmp_path)
    desk = ReviewDesk(corpus, "judge")
    try:
        opened = desk.current()
        record, model = opened.session.record, opened.session.model
        assert record.entities == []  # a tie on both spans: neither in the starting record
        under = items_at(opened.disagreements(), model, 0)
        assert sorted((item.start, item.end) for item in under) == [(0, 6), (0, 16)]
        taken = take_choices(record, model, [(item, item.choice_of(annotator)) for item in under])
        assert [(e.start, e.end, e.label) for e in taken.entities] == expected
        # the other annotator's span, not chosen, does not take away one already there
        for item in under:
            if item.choice_of(annotator) is None:
                assert record_with_choice(taken, model, item, None).entities == taken.entities
    finally:
        desk.close()
