"""`curate agreement` on journals whose index a quick scan made (curate/agreement/service.py,
Journal.read_unchecked / complete_check): when every line is a record the index places, the
readers validate the records they read and the rest are validated after, with no strict
rebuild first; the report is the one a strictly rebuilt index gives, the index is then saved
as checked; any record that is not valid (or not at its snippet) makes the journal rebuilt
strictly and everything read again (issue 19, item 3)."""

import json
import os
import random

import numpy as np
import pytest
from index_journals import quick_indexes as index_quickly

import curate.store.scan as scan
from curate.agreement import agreement, service
from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout
from curate.store.journal import Journal

WORDS = "Ana Lopez met Ben in Lanport . the harbour plan was late , and the council voted".split()
NAMES = ("ana", "ben", "cy")


def record(rng, name, snippet_id, text, status):
    cut = text.find("\n") + 1
    edges = [0, cut, len(text)] if 0 < cut < len(text) else [0, len(text)]
    entities, position = [], 0
    while True:
        start = text.find(" ", position) + 1
        end = text.find(" ", start)
        if start <= 0 or end < 0 or rng.random() < 0.3:
            break
        if not any(start < edge < end for edge in edges) and "\n" not in text[start:end]:
            entities.append({"start": start, "end": end, "label": rng.choice(["PERSON", "GPE"])})
        position = end + rng.randint(1, 12)
    return {"snippet_id": snippet_id, "annotator": name, "status": status, "stories": [{"start": a, "end": b} for a, b in zip(edges, edges[1:])], "entities": entities}


@pytest.fixture
def corpus_dir(tmp_path):
    rng = random.Random(3)
    texts = {f"s{number:02d}": "\n".join(" ".join(rng.choices(WORDS, k=rng.randint(4, 9))) for _ in range(rng.randint(1, 3))) for number in range(60)}
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    ingest([source], tmp_path / "c", labels=["PERSON", "GPE"])
    layout = CorpusLayout(tmp_path / "c")
    layout.annotations.mkdir(exist_ok=True)
    for name in NAMES:
        lines = [json.dumps(record(rng, name, key, text, "done" if rng.random() < 0.85 else "skipped")) for key, text in texts.items() if rng.random() < 0.9]
        layout.journal(name).write_text("".join(line + "\n" for line in lines))
    return tmp_path / "c"


def quick_indexes(corpus_dir, monkeypatch):
    index_quickly(corpus_dir, monkeypatch, NAMES)


def report(corpus_dir, processes):
    with Corpus.open(corpus_dir) as corpus:
        found = agreement(corpus, ranking_size=50, processes=processes)
    return json.dumps(found.to_json(), sort_keys=True), found.ranking, found.stale, found.confusion().tolist()


def strict_report(corpus_dir, processes):
    """The report with every journal rebuilt strictly first (what a checked index gives)."""
    with Corpus.open(corpus_dir) as corpus:
        for name in NAMES:
            with corpus.journal(name) as journal:
                journal.rebuild()
    return report(corpus_dir, processes)


def checked(corpus_dir):
    with Corpus.open(corpus_dir) as corpus:
        return [corpus.journal(name).index.checked for name in NAMES]


@pytest.fixture
def rebuilds(monkeypatch, tmp_path):
    """Where journals were rebuilt: one process id per rebuild."""
    log = tmp_path / "rebuilds"
    real = Journal.rebuild

    def rebuild(self):
        with log.open("a") as handle:
            handle.write(f"{os.getpid()} {self.path.stem}\n")
        real(self)

    monkeypatch.setattr(Journal, "rebuild", rebuild)
    return lambda: log.read_text().split("\n")[:-1] if log.exists() else []


@pytest.mark.parametrize("processes", [1, 2])
def test_records_read_for_their_content_are_validated_there_and_the_index_saved_checked(corpus_dir, monkeypatch, rebuilds, processes):
    expected = strict_report(corpus_dir, processes)
    before = len(rebuilds())
    quick_indexes(corpus_dir, monkeypatch)
    assert checked(corpus_dir) == [False] * 3
    monkeypatch.setattr(service, "READ_CHUNK_SNIPPETS", 7)  # several shares between the readers
    validated = []
    real_read = Journal.read_unchecked
    monkeypatch.setattr(Journal, "read_unchecked", lambda self, positions: validated.append(len(positions)) or real_read(self, positions))
    assert report(corpus_dir, processes) == expected
    assert rebuilds()[before:] == []  # no strict rebuild
    assert checked(corpus_dir) == [True] * 3  # every line was validated: saved as checked
    if processes == 1:  # (readers in forked processes count in their own copies)
        assert sum(validated) > 0


@pytest.mark.parametrize("status", ["done", "skipped"])
def test_a_record_only_the_model_refuses_makes_the_journal_rebuilt_strictly(corpus_dir, monkeypatch, rebuilds, status):
    # The record of s05 breaks a rule of the model its skeleton does not show (overlapping
    # entities): a quick scan places it; a strict one does not, and s05 has no record then.
    path = CorpusLayout(corpus_dir).journal("ben")
    lines = path.read_text().splitlines()
    bad = json.loads(lines[5])
    bad["status"] = status
    bad["entities"] = [{"start": 0, "end": 3, "label": "PERSON"}, {"start": 1, "end": 2, "label": "GPE"}]
    lines[5] = json.dumps(bad)
    path.write_text("".join(line + "\n" for line in lines))
    expected = strict_report(corpus_dir, 2)
    before = len(rebuilds())
    quick_indexes(corpus_dir, monkeypatch)
    assert report(corpus_dir, 2) == expected
    assert rebuilds()[before:] == [f"{os.getpid()} ben"]  # here, once, only the journal with that record
    assert checked(corpus_dir) == [True] * 3


def test_a_record_placed_at_another_snippet_makes_the_journal_rebuilt_strictly(corpus_dir, monkeypatch, rebuilds):
    # A quick scan that placed a record at the wrong snippet (as a 64-bit hash shared by an id
    # not in the corpus would): the reader finds the record's id is not its snippet's.
    expected = strict_report(corpus_dir, 1)
    before = len(rebuilds())
    real_place = scan.place_ids

    def swapped(corpus, ids, position=None, hashes=None):
        positions = real_place(corpus, ids, position, hashes)
        return np.where(positions == 2, 3, np.where(positions == 3, 2, positions))

    with monkeypatch.context() as patch:
        patch.setattr(scan, "place_ids", swapped)
        quick_indexes(corpus_dir, patch)
    assert report(corpus_dir, 1) == expected
    assert sorted(name for _, name in map(str.split, rebuilds()[before:])) == list(NAMES)
    assert checked(corpus_dir) == [True] * 3


def test_a_journal_with_superseded_records_is_rebuilt_first_as_before(corpus_dir, monkeypatch, rebuilds):
    path = CorpusLayout(corpus_dir).journal("cy")
    lines = path.read_text().splitlines()
    path.write_text("".join(line + "\n" for line in [*lines, lines[0]]))  # s00's record again
    expected = strict_report(corpus_dir, 2)
    before = len(rebuilds())
    quick_indexes(corpus_dir, monkeypatch)
    assert report(corpus_dir, 2) == expected
    assert rebuilds()[before:] == [f"{os.getpid()} cy"]
    assert checked(corpus_dir) == [True] * 3


def test_a_record_appended_during_the_reading_is_read_strictly_when_the_journal_is_next_opened(corpus_dir, monkeypatch, rebuilds):
    quick_indexes(corpus_dir, monkeypatch)
    path = CorpusLayout(corpus_dir).journal("ana")
    first = json.loads(path.read_text().splitlines()[0])
    real_check = Journal.complete_check

    def check_after_an_append(self, read):
        if self.path == path:
            with path.open("a") as handle:  # another process saves a record meanwhile
                handle.write(json.dumps(first | {"status": "flagged"}) + "\n")
        return real_check(self, read)

    monkeypatch.setattr(Journal, "complete_check", check_after_an_append)
    report(corpus_dir, 1)
    assert rebuilds() == [] and checked(corpus_dir) == [True] * 3
    with Corpus.open(corpus_dir) as corpus, corpus.journal("ana") as journal:
        assert journal.index.checked and journal.status_of(corpus.position(first["snippet_id"])) == "flagged"
        assert journal.index.size == path.stat().st_size and not journal.problems
