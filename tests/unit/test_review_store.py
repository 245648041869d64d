"""Review of the journal index paths (first open without facts, quick and strict scans, the
saved index): damaged or hostile journal lines and journals changed behind the index must give
the state a full read gives, with `file:line` problems, never a traceback."""

import json
import shutil
import time

import pytest
from index_journals import TEXTS, line, make_corpus, split_small_scans, state, write_journal

import curate.store.scan as scan
from curate.store import Corpus, CorpusLayout, StoreError
from curate.validate import validate_file


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)


def drop_indexes(corpus, fresh=False):
    """No saved journal index (and with `fresh`, no .curate/ at all: a fresh clone)."""
    layout = CorpusLayout(corpus.path)
    if fresh:
        shutil.rmtree(layout.index_dir, ignore_errors=True)
    for path in layout.journal_indexes.glob("*"):
        path.unlink()


def opened(corpus, fresh=False, **options):
    """(counts, statuses, problems) of the journal opened afresh (no saved journal index)."""
    drop_indexes(corpus, fresh)
    with Corpus.open(corpus.path, index_later=fresh) as reopened, reopened.journal("ana", **options) as journal:
        found = state(journal)
        return journal.counts(), found["statuses"], found["problems"]


# ---- lines nested too deeply for a JSON reader


DEEP = {"array": "[" * 100_000, "object": '{"a": ' * 100_000}


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("where", ["middle", "unterminated last line"])
@pytest.mark.parametrize("nesting", sorted(DEEP))
def test_a_deeply_nested_line_is_a_problem_with_its_line_number_not_a_traceback(corpus, monkeypatch, quick, where, nesting):
    """A line nested deeper than Python's JSON reader recurses (hostile or garbage bytes) made
    every open of the journal raise RecursionError (json.loads in line_problem and take_tail)."""
    if quick:
        monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    deep = DEEP[nesting]
    if where == "middle":
        write_journal(corpus, [line("s0", "done"), deep, line("s1", "skipped")])
    else:
        write_journal(corpus, [line("s0", "done"), line("s1", "skipped")], tail=deep.encode())
    counts, _, problems = opened(corpus)
    assert counts == {"done": 1, "skipped": 1, "flagged": 0, "in_progress": 0}
    assert [number for number, _, _ in problems] == [2 if where == "middle" else 3]
    assert not problems[0][2]  # not taken for a torn write (a torn last line is cut off before an append)
    # A writer opening it leaves the line in the file (it is not a torn append of ours).
    with Corpus.open(corpus.path) as reopened, reopened.journal("ana", writable=True) as journal:
        journal.append(journal.record_at(0).model_copy(update={"note": "again"}))
    assert deep.encode() in corpus.journal_path("ana").read_bytes()


@pytest.mark.parametrize("nesting", sorted(DEEP))
def test_a_deeply_nested_snippet_line_is_named_by_its_line_not_a_traceback(corpus, nesting):
    snippets = CorpusLayout(corpus.path).snippets
    snippets.write_bytes(snippets.read_bytes() + DEEP[nesting].encode() + b"\n")
    for path in CorpusLayout(corpus.path).root.glob(".curate/snippets.*"):
        path.unlink()
    with pytest.raises(StoreError, match=rf"snippets.jsonl:{len(TEXTS) + 1}: "):
        Corpus.open(corpus.path)


@pytest.mark.parametrize("nesting", sorted(DEEP))
def test_a_deeply_nested_gold_line_is_a_problem_with_its_line_number(corpus, nesting):
    gold = CorpusLayout(corpus.path).gold
    gold.write_bytes(DEEP[nesting].encode() + b"\n")
    with Corpus.open(corpus.path) as reopened:
        store = reopened.gold()
        assert [problem.line for problem in store.problems] == [1] and len(store) == 0



@pytest.mark.parametrize("first", [False, True], ids=["second line", "first line"])
def test_validate_names_a_deeply_nested_line_not_a_traceback(corpus, first):
    lines = [line("s0", "done"), DEEP["array"]]
    path = write_journal(corpus, lines[::-1] if first else lines)
    number = 1 if first else 2
    assert list(validate_file(path)) == [f"{path}:{number}: malformed JSON: nested too deeply"]

# ---- the desk's first open (facts left for later)


def record(snippet_id, **fields):
    value = {"snippet_id": snippet_id, "annotator": "ana", "stories": [{"start": 0, "end": 4}], "status": "done"}
    return json.dumps(value | fields)


# Lines the quick scan's skeleton (and the strict reading) refuse, each after a valid record of
# its snippet: the valid record must stay the snippet's last.
REFUSED = {
    "no story": record("s1", stories=[]),
    "stories not a list": record("s1", stories="all of it"),
    "a story without an end": record("s1", stories=[{"start": 0}]),
    "a story ending before 0": record("s1", stories=[{"start": 0, "end": -5}]),
    "a text_sha256 that is not a string": record("s1", text_sha256=5),
    "seconds that are not a number": record("s1", seconds="long"),
}


@pytest.mark.parametrize("how", ["one process", "split", "fresh clone"])
@pytest.mark.parametrize("damage", sorted(REFUSED))
def test_a_first_open_that_leaves_the_facts_for_later_refuses_what_a_full_read_refuses(corpus, monkeypatch, damage, how):
    """The desk's first open (facts_later) must place records as a full quick scan and a strict
    reading do: a damaged last line is a problem, and the snippet keeps its earlier record (the
    lean scan placed the damaged record, so the desk's counts and the saved index, which
    `curate queue` reads, were wrong and the line had no `file:line` message)."""
    lines = [line(key, "done") for key in TEXTS] * 3 + [line("s1", "skipped"), REFUSED[damage], line("s2", "flagged")]
    write_journal(corpus, lines)
    strict = opened(corpus, fresh=True)  # read strictly: too short for a quick scan
    if how == "one process":
        monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    else:
        split_small_scans(monkeypatch)
    fresh = how == "fresh clone"
    full = opened(corpus, fresh)
    lean = opened(corpus, fresh, facts_later=True)
    assert [number for number, _, _ in strict[2]] == [len(lines) - 1]
    assert strict[1][1] == "skipped" and strict[0]["flagged"] == 1
    assert full == strict
    assert lean == full


# ---- a journal changed behind its saved index


def test_a_journal_rewritten_in_place_to_the_same_size_is_read_again(corpus):
    """An edit that keeps the journal's size and its last 4 KiB (a status changed in an early
    line by hand or a tool, skipped <-> flagged: same length) left the saved index trusted, so
    statuses and counts were of the old file."""
    lines = [line(key, "skipped") for key in TEXTS]
    path = write_journal(corpus, lines)
    assert path.stat().st_size > 3 * 4096  # the first line is far from the tail the index hashes
    with Corpus.open(corpus.path) as reopened, reopened.journal("ana") as journal:
        assert journal.status_of(0) == "skipped"  # the index is saved
    data = path.read_bytes()
    edited = data.replace(b'"status":"skipped"', b'"status":"flagged"', 1)
    assert len(edited) == len(data) and edited != data
    time.sleep(0.02)  # a clock tick after the index was saved, as any later edit is
    path.write_bytes(edited)
    with Corpus.open(corpus.path) as reopened, reopened.journal("ana") as journal:
        assert journal.status_of(0) == "flagged"
        assert journal.counts()["flagged"] == 1


# ---- damaged derived files of the snippets


def test_an_empty_snippet_index_array_is_rebuilt_not_a_traceback(corpus):
    """A .npy of the snippet index cut to nothing (np.load raises EOFError, which the loader did
    not catch): every open of the corpus failed instead of rebuilding the derived index."""
    layout = CorpusLayout(corpus.path)
    for name in ("offsets", "hashes", "positions"):
        saved = layout.snippet_index_array(name).read_bytes()
        layout.snippet_index_array(name).write_bytes(b"")
        with Corpus.open(corpus.path) as reopened:
            assert len(reopened) == len(TEXTS) and reopened.snippet_id(5) == "s5"
        assert layout.snippet_index_array(name).read_bytes() == saved  # saved whole again


@pytest.mark.parametrize("damage", ["empty", "cut short", "not a zip"])
def test_a_damaged_text_facts_file_is_read_again_not_a_traceback(corpus, damage):
    """snippets.texts.npz (each text's length and sha256 prefix, for `curate stats`) damaged:
    np.load raised EOFError or zipfile.BadZipFile, which the loader did not catch."""
    with Corpus.open(corpus.path) as reopened:
        expected = [facts.tolist() for facts in reopened.text_facts()]
    path = CorpusLayout(corpus.path).snippet_texts
    saved = path.read_bytes()
    path.write_bytes({"empty": b"", "cut short": saved[: len(saved) // 2], "not a zip": b"PK\x03\x04" + bytes(100)}[damage])
    with Corpus.open(corpus.path) as reopened:
        assert [facts.tolist() for facts in reopened.text_facts()] == expected
