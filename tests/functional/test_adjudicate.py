"""Merging annotators into gold: items, disagreements, unanimous and majority merges, provenance."""

import json

from review_corpora import ANA, LIMA, OSLO, PHOTO, SECOND, TEXT, corpus_of, record, write_records
from typer.testing import CliRunner

from curate.adjudicate import contradicted_gold, disagreements, items, merge, merge_corpus
from curate.cli import app
from curate.store import Corpus


def test_identical_records_have_no_disagreement_and_merge_unanimously():
    records = {name: record(name, entities=ANA) for name in ("ana", "ben", "cy")}
    assert disagreements(records) == []
    result = merge(records, TEXT, "unanimous", "auto")
    assert result.record is not None
    assert result.record.sources == ["ana", "ben", "cy"]
    assert [(e.start, e.end, e.label) for e in result.record.entities] == list(ANA)
    assert result.record.story_starts == [SECOND]
    assert result.record.stories[-1].truncated


def test_each_kind_of_disagreement_is_found_with_who_chose_what():
    records = {
        "ana": record("ana", entities=ANA),
        "ben": record("ben", entities=((0, 9, "PERSON"), (14, 23, "GPE"), (LIMA, LIMA + 4, "GPE"))),
        "cy": record("cy", starts=(), truncated_last=False, boilerplate=(), entities=((0, 3, "PERSON"), (14, 23, "ORG"))),
    }
    found = {(item.kind, item.start, item.end): item for item in disagreements(records)}
    assert found[("entity", 14, 23)].describe() == "ORG: ana, cy · GPE: ben"
    assert found[("entity", 0, 9)].describe() == "PERSON: ana, ben · none: cy"
    assert found[("entity", 0, 3)].describe() == "none: ana, ben · PERSON: cy"
    assert found[("story_start", SECOND, SECOND)].voters() == {"start": ["ana", "ben"], None: ["cy"]}
    assert found[("boilerplate", PHOTO, PHOTO + 14)].voters() == {"credit": ["ana", "ben"], None: ["cy"]}
    assert found[("truncated", len(TEXT), len(TEXT))].choice_of("cy") is None
    assert ("entity", LIMA, LIMA + 4) in found  # cy did not mark Lima


def test_unanimous_refuses_and_majority_takes_more_than_half():
    records = {
        "ana": record("ana", entities=ANA),
        "ben": record("ben", entities=((0, 9, "PERSON"), (14, 23, "GPE"), (LIMA, LIMA + 4, "GPE"))),
        "cy": record("cy", starts=(), truncated_last=False, boilerplate=(), entities=((0, 3, "PERSON"), (14, 23, "ORG"))),
    }
    assert merge(records, TEXT, "unanimous", "auto").record is None
    merged = merge(records, TEXT, "majority", "auto:majority").record
    assert merged is not None
    assert [(e.start, e.end, e.label) for e in merged.entities] == list(ANA)
    assert merged.story_starts == [SECOND]
    assert merged.stories[-1].truncated
    assert [(b.start, b.end, b.kind) for b in merged.boilerplate] == [(PHOTO, PHOTO + 14, "credit")]
    assert merged.adjudicator == "auto:majority"


def test_majority_leaves_ties_for_review():
    records = {
        "ana": record("ana", entities=((OSLO, OSLO + 4, "GPE"),)),
        "ben": record("ben", entities=((OSLO, OSLO + 4, "LOC"),)),
    }
    result = merge(records, TEXT, "majority", "auto")
    assert result.record is None
    assert [(item.kind, item.start) for item in result.ties] == [("entity", OSLO)]


def test_items_are_in_text_order():
    records = {"ana": record("ana", entities=ANA), "ben": record("ben")}
    offsets = [item.start for item in items(records)]
    assert offsets == sorted(offsets)


def test_gold_command_merges_agreed_snippets_and_reports_ties(tmp_path):
    corpus = corpus_of(tmp_path, {"s1": TEXT, "s2": TEXT, "s3": TEXT})
    write_records(corpus, "ana", record("ana", entities=ANA), record("ana", snippet_id="s2", entities=ANA), record("ana", snippet_id="s3"))
    write_records(corpus, "ben", record("ben", entities=ANA), record("ben", snippet_id="s2", entities=ANA[:2]))
    result = CliRunner().invoke(app, ["gold", str(corpus.path), "--strategy", "unanimous"])
    assert result.exit_code == 0, result.output
    assert "1 snippet(s) merged" in result.output
    assert "review s2" in result.output
    lines = [json.loads(line) for line in (corpus.path / "gold.jsonl").read_text().splitlines()]
    assert [(line["snippet_id"], line["sources"], line["adjudicator"]) for line in lines] == [("s1", ["ana", "ben"], "auto:unanimous")]
    # s3 was done by one annotator only; running again merges nothing new and keeps s1.
    again = merge_corpus(Corpus.open(corpus.path), "unanimous")
    assert (again.merged, again.already_gold, again.too_few) == (0, 1, 1)


def test_later_annotation_contradicting_gold_is_listed(tmp_path):
    corpus = corpus_of(tmp_path, {"s1": TEXT})
    write_records(corpus, "ana", record("ana", entities=ANA))
    write_records(corpus, "ben", record("ben", entities=ANA))
    merge_corpus(corpus, "unanimous")
    assert contradicted_gold(corpus) == []
    later = record("ben", entities=ANA[:1]).model_copy(update={"updated_at": "2999-01-01T00:00:00Z"})
    write_records(corpus, "ben", later)
    assert contradicted_gold(Corpus.open(corpus.path)) == [("s1", "ben")]


def test_stats_lists_gold_contradicted_by_a_later_annotation(tmp_path):
    corpus = corpus_of(tmp_path, {"s1": TEXT})
    write_records(corpus, "ana", record("ana", entities=ANA))
    write_records(corpus, "ben", record("ben", entities=ANA))
    merge_corpus(corpus, "unanimous")
    quiet = CliRunner().invoke(app, ["stats", str(corpus.path)])
    assert quiet.exit_code == 0 and "contradicted" not in quiet.output
    write_records(corpus, "ana", record("ana", entities=ANA[:2]).model_copy(update={"updated_at": "2999-01-01T00:00:00Z"}))
    result = CliRunner().invoke(app, ["stats", str(corpus.path)])
    assert result.exit_code == 0, result.output
    assert "1 gold record(s) contradicted" in result.output
    assert "s1: ana saved a different done record after the gold" in result.output
