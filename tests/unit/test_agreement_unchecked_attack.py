"""Attacks on agreement over journals whose index a quick scan made (Journal.checkable_by_reading,
read_unchecked, complete_check; curate/agreement/service.py): whatever the readers read
unchecked, the index saved as ``checked`` afterwards must be the one a strict rebuild of the
journal makes (statuses, offsets, problems), and the report the one after a strict rebuild."""

import json
import os
import random
import time

import pytest
from index_journals import quick_indexes as index_quickly

from curate.agreement import agreement, service
from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout
from curate.store.journal import Journal

WORDS = "Ana Lopez met Ben in Lanport . the harbour plan was late , and the council voted".split()
NAMES = ("ana", "ben", "cy")


def record(rng, name, snippet_id, text, status):
    entities, position = [], 0
    while True:
        start = text.find(" ", position) + 1
        end = text.find(" ", start)
        if start <= 0 or end < 0 or rng.random() < 0.3:
            break
        entities.append({"start": start, "end": end, "label": rng.choice(["PERSON", "GPE"])})
        position = end + rng.randint(1, 12)
    return {"snippet_id": snippet_id, "annotator": name, "status": status, "stories": [{"start": 0, "end": len(text)}], "entities": entities}


@pytest.fixture
def corpus_dir(tmp_path):
    rng = random.Random(5)
    texts = {f"s{number:02d}": " ".join(rng.choices(WORDS, k=rng.randint(5, 12))) for number in range(40)}
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    ingest([source], tmp_path / "c", labels=["PERSON", "GPE"])
    layout = CorpusLayout(tmp_path / "c")
    layout.annotations.mkdir(exist_ok=True)
    for name in NAMES:
        statuses = ["done" if number % 5 else "skipped" for number in range(40)]
        lines = [json.dumps(record(rng, name, key, text, status)) for (key, text), status in zip(texts.items(), statuses)]
        layout.journal(name).write_text("".join(line + "\n" for line in lines))
    return tmp_path / "c"


def quick_indexes(corpus_dir, monkeypatch):
    index_quickly(corpus_dir, monkeypatch, NAMES)


def report(corpus_dir, processes):
    with Corpus.open(corpus_dir) as corpus:
        found = agreement(corpus, ranking_size=50, processes=processes)
    return json.dumps(found.to_json(), sort_keys=True)


def saved_and_strict(corpus_dir, name):
    """(the saved index as loaded, the index a strict rebuild makes): status, offsets, problems."""
    with Corpus.open(corpus_dir) as corpus, corpus.journal(name) as journal:
        saved = index_state(journal)
        journal.rebuild()
        strict = index_state(journal)
    return saved, strict


def index_state(journal):
    index = journal.index
    arrays = [getattr(index, name).tolist() for name in ("lengths", "text_lengths", "digest_kinds", "digests", "seconds")] if index.facts else []
    return (
        index.checked, index.status.tolist(), index.offsets.tolist(), [(p.line, p.reason) for p in journal.problems],
        index.size, index.lines, index.live_bytes, dict(index.unknown), arrays,
    )


def rewrite_in_place(path, number, change):
    """Another process rewrites line `number` of `path` in place, keeping its length."""
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    start = sum(map(len, lines[:number]))
    old = lines[number]
    new = change(old)
    assert len(new) == len(old) and new != old
    with path.open("r+b") as handle:
        handle.seek(start)
        handle.write(new)


def skipped_to_flagged(line):
    return line.replace(b'"skipped"', b'"flagged"')


def done_to_overlapping(line):
    # Same length: the second entity's start made 0, so it overlaps the first (the model refuses).
    record = json.loads(line)
    assert len(record["entities"]) >= 2
    first, second = record["entities"][:2]
    digits = str(second["start"]).encode()
    old = b'{"start": %s, "end": %d, "label": "%s"}' % (digits, second["end"], second["label"].encode())
    new = b'{"start": %s, "end": %d, "label": "%s"}' % (b"0".rjust(len(digits)), second["end"], second["label"].encode())
    assert old in line
    return line.replace(old, new)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_status_rewritten_in_place_before_the_read_is_not_saved_as_checked(corpus_dir, monkeypatch, processes):
    # s05 is skipped (not read by the readers, validated by complete_check); another process
    # rewrites it in place (same length) as flagged after the index was loaded.
    quick_indexes(corpus_dir, monkeypatch)
    path = CorpusLayout(corpus_dir).journal("ben")
    real = Journal.checkable_by_reading
    done = []

    def rewritten_after_loading(self):
        if self.path == path and not done:
            done.append(rewrite_in_place(path, 5, skipped_to_flagged))
        return real(self)

    monkeypatch.setattr(Journal, "checkable_by_reading", rewritten_after_loading)
    report(corpus_dir, processes)
    monkeypatch.setattr(Journal, "checkable_by_reading", real)
    saved, strict = saved_and_strict(corpus_dir, "ben")
    assert saved == strict


@pytest.mark.parametrize("processes", [1, 2])
def test_a_done_record_made_invalid_in_place_after_the_readers_read_it_is_not_saved_as_checked(corpus_dir, monkeypatch, processes):
    quick_indexes(corpus_dir, monkeypatch)
    path = CorpusLayout(corpus_dir).journal("ben")
    lines = path.read_bytes().splitlines()
    number = next(n for n, line in enumerate(lines) if json.loads(line)["status"] == "done" and len(json.loads(line)["entities"]) >= 2)
    real = Journal.complete_check
    done = []

    def rewritten_after_reading(self, read):
        if self.path == path and not done:
            done.append(True)
            assert read[number]  # the readers read (and validated) it
            time.sleep(0.05)  # past the clock tick a file's change time is taken at
            rewrite_in_place(path, number, done_to_overlapping)
        return real(self, read)

    monkeypatch.setattr(Journal, "complete_check", rewritten_after_reading)
    report(corpus_dir, processes)
    saved, strict = saved_and_strict(corpus_dir, "ben")
    assert strict[3] and strict[3][0][0] == number + 1  # the strict rebuild reports the line
    assert saved == strict


# Records whose quick-scan skeleton is fine (a quick scan places them) but that the model refuses.
def _overlapping(record):
    record["entities"] = [{"start": 0, "end": 3, "label": "PERSON"}, {"start": 1, "end": 2, "label": "GPE"}]


def _backwards(record):
    record["entities"] = [{"start": 4, "end": 2, "label": "PERSON"}]


def _unsorted(record):
    record["entities"] = [{"start": 5, "end": 7, "label": "PERSON"}, {"start": 0, "end": 2, "label": "GPE"}]


def _outside(record):
    record["entities"] = [{"start": 0, "end": record["stories"][-1]["end"] + 1, "label": "PERSON"}]


def _unknown_field(record):
    record["colour"] = "red"


def _deep_unknown_field(record):
    record["stories"][0]["colour"] = "red"


def _deep_wrong_type(record):
    record["stories"][0]["truncated"] = "yes"


def _label_number(record):
    record["entities"] = [{"start": 0, "end": 2, "label": 7}]


def _float_offset(record):
    record["entities"] = [{"start": 0.0, "end": 2, "label": "GPE"}]


def _story_not_at_zero(record):
    record["stories"][0]["start"] = 1


def _negative_seconds(record):
    record["seconds"] = -1.0


def _empty_label(record):
    record["entities"] = [{"start": 0, "end": 2, "label": ""}]


def _boilerplate_overlap(record):
    record["boilerplate"] = [{"start": 0, "end": 3, "kind": "byline"}, {"start": 2, "end": 4, "kind": "ad"}]


def _note_number(record):
    record["note"] = 3


MUTATIONS = [_overlapping, _backwards, _unsorted, _outside, _unknown_field, _deep_unknown_field, _deep_wrong_type, _label_number, _float_offset, _story_not_at_zero, _negative_seconds, _empty_label, _boilerplate_overlap, _note_number]


def strict_state(corpus_dir, processes):
    """The report and each journal's index after every journal is rebuilt strictly."""
    with Corpus.open(corpus_dir) as corpus:
        for name in NAMES:
            with corpus.journal(name) as journal:
                journal.rebuild()
    return report(corpus_dir, processes), [saved_and_strict(corpus_dir, name)[1] for name in NAMES]


CASES = [(mutation, where, 1) for mutation in MUTATIONS for where in ("done", "skipped", "last")]
CASES += [(mutation, where, 2) for mutation in (_overlapping, _deep_wrong_type, _unknown_field) for where in ("done", "skipped", "last")]


@pytest.mark.parametrize(("mutation", "where", "processes"), CASES, ids=lambda value: getattr(value, "__name__", str(value)))
def test_a_record_the_model_refuses_anywhere_gives_the_strict_report_and_index(corpus_dir, monkeypatch, processes, where, mutation):
    path = CorpusLayout(corpus_dir).journal("cy")
    lines = path.read_text().splitlines()
    number = {"done": 7, "skipped": 10, "last": len(lines) - 1}[where]
    bad = json.loads(lines[number])
    assert bad["status"] == ("skipped" if where == "skipped" else "done")
    mutation(bad)
    lines[number] = json.dumps(bad)
    path.write_text("".join(line + "\n" for line in lines))
    expected_report, expected_indexes = strict_state(corpus_dir, processes)
    assert expected_indexes[2][3] and expected_indexes[2][3][0][0] == number + 1  # the model refuses it
    quick_indexes(corpus_dir, monkeypatch)
    with Corpus.open(corpus_dir) as corpus, corpus.journal("cy") as journal:
        assert journal.checkable_by_reading()  # the quick scan placed it (no rebuild first)
    monkeypatch.setattr(service, "READ_CHUNK_SNIPPETS", 9)
    assert report(corpus_dir, processes) == expected_report
    for name, expected in zip(NAMES, expected_indexes):
        saved, strict = saved_and_strict(corpus_dir, name)
        assert saved == strict == expected


def test_the_agreement_command_on_a_damaged_quick_indexed_journal_then_validate(corpus_dir, monkeypatch):
    from typer.testing import CliRunner

    from curate.cli import app

    path = CorpusLayout(corpus_dir).journal("ana")
    lines = path.read_text().splitlines()
    bad = json.loads(lines[3])
    _overlapping(bad)
    lines[3] = json.dumps(bad)
    lines[8] = lines[8][:20]  # a damaged line too
    path.write_text("".join(line + "\n" for line in lines))
    quick_indexes(corpus_dir, monkeypatch)
    result = CliRunner().invoke(app, ["agreement", str(corpus_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    json.loads(result.stdout.splitlines()[-1])
    checked = CliRunner().invoke(app, ["validate", str(path), "--corpus", str(corpus_dir)])
    assert checked.exit_code != 0 and "Traceback" not in checked.output
    shown = [line for line in checked.output.splitlines() if line.startswith(str(path) + ":")]
    assert any(line.startswith(f"{path}:4: ") and "overlap" in line for line in shown), shown
    assert any(line.startswith(f"{path}:9: ") for line in shown), shown


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("mutation", [_overlapping, _deep_unknown_field], ids=lambda mutation: mutation.__name__)
def test_an_invalid_superseded_record_gives_the_strict_report_and_index(corpus_dir, monkeypatch, processes, mutation):
    path = CorpusLayout(corpus_dir).journal("ana")
    lines = path.read_text().splitlines()
    bad = json.loads(lines[7])
    mutation(bad)
    lines.insert(7, json.dumps(bad))  # s07's invalid record, then its valid one
    path.write_text("".join(line + "\n" for line in lines))
    expected_report, expected_indexes = strict_state(corpus_dir, processes)
    assert [line for line, _ in expected_indexes[0][3]] == [8]
    quick_indexes(corpus_dir, monkeypatch)
    assert report(corpus_dir, processes) == expected_report
    for name, expected in zip(NAMES, expected_indexes):
        saved, strict = saved_and_strict(corpus_dir, name)
        assert saved == strict == expected


@pytest.mark.parametrize("processes", [1, 2])
def test_a_record_rewritten_in_place_to_another_snippets_id_is_found_out(corpus_dir, monkeypatch, processes):
    # s07's done line now says s08 (same length) after the index was loaded: s07 has no
    # record then and s08 two (the later wins), as a strict rebuild finds.
    quick_indexes(corpus_dir, monkeypatch)
    path = CorpusLayout(corpus_dir).journal("ana")
    real = Journal.checkable_by_reading
    done = []

    def rewritten_after_loading(self):
        if self.path == path and not done:
            done.append(rewrite_in_place(path, 7, lambda line: line.replace(b'"s07"', b'"s08"')))
        return real(self)

    monkeypatch.setattr(Journal, "checkable_by_reading", rewritten_after_loading)
    found = report(corpus_dir, processes)
    monkeypatch.setattr(Journal, "checkable_by_reading", real)
    saved, strict = saved_and_strict(corpus_dir, "ana")
    assert saved == strict and strict[1][7] == -1
    assert found == report(corpus_dir, processes)


@pytest.mark.parametrize("processes", [1, 2])
def test_an_invalid_line_appended_during_the_reading_is_reported_when_next_opened(corpus_dir, monkeypatch, processes):
    quick_indexes(corpus_dir, monkeypatch)
    path = CorpusLayout(corpus_dir).journal("ben")
    bad = json.loads(path.read_text().splitlines()[3])
    _overlapping(bad)
    real = Journal.complete_check
    done = []

    def appended(self, read):
        if self.path == path and not done:
            with path.open("a") as handle:
                handle.write(json.dumps(bad) + "\n")
            done.append(True)
        return real(self, read)

    monkeypatch.setattr(Journal, "complete_check", appended)
    report(corpus_dir, processes)
    saved, strict = saved_and_strict(corpus_dir, "ben")
    assert saved == strict and strict[3] and strict[3][-1][0] == 41


@pytest.mark.parametrize("processes", [1, 2])
def test_a_journal_replaced_during_the_reading_is_read_as_the_new_file_when_next_opened(corpus_dir, monkeypatch, processes):
    # Another process replaces the journal (a compaction: a new file renamed over it, its lines
    # in another order and one status changed) while agreement reads the old one: the index
    # saved for the old file is not taken for the new one.
    quick_indexes(corpus_dir, monkeypatch)
    path = CorpusLayout(corpus_dir).journal("cy")
    real = Journal.complete_check
    done = []

    def replaced_during_the_reading(self, read):
        if self.path == path and not done:
            lines = path.read_text().splitlines()
            lines[10] = lines[10].replace('"skipped"', '"flagged"')
            temporary = path.with_name("cy.new")
            temporary.write_text("".join(line + "\n" for line in reversed(lines)))
            os.replace(temporary, path)
            done.append(True)
        return real(self, read)

    monkeypatch.setattr(Journal, "complete_check", replaced_during_the_reading)
    report(corpus_dir, processes)
    saved, strict = saved_and_strict(corpus_dir, "cy")
    assert saved[1:] == strict[1:] and strict[1][10] == 3
