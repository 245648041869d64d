"""The corpus folder: snippet index, journals (torn lines, lock, index, compaction), gold."""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import curate.store as store
from curate.ingest import ingest
from curate.model import Annotation, GoldAnnotation
from curate.store import Corpus, JournalLocked, StoreError, atomic_write_bytes, check_annotator_name

TEXTS = {f"s{index}": f"Story {index} by Reporter {index}.\nPhoto: Agency {index}\nTeaser {index}" for index in range(40)}


@pytest.fixture
def corpus(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text, "meta": {}}) + "\n" for key, text in TEXTS.items()))
    ingest([source], tmp_path / "c")
    return Corpus.open(tmp_path / "c")


def record(snippet_id, status="done", note=None, annotator="alice"):
    length = len(TEXTS[snippet_id]) if snippet_id in TEXTS else 10
    return Annotation(snippet_id=snippet_id, annotator=annotator, stories=[{"start": 0, "end": length}], status=status, note=note)


def run_python(code, *args, **kwargs):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True, text=True, timeout=60, **kwargs)


# ---- snippets


def test_snippets_are_found_by_position_and_id(corpus):
    assert len(corpus) == 40
    assert corpus.snippet(7).text == TEXTS["s7"]
    assert corpus.position("s23") == 23 and corpus.position("nope") is None
    assert corpus.snippet_by_id("s39").id == "s39"
    assert corpus.characters == sum(len(text) for text in TEXTS.values())
    with pytest.raises(IndexError):
        corpus.snippet(40)


def test_reading_snippet_k_reads_only_its_line(corpus, monkeypatch):
    line_length = len((corpus.path / "snippets.jsonl").read_bytes().splitlines(keepends=True)[12])
    # Every other line is overwritten in place: snippet 12 must still read back whole.
    data = bytearray((corpus.path / "snippets.jsonl").read_bytes())
    start, end = int(corpus.index.offsets[12]), int(corpus.index.offsets[13])
    for index in range(len(data)):
        if not start <= index < end and data[index] != ord("\n"):
            data[index] = ord("X")
    with open(corpus.path / "snippets.jsonl", "r+b") as handle:
        handle.write(data)
    read = []
    real_pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, offset: read.append(n) or real_pread(fd, n, offset))
    assert corpus.snippet(12).text == TEXTS["s12"]
    assert sum(read) == line_length


def test_the_saved_index_is_used_and_rebuilt_when_the_file_changes(corpus, monkeypatch):
    def no_build(path):
        raise AssertionError("index rebuilt")

    with monkeypatch.context() as patch:
        patch.setattr(store.SnippetIndex, "build", classmethod(lambda cls, path: no_build(path)))
        assert Corpus.open(corpus.path).snippet(3).id == "s3"
    path = corpus.path / "snippets.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(reversed(lines)))
    reopened = Corpus.open(corpus.path)
    assert reopened.snippet(0).id == "s39" and reopened.position("s0") == 39


def test_ids_that_need_escaping_are_found_too(tmp_path):
    source = tmp_path / "in.jsonl"
    ids = ['quote"d', "back\\slash", "\u00fcml\u00e4ut", "x" * 300]
    source.write_text("".join(json.dumps({"id": key, "text": "t", "meta": {}}, ensure_ascii=False) + "\n" for key in ids))
    ingest([source], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    assert [corpus.position(key) for key in ids] == [0, 1, 2, 3]


# ---- journals


def test_last_record_per_snippet_wins_and_survives_reopening(corpus):
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s1", "skipped"))
        journal.append(record("s2", "flagged", note="odd"))
        journal.append(record("s1", "done"))
        journal.append(record("s3", None))
        assert journal.counts() == {"done": 1, "skipped": 0, "flagged": 1, "in_progress": 1}
    journal = Corpus.open(corpus.path).journal("alice")
    assert journal.latest("s1").status == "done" and journal.latest("s2").note == "odd"
    assert journal.latest("s4") is None
    assert [item.snippet_id for item in journal.records()] == ["s1", "s2", "s3"]
    assert journal.counts() == {"done": 1, "skipped": 0, "flagged": 1, "in_progress": 1}
    assert journal.problems == []


def test_every_append_is_fsynced_as_one_line(corpus, monkeypatch):
    synced = []
    real_fsync = os.fsync
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s0"))  # the first append makes the file (and fsyncs its folder too)
        monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
        journal.append(record("s1"))
        journal.append(record("s2"))
        assert len(synced) == 2
        monkeypatch.undo()
    assert len(corpus.journal_path("alice").read_bytes().splitlines()) == 3


def test_a_torn_last_line_is_reported_and_skipped_and_earlier_records_kept(corpus):
    with corpus.journal("alice", writable=True) as journal:
        for key in ("s1", "s2", "s3"):
            journal.append(record(key))
    path = corpus.journal_path("alice")
    whole = record("s4").model_dump_json().encode()
    with open(path, "ab") as handle:
        handle.write(whole[: len(whole) // 2])  # a crash mid-write
    journal = corpus.journal("alice")
    assert len(journal) == 3 and journal.latest("s4") is None
    assert [(problem.line, problem.torn) for problem in journal.problems] == [(4, True)]
    assert "torn last line" in journal.problems[0].reason
    # The next writer cuts the torn line off (it was never an acknowledged save), so its own
    # records start on a line of their own and no damage is left behind.
    with corpus.journal("alice", writable=True) as journal:
        assert journal.problems == []
        journal.append(record("s4"))
    journal = corpus.journal("alice")
    assert journal.latest("s4").status == "done" and len(journal) == 4
    assert journal.problems == []
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 5 and lines[4] == b"" and Annotation.model_validate_json(lines[3]).snippet_id == "s4"


def test_a_complete_record_missing_only_its_newline_counts(corpus):
    path = corpus.journal_path("alice")
    path.parent.mkdir()
    path.write_bytes(record("s1").model_dump_json().encode())
    assert corpus.journal("alice").latest("s1") is not None
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s2"))
    journal = corpus.journal("alice")
    assert len(journal) == 2 and journal.problems == []


def test_damaged_and_unknown_lines_are_reported_with_their_line(corpus):
    path = corpus.journal_path("alice")
    path.parent.mkdir()
    good = record("s1").model_dump_json()
    lines = [good, '{"snippet_id": 1 2}', json.dumps({"snippet_id": "s2"}), record("ghost").model_dump_json(), '{"snippet_id": "\xff"}', good]
    path.write_bytes(b"\n".join(line.encode("latin-1") for line in lines) + b"\n")
    journal = corpus.journal("alice")
    reasons = {problem.line: problem.reason for problem in journal.problems}
    assert sorted(reasons) == [2, 3, 4, 5]
    assert reasons[2].startswith("malformed JSON")
    assert reasons[5].startswith("invalid UTF-8")
    assert "stories" in reasons[3] and "annotator" in reasons[3]
    assert reasons[4] == "unknown snippet id 'ghost'"
    assert len(journal) == 1


def test_a_second_process_cannot_open_the_same_journal_for_writing(corpus):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from curate.store import Corpus
            with Corpus.open({str(corpus.path)!r}).journal("alice", writable=True):
                print("locked", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(JournalLocked, match="open for writing in another curate process"):
            corpus.journal("alice", writable=True)
        corpus.journal("bob", writable=True).close()  # other annotators are not affected
        corpus.journal("alice").close()  # and reading is always allowed
        other = run_python(
            """
            import sys
            from curate.store import Corpus, JournalLocked
            try:
                Corpus.open(sys.argv[1]).journal("alice", writable=True)
            except JournalLocked as error:
                print(error)
                sys.exit(3)
            """,
            corpus.path,
        )
        assert other.returncode == 3 and "alice.jsonl is open for writing" in other.stdout
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    with corpus.journal("alice", writable=True) as journal:  # free again once the holder quits
        journal.append(record("s1"))


def test_the_journal_index_follows_appends_from_another_process(corpus, monkeypatch):
    with corpus.journal("alice", writable=True) as journal:
        for key in ("s1", "s2"):
            journal.append(record(key))
    result = run_python(
        """
        import sys
        from curate.model import Annotation
        from curate.store import Corpus
        corpus = Corpus.open(sys.argv[1])
        with corpus.journal("alice", writable=True) as journal:
            for key in ("s2", "s5"):
                journal.append(Annotation(snippet_id=key, annotator="alice", stories=[{"start": 0, "end": len(corpus.snippet_by_id(key).text)}], status="flagged"))
        """,
        corpus.path,
    )
    assert result.returncode == 0, result.stderr
    # Lines appended behind the index's back (a git pull, another tool) are read from the index's end.
    with open(corpus.journal_path("alice"), "ab") as handle:
        handle.write(record("s6", "skipped").model_dump_json().encode() + b"\n")
    scans = []
    real_scan = store.Journal._scan_from
    monkeypatch.setattr(store.Journal, "_scan_from", lambda self, start: scans.append(start) or real_scan(self, start))
    journal = Corpus.open(corpus.path).journal("alice")
    assert scans and scans[0] > 0  # resumed after the indexed part, not from the start
    assert {key: journal.latest(key).status for key in ("s1", "s2", "s5", "s6")} == {"s1": "done", "s2": "flagged", "s5": "flagged", "s6": "skipped"}
    assert journal.line_count == 5


def test_an_index_whose_tail_no_longer_matches_is_not_trusted(corpus):
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s1", "done"))
        journal.append(record("s2", "done"))
    path = corpus.journal_path("alice")
    # Same size, different bytes: a rewrite the size alone would not reveal.
    first, second = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(first + second.replace(b'"done"', b'"xxxx"'))
    journal = corpus.journal("alice")
    assert len(journal.problems) == 1 and journal.latest("s2") is None and journal.latest("s1").status == "done"


def test_a_journal_is_asked_for_statuses_by_name(corpus):
    with corpus.journal("alice", writable=True) as journal:
        for key, status in (("s1", "skipped"), ("s2", None), ("s3", "done"), ("s4", "flagged"), ("s3", "flagged")):
            journal.append(record(key, status))
        assert list(journal.positions_with_status("flagged")) == [3, 4]
        assert list(journal.positions_with_status(None)) == [2]
        assert list(journal.positions_with_status("skipped", None, unrecorded=True)) == [0, 1, 2] + list(range(5, 40))
        mask = journal.status_mask("done", "flagged")
        assert mask.dtype == bool and len(mask) == len(corpus) and list(mask.nonzero()[0]) == [3, 4]
        assert [journal.status_of(position) for position in range(5)] == [None, "skipped", None, "flagged", "flagged"]
        assert journal.counts() == {"done": 0, "skipped": 1, "flagged": 2, "in_progress": 1}
        assert journal.raw_line(3) == journal.record_at(3).model_dump_json().encode() + b"\n"
        with pytest.raises(ValueError, match="unknown status 'later'"):
            journal.status_mask("later")


def test_refresh_reads_new_records_and_survives_compaction_elsewhere(corpus, monkeypatch):
    monkeypatch.setattr(store.Journal, "compact_min_bytes", 0)
    reader = corpus.journal("alice")
    with corpus.journal("alice", writable=True) as writer:
        writer.append(record("s1", "skipped"))
        reader.refresh()
        assert reader.latest("s1").status == "skipped"
        for _ in range(10):
            writer.append(record("s1", "flagged"))
        reader.refresh()
        writer.compact()
        # The reader still reads the file it opened, then moves to the compacted one.
        assert reader.latest("s1").status == "flagged"
        writer.append(record("s2", "done"))
    reader.refresh()
    assert reader.latest("s1").status == "flagged" and reader.latest("s2").status == "done"
    assert reader.line_count == 2


def test_compaction_keeps_the_last_record_per_snippet(corpus):
    with corpus.journal("alice", writable=True) as journal:
        for round_ in range(5):
            for key in ("s1", "s2", "s3"):
                journal.append(record(key, note=f"round {round_}"))
        journal.append(record("s2", "skipped"))
    with open(corpus.journal_path("alice"), "ab") as handle:
        handle.write(b'{"broken\n' + record("ghost").model_dump_json().encode() + b"\n")
    with corpus.journal("alice", writable=True) as journal:
        result = journal.compact()
        assert result["lines_before"] == 18 and result["lines_after"] == 4 and result["lines_dropped"] == 1
    lines = [json.loads(line) for line in corpus.journal_path("alice").read_text().splitlines()]
    assert [(line["snippet_id"], line["note"], line["status"]) for line in lines] == [
        ("s1", "round 4", "done"), ("s2", None, "skipped"), ("s3", "round 4", "done"), ("ghost", None, "done"),
    ]
    journal = corpus.journal("alice")
    assert journal.latest("s2").status == "skipped" and len(journal) == 3


def test_compaction_happens_by_itself_when_a_journal_is_mostly_dead(corpus, monkeypatch):
    monkeypatch.setattr(store.Journal, "compact_min_bytes", 2000)
    with corpus.journal("alice", writable=True) as journal:
        for round_ in range(30):
            journal.append(record("s1", note=f"edit {round_}"))
        assert journal.needs_compaction()
    # Closing compacted it.
    assert len(corpus.journal_path("alice").read_bytes().splitlines()) == 1
    # So does opening for writing, e.g. after another tool appended many lines.
    with open(corpus.journal_path("alice"), "ab") as handle:
        for round_ in range(30):
            handle.write(record("s2", note=f"edit {round_}").model_dump_json().encode() + b"\n")
    with corpus.journal("alice", writable=True) as journal:
        assert len(corpus.journal_path("alice").read_bytes().splitlines()) == 2
        assert journal.latest("s2").note == "edit 29" and journal.latest("s1").note == "edit 29"


def test_a_journal_opened_read_only_refuses_appends(corpus):
    journal = corpus.journal("alice")
    with pytest.raises(StoreError, match="not open for writing"):
        journal.append(record("s1"))
    with corpus.journal("alice", writable=True) as writer:
        with pytest.raises(StoreError, match="not in"):
            writer.append(record("ghost"))


def test_annotator_names_must_be_safe_file_names():
    assert check_annotator_name("alice.b-2") == "alice.b-2"
    for bad in ("../x", "a/b", "", ".hidden", "a b"):
        with pytest.raises(StoreError):
            check_annotator_name(bad)


# ---- gold and atomic writes


def gold(snippet_id, adjudicator="carol"):
    return GoldAnnotation(**record(snippet_id).model_dump(), adjudicator=adjudicator, sources=["alice"])


def test_gold_is_one_record_per_snippet_in_corpus_order_and_merges_writers(corpus):
    first, second = corpus.gold(), Corpus.open(corpus.path).gold()
    first.put(gold("s5"), gold("s1"))
    second.put(gold("s3"))  # must not drop what `first` wrote meanwhile
    first.put(gold("s1", adjudicator="dave"))
    lines = [json.loads(line) for line in (corpus.path / "gold.jsonl").read_text().splitlines()]
    assert [(line["snippet_id"], line["adjudicator"]) for line in lines] == [("s1", "dave"), ("s3", "carol"), ("s5", "carol")]
    first.remove("s3")
    assert sorted(corpus.gold().records) == ["s1", "s5"]
    with pytest.raises(StoreError):
        first.put(gold("ghost"))


def test_gold_with_a_line_it_cannot_read_is_not_rewritten_so_the_line_is_not_dropped(corpus):
    corpus.gold().put(gold("s1"))
    path = corpus.path / "gold.jsonl"
    damaged = b'{"snippet_id": "s2", "stories": [ broken\n'
    path.write_bytes(path.read_bytes() + damaged)
    before = path.read_bytes()
    store_ = Corpus.open(corpus.path).gold()
    with pytest.raises(StoreError, match=r"gold\.jsonl:2: .*repair or remove the line"):
        store_.put(gold("s3"))
    with pytest.raises(StoreError, match=r"gold\.jsonl:2: "):
        store_.remove("s1")
    assert path.read_bytes() == before and damaged in before
    path.write_bytes(before.replace(damaged, b""))  # repaired: accepting works again
    store_.put(gold("s3"))
    assert sorted(Corpus.open(corpus.path).gold().records) == ["s1", "s3"]


def test_a_second_gold_record_of_a_snippet_does_not_stop_a_rewrite(corpus):
    corpus.gold().put(gold("s1"))
    path = corpus.path / "gold.jsonl"
    path.write_bytes(path.read_bytes() + gold("s1", adjudicator="dave").model_dump_json().encode() + b"\n")
    Corpus.open(corpus.path).gold().put(gold("s3"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["snippet_id"], line["adjudicator"]) for line in lines] == [("s1", "dave"), ("s3", "carol")]


def test_an_interrupted_atomic_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_bytes(b"old\n")

    def chunks():
        yield b"new"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, chunks())
    assert path.read_bytes() == b"old\n" and os.listdir(tmp_path) == ["gold.jsonl"]


def test_the_lock_of_a_killed_writer_is_free_again(corpus):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from curate.store import Corpus
            journal = Corpus.open({str(corpus.path)!r}).journal("alice", writable=True)
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(JournalLocked):
        corpus.journal("alice", writable=True)
    holder.kill()  # a crash: the operating system drops the lock with the process
    holder.wait(timeout=30)
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s1"))


def test_a_grown_corpus_keeps_the_journal_index_and_places_waiting_records(corpus, monkeypatch):
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s1"))
    with open(corpus.journal_path("alice"), "ab") as handle:
        handle.write(Annotation(snippet_id="late", annotator="alice", stories=[{"start": 0, "end": 4}], status="flagged").model_dump_json().encode() + b"\n")
    journal = corpus.journal("alice")
    assert [problem.reason for problem in journal.problems] == ["unknown snippet id 'late'"]
    source = corpus.path.parent / "more.jsonl"
    source.write_text(json.dumps({"id": "late", "text": "Late"}) + "\n")
    ingest([source], corpus.path)
    scans = []
    real_scan = store.Journal._scan_from
    monkeypatch.setattr(store.Journal, "_scan_from", lambda self, start: scans.append(start) or real_scan(self, start))
    grown = Corpus.open(corpus.path)
    journal = grown.journal("alice")
    assert scans and scans[0] > 0  # the index was kept, not rebuilt
    assert journal.problems == [] and journal.latest("late").status == "flagged" and journal.latest("s1").status == "done"
    assert journal.counts() == {"done": 1, "skipped": 0, "flagged": 1, "in_progress": 0}


def test_append_many_writes_a_batch_with_one_fsync(corpus, monkeypatch):
    synced = []
    real_fsync = os.fsync
    with corpus.journal("model", writable=True) as journal:
        journal.append(record("s0", None, annotator="model:x"))  # makes the file
        monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
        assert journal.append_many(record(key, None, annotator="model:x") for key in ("s1", "s2", "s3")) == 3
        assert journal.append_many([]) == 0
        assert len(synced) == 1
        monkeypatch.undo()
    journal = corpus.journal("model")
    assert [item.snippet_id for item in journal.records()] == ["s0", "s1", "s2", "s3"]
    assert journal.counts()["in_progress"] == 4


# ---- failed appends (a full disk, a failing disk)


def failing_write(kind):
    """An os.write that fails the way `kind` says, once; the real os.write otherwise."""
    real_write = os.write
    state = {"calls": 0}

    def write(fd, data):
        state["calls"] += 1
        if state["calls"] == 1 and kind == "short":
            return real_write(fd, bytes(data[: len(data) // 2]))  # part written, then the disk is full
        if state["calls"] <= 2 and kind in ("short", "ENOSPC", "EDQUOT", "EIO"):
            number = {"short": errno.ENOSPC}.get(kind) or getattr(errno, kind)
            raise OSError(number, os.strerror(number))
        return real_write(fd, data)

    return write


@pytest.mark.parametrize("kind", ["short", "ENOSPC", "EDQUOT", "EIO", "fsync"])
def test_a_failed_append_is_cut_back_and_the_next_save_reads_back(corpus, monkeypatch, kind):
    path = corpus.journal_path("alice")
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s1"))
        before = path.read_bytes()
        with monkeypatch.context() as patch:
            if kind == "fsync":
                patch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error")))
            else:
                patch.setattr(os, "write", failing_write(kind))
            with pytest.raises(store.SaveFailed) as failure:
                journal.append(record("s2", note="the edit"))
        assert isinstance(failure.value, StoreError) and isinstance(failure.value, OSError)
        reason = {"short": "no space left on device", "ENOSPC": "no space left on device", "EDQUOT": "disk quota exceeded"}.get(kind, "input/output error (the disk may be failing)")
        assert str(failure.value).startswith(f"{reason}: annotations/alice.jsonl not saved")
        assert path.read_bytes() == before  # nothing half-written
        assert journal.latest("s2") is None and len(journal) == 1 and journal.index.size == len(before)
        journal.append(record("s2", note="the edit"))  # the next save writes the whole record
        journal.append(record("s3"))
    reopened = Corpus.open(corpus.path)
    journal = reopened.journal("alice")
    assert journal.latest("s2").note == "the edit" and len(journal) == 3 and journal.problems == []
    from curate.stats import corpus_stats

    stats = corpus_stats(reopened)
    assert [(item.name, item.done, item.problems) for item in stats.annotators] == [("alice", 3, [])]


def test_when_even_the_truncate_fails_the_next_append_cuts_the_torn_bytes_first(corpus, monkeypatch):
    path = corpus.journal_path("alice")
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s1"))
        before = path.read_bytes()
        with monkeypatch.context() as patch:
            patch.setattr(os, "write", failing_write("short"))
            patch.setattr(os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error")))
            with pytest.raises(store.SaveFailed):
                journal.append(record("s2"))
        assert path.read_bytes() != before  # the torn bytes are still there ...
        assert journal.index.size == len(before)  # ... but the journal's state does not count them
        journal.append(record("s2"))
    assert Corpus.open(corpus.path).journal("alice").problems == []
    lines = path.read_bytes().splitlines()
    assert [Annotation.model_validate_json(line).snippet_id for line in lines] == ["s1", "s2"]


def test_torn_bytes_left_by_a_failed_truncate_are_cut_on_close_or_by_the_next_writer(corpus, monkeypatch):
    path = corpus.journal_path("alice")
    journal = corpus.journal("alice", writable=True)
    journal.append(record("s1"))
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", failing_write("short"))
        patch.setattr(os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error")))
        with pytest.raises(store.SaveFailed):
            journal.append(record("s2"))
    journal.close()  # close tries the truncate again
    assert len(path.read_bytes().splitlines()) == 1 and path.read_bytes().endswith(b"\n")
    # A process that died before it could cut them: the next writable open does.
    whole = record("s3").model_dump_json().encode()
    with open(path, "ab") as handle:
        handle.write(whole[:40])
    assert [problem.torn for problem in Corpus.open(corpus.path).journal("alice").problems] == [True]
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s3"))
    journal = Corpus.open(corpus.path).journal("alice")
    assert journal.problems == [] and len(journal) == 2


# ---- an index that no longer matches its journal


def spoil_index(corpus, key, shift):
    """Save an index whose offset for `key` points `shift` bytes off its record (as older
    versions could after a torn append), with the size and tail check still matching."""
    with corpus.journal("alice") as journal:
        position = corpus.position(key)
        journal.index.offsets = journal.index.offsets.copy()
        journal.index.offsets[position] += shift
        journal.save_index()


def test_a_record_the_index_misplaces_is_found_by_rebuilding_the_index(corpus):
    with corpus.journal("alice", writable=True) as journal:
        for key in ("s1", "s2", "s3"):
            journal.append(record(key, note=key))
    spoil_index(corpus, "s2", 7)
    journal = Corpus.open(corpus.path).journal("alice")
    assert journal.latest("s2").note == "s2"  # no ValidationError: the index was rebuilt
    assert Corpus.open(corpus.path).journal("alice").latest("s2").note == "s2"  # and saved again
    spoil_index(corpus, "s1", -3 + len(record("s1", note="s1").model_dump_json()) + 1)  # s1 -> inside s2's line
    journal = Corpus.open(corpus.path).journal("alice")
    assert [(position, item.note) for position, item in journal.items()] == [(1, "s1"), (2, "s2"), (3, "s3")]


def test_stats_and_compaction_on_a_journal_whose_index_misplaces_records(corpus):
    from curate.stats import corpus_stats

    with corpus.journal("alice", writable=True) as journal:
        for note in ("a", "b"):
            for key in ("s1", "s2", "s3"):
                journal.append(record(key, note=note))
    spoil_index(corpus, "s3", 11)
    stats = corpus_stats(Corpus.open(corpus.path))
    assert [(item.name, item.done, item.problems) for item in stats.annotators] == [("alice", 3, [])]
    spoil_index(corpus, "s2", -20)
    with Corpus.open(corpus.path).journal("alice", writable=True) as journal:
        journal.compact()  # copies whole records only, never a line cut at a wrong offset
    lines = corpus.journal_path("alice").read_bytes().splitlines()
    assert [(json.loads(line)["snippet_id"], json.loads(line)["note"]) for line in lines] == [("s1", "b"), ("s2", "b"), ("s3", "b")]


# ---- no journal before a real save


def test_opening_a_journal_for_writing_makes_no_file_until_the_first_append(corpus):
    with corpus.journal("x", writable=True) as journal:
        assert len(journal) == 0 and journal.compact()["lines_after"] == 0
        with pytest.raises(StoreError, match="not in"):
            journal.append(record("ghost"))  # a refused record makes no file either
    assert not corpus.journal_path("x").exists() and corpus.annotators() == []
    with corpus.journal("x", writable=True) as journal:
        journal.append(record("s1"))
    assert corpus.annotators() == ["x"] and corpus.journal("x").latest("s1") is not None


def test_an_empty_journal_left_by_older_versions_is_nobodys(corpus):
    from curate.stats import corpus_stats

    corpus.annotations_dir.mkdir()
    corpus.journal_path("x").write_bytes(b"")
    with corpus.journal("ana", writable=True) as journal:
        journal.append(record("s1", annotator="ana"))
    assert corpus.annotators() == ["ana"]
    assert [item.name for item in corpus_stats(corpus).annotators] == ["ana"]


def test_annotate_with_an_unknown_start_leaves_no_journal(corpus):
    from typer.testing import CliRunner

    from curate.cli import app

    result = CliRunner().invoke(app, ["annotate", str(corpus.path), "--annotator", "x", "--start", "demo-999"])
    assert result.exit_code != 0
    assert not corpus.journal_path("x").exists() and corpus.annotators() == []


# ---- failed rewrites and the temporary files of killed ones


def fail_once(name, error_number):
    """Replace os.NAME by a function that raises OSError(error_number) on its first call."""
    real = getattr(os, name)
    calls = []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OSError(error_number, os.strerror(error_number))
        return real(*args, **kwargs)

    return failing


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_a_failed_gold_rewrite_leaves_gold_and_the_records_as_they_were(corpus, monkeypatch, where):
    gold_store = corpus.gold()
    gold_store.put(gold("s1"))
    before = (corpus.path / "gold.jsonl").read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(os, where, fail_once(where, errno.ENOSPC))
        with pytest.raises(store.SaveFailed, match="^no space left on device: gold.jsonl not saved"):
            gold_store.put(gold("s2"), gold("s1", adjudicator="dave"))
    assert (corpus.path / "gold.jsonl").read_bytes() == before
    assert sorted(gold_store.records) == ["s1"] and gold_store.get("s1").adjudicator == "carol" and "s2" not in gold_store
    assert not [name for name in os.listdir(corpus.path) if name.endswith(".tmp")]
    gold_store.put(gold("s2"))
    assert sorted(Corpus.open(corpus.path).gold().records) == ["s1", "s2"]


def test_gold_writes_remove_temporary_files_killed_writers_left_and_nothing_else(corpus):
    old = 1_000_000_000  # 2001
    leftovers = [".gold.jsonl.ab_12xyz.tmp", ".gold.jsonl.k2j3h4g5.tmp"]
    kept = [".gold.jsonl.short.tmp", ".gold.jsonl.k2j3h4g5.tmp.bak", "gold.jsonl.k2j3h4g5.tmp", ".other.jsonl.k2j3h4g5.tmp", "notes.tmp"]
    for name in leftovers + kept:
        (corpus.path / name).write_bytes(b"x")
        os.utime(corpus.path / name, (old, old))
    fresh = corpus.path / ".gold.jsonl.zzzzzzzz.tmp"  # newer than this write: another writer's, left alone
    fresh.write_bytes(b"x")
    os.utime(fresh, (4_000_000_000, 4_000_000_000))
    corpus.gold().put(gold("s1"))
    names = set(os.listdir(corpus.path))
    assert not names & set(leftovers) and set(kept) <= names and fresh.name in names


def test_a_writable_open_removes_temporary_files_of_a_killed_compaction(corpus):
    with corpus.journal("alice", writable=True) as journal:
        journal.append(record("s1"))
    stale = corpus.annotations_dir / ".alice.jsonl.q1w2e3r4.tmp"
    other = corpus.annotations_dir / ".bob.jsonl.q1w2e3r4.tmp"
    for path in (stale, other):
        path.write_bytes(b"half a compaction")
        os.utime(path, (1_000_000_000, 1_000_000_000))
    corpus.journal("alice").close()  # reading removes nothing
    assert stale.exists()
    corpus.journal("alice", writable=True).close()
    assert not stale.exists() and other.exists()  # bob's is bob's writer's business
    assert corpus.annotators() == ["alice"]


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_a_failed_compaction_leaves_the_journal_as_it_was(corpus, monkeypatch, where):
    with corpus.journal("alice", writable=True) as journal:
        for round_ in range(5):
            journal.append(record("s1", note=f"round {round_}"))
        before = corpus.journal_path("alice").read_bytes()
        with monkeypatch.context() as patch:
            patch.setattr(os, where, fail_once(where, errno.EIO))
            with pytest.raises(store.SaveFailed, match="annotations/alice.jsonl not compacted"):
                journal.compact()
        assert corpus.journal_path("alice").read_bytes() == before
        assert not [name for name in os.listdir(corpus.annotations_dir) if name.endswith(".tmp")]
        journal.append(record("s2"))  # the journal still works
        assert journal.compact()["lines_after"] == 2
    journal = Corpus.open(corpus.path).journal("alice")
    assert journal.latest("s1").note == "round 4" and journal.latest("s2") is not None and journal.problems == []


def test_a_failed_suggestion_batch_writes_none_of_it(corpus, monkeypatch):
    with corpus.suggestions(writable=True) as journal:
        journal.append_many([record("s1", None, annotator="model:x")])
        before = corpus.suggestions_path.read_bytes()
        with monkeypatch.context() as patch:
            patch.setattr(os, "write", failing_write("short"))
            with pytest.raises(store.SaveFailed, match="suggestions.jsonl not saved"):
                journal.append_many(record(key, None, annotator="model:x") for key in ("s2", "s3", "s4"))
        assert corpus.suggestions_path.read_bytes() == before and len(journal) == 1
        assert journal.append_many(record(key, None, annotator="model:x") for key in ("s2", "s3", "s4")) == 3
    assert len(Corpus.open(corpus.path).suggestions()) == 4


# ---- a read-only corpus


def test_a_read_only_corpus_refuses_writers_with_a_clear_message(tmp_path):
    # A real read-only folder: root ignores permissions, so as root the check runs as nobody.
    folder = tempfile.mkdtemp(dir="/tmp", prefix="curate-ro-")
    try:
        os.chmod(folder, 0o755)
        source = tmp_path / "in.jsonl"
        source.write_text(json.dumps({"id": "s1", "text": "Some text.", "meta": {}}) + "\n")
        corpus_path = Path(folder) / "c"
        ingest([source], corpus_path)
        Corpus.open(corpus_path).close()
        for path in [corpus_path, *corpus_path.rglob("*")]:
            os.chmod(path, 0o555 if path.is_dir() else 0o444)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        code = """
            import sys
            from curate.model import GoldAnnotation
            from curate.store import Corpus, StoreError
            corpus = Corpus.open(sys.argv[1])
            for open_one in (lambda: corpus.journal("x", writable=True), lambda: corpus.suggestions(writable=True)):
                try:
                    open_one()
                except StoreError as error:
                    print(error)
            try:
                corpus.gold().put(GoldAnnotation(snippet_id="s1", annotator="c", adjudicator="c", sources=["a"], status="done", stories=[{"start": 0, "end": 10}]))
            except StoreError as error:
                print(error)
        """
        result = subprocess.run([*as_nobody, sys.executable, "-c", textwrap.dedent(code), str(corpus_path)], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert result.stdout.splitlines() == [
            f"{corpus_path} is read-only: cannot save annotations/x.jsonl there",
            f"{corpus_path} is read-only: cannot save suggestions.jsonl there",
            f"{corpus_path} is read-only: cannot save gold there",
        ]
    finally:
        for path in Path(folder).rglob("*"):
            os.chmod(path, 0o755)
        shutil.rmtree(folder)
