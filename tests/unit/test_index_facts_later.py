"""A journal opened by the annotation desk leaves the records' text facts and seconds for later
(issue 19: a 1M-record journal first opens in <= 2 s): its quick scan reads only what places a
record and its status, and the facts are read, exactly, when stats first asks for them."""

import pytest
from index_journals import TEXTS, journal_lines, line, make_corpus, many_lines, split_small_scans, state, write_journal

import curate.store.scan as scan
from curate.annotating import AnnotatorDesk
from curate.model import Annotation
from curate.stats import corpus_stats
from curate.store import Corpus, CorpusLayout


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)


PLACEMENT = ("statuses", "offsets", "lengths", "problems", "unknown", "size", "lines", "live_bytes")


def drop_indexes(corpus):
    for path in CorpusLayout(corpus.path).journal_indexes.glob("*"):
        path.unlink()


def opened(corpus, **options):
    with Corpus.open(corpus.path) as reopened, reopened.journal("ana", **options) as journal:
        return state(journal), journal.index.facts, journal.index.checked


@pytest.mark.parametrize("split", [False, True])
def test_a_scan_that_leaves_the_facts_places_records_as_a_full_quick_scan_does(corpus, monkeypatch, split):
    write_journal(corpus, many_lines(), tail=line("s11").encode()[:30])
    if split:
        split_small_scans(monkeypatch)
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    monkeypatch.setattr(scan, "_BLOCK_BYTES", 700)  # many blocks, damaged lines in some
    full, full_facts, _ = opened(corpus)
    drop_indexes(corpus)
    lean, lean_facts, checked = opened(corpus, facts_later=True)
    assert full_facts and not lean_facts and not checked
    assert {key: lean[key] for key in PLACEMENT} == {key: full[key] for key in PLACEMENT}
    # Saved without facts; a reader that wants them reads them (and saves them).
    with Corpus.open(corpus.path) as reopened, reopened.journal("ana") as journal:
        assert not journal.index.facts
        generation = journal.generation
        journal.seconds_at(journal.positions())
        assert journal.index.facts and journal.generation == generation + 1
        assert state(journal) == full
    assert opened(corpus)[:2] == (full, True)


def test_the_desk_opens_without_reading_facts_and_stats_then_says_what_it_always_did(corpus, monkeypatch):
    write_journal(corpus, journal_lines())
    expected = corpus_stats(Corpus.open(corpus.path))
    drop_indexes(corpus)
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    read_facts = []
    real_keys = scan.digest_keys
    monkeypatch.setattr(scan, "digest_keys", lambda values: read_facts.append(len(values)) or real_keys(values))
    desk = AnnotatorDesk(Corpus.open(corpus.path), "ana")
    try:
        assert not desk.journal.index.facts and read_facts == []
        counts = desk.counts()
        desk.start_at()
        assert desk.current() is not None
    finally:
        desk.close()
    assert read_facts == []  # the first screen read no text_sha256
    stats = corpus_stats(Corpus.open(corpus.path))
    assert read_facts  # stats asked: read now
    (ana,), (expected_ana,) = stats.annotators, expected.annotators
    assert ana == expected_ana and ana.changed == ["s8", "s9", "s10"]
    assert (counts["done"], counts["skipped"], counts["flagged"]) == (ana.done, ana.skipped, ana.flagged)


def test_records_saved_after_a_scan_without_facts_are_counted_with_theirs(corpus, monkeypatch):
    write_journal(corpus, [line(key, "done") for key in TEXTS])
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    with Corpus.open(corpus.path) as reopened, reopened.journal("ana", writable=True, facts_later=True) as journal:
        record = Annotation.model_validate_json(line("s4", "skipped", sha="wrong"))
        journal.append(record.model_copy(update={"seconds": 7.0}))
        assert not journal.index.facts
        assert journal.text_changed_positions().tolist() == [4]
        assert journal.seconds_at([3, 4]).tolist() == [0.0, 7.0] and journal.status_of(4) == "skipped"


def test_the_desk_reads_suggestions_without_their_facts_too(corpus, monkeypatch):
    suggestions = corpus.suggestions_path
    suggestions.write_text("".join(line(key, None).replace('"annotator":"ana"', '"annotator":"model:x"') + "\n" for key in TEXTS))
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    desk = AnnotatorDesk(Corpus.open(corpus.path), "ana")
    try:
        assert desk.suggestions is not None and not desk.suggestions.index.facts
        desk.start_at()
        opened = desk.current()
        assert opened is not None and opened.session.record.annotator == "ana"  # started from the suggestion
        assert desk.suggestions.has_record(opened.position)
    finally:
        desk.close()
