"""The journal index file (version 7: a header and the arrays' bytes, issue 19): what is saved
reads back as it was, any damaged, cut, lengthened or older file is refused and rebuilt, and a
save that fails (a full disk) leaves the journal readable and no temporary file behind."""

import json

import numpy as np
import pytest
from disk_faults import FullDisk
from index_journals import TEXTS, journal_lines, line, state, write_journal

from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout
from curate.store.index import JournalIndex
from curate.store.journalfile import JournalFile


@pytest.fixture
def corpus(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text, "meta": {}}) + "\n" for key, text in TEXTS.items()))
    ingest([source], tmp_path / "c")
    return Corpus.open(tmp_path / "c")


def opened_state(corpus):
    with Corpus.open(corpus.path) as opened, opened.journal("ana") as journal:
        return state(journal), journal.index.checked, journal.line_count


def index_path(corpus):
    return CorpusLayout(corpus.path).journal_index(corpus.journal_path("ana"))


def saved_index(corpus):
    """The saved index as a journal opening now would take it (None: refused), without opening one."""
    file = JournalFile(corpus.journal_path("ana"), "ana")
    file.open_reader()
    try:
        return JournalIndex.load(index_path(corpus), len(corpus), file.read_size(), file.tail_hash)
    finally:
        file.close()


def test_a_saved_index_reads_back_as_it_was_without_reading_the_journal(corpus, monkeypatch):
    write_journal(corpus, journal_lines(), tail=line("s11").encode()[:30])
    built = opened_state(corpus)  # built and saved
    saved = index_path(corpus).read_bytes()
    assert saved.startswith(b"curate journal index\n")
    import curate.store.scan as scan

    monkeypatch.setattr(scan.LineScanner, "take_line", lambda *args: pytest.fail("a journal line was read"))
    monkeypatch.setattr(scan.LineScanner, "take_block", lambda *args: pytest.fail("a journal line was read"))
    assert opened_state(corpus) == built
    with Corpus.open(corpus.path) as opened, opened.journal("ana") as journal:
        index = journal.index
        assert index.status.flags.writeable and index.offsets.dtype == np.int64 and index.digests.dtype == np.uint64
        index.set(0, 5, 6, "done", 7, None)  # the loaded arrays are this process's to change


def with_meta(saved: bytes, **changes) -> bytes:
    """`saved` with its header's meta changed (and its length prefix made right)."""
    head = int.from_bytes(saved[21:29], "little")
    meta = json.loads(saved[29 : 29 + head]) | changes
    new = json.dumps(meta).encode()
    return saved[:21] + len(new).to_bytes(8, "little") + new + saved[29 + head :]


def damaged_copies(saved: bytes) -> dict[str, bytes]:
    head = int.from_bytes(saved[21:29], "little")
    copies = {
        "cut by a byte": saved[:-1],
        "a byte longer": saved + b"\0",
        "empty": b"",
        "only the start": saved[:25],
        "a header length past the end": saved[:21] + (1 << 40).to_bytes(8, "little") + saved[29:],
        "a header that is not JSON": saved[:29] + b"{" * head + saved[29 + head :],
        "another version": saved.replace(b'"version": 7', b'"version": 6', 1),
        "not an index": b"PK\x03\x04" + saved[4:],
        "arrays renamed": saved.replace(b'"seconds"', b'"secondz"', 1),
        # Same sizes, other types: the bytes would be read as something else.
        "offsets as floats": saved.replace(b'["offsets", "<i8"]', b'["offsets", "<f8"]', 1),
        "offsets big-endian": saved.replace(b'["offsets", "<i8"]', b'["offsets", ">i8"]', 1),
        "status as booleans": saved.replace(b'["status", "|i1"]', b'["status", "|b1"]', 1),
        "lines not a number": with_meta(saved, lines="12"),
        "live bytes a float": with_meta(saved, live_bytes=1.5),
        "checked not a boolean": with_meta(saved, checked="no"),
    }
    assert list(copies) == DAMAGES and all(copy != saved for copy in copies.values())
    return copies


DAMAGES = ["cut by a byte", "a byte longer", "empty", "only the start", "a header length past the end", "a header that is not JSON", "another version", "not an index", "arrays renamed",
           "offsets as floats", "offsets big-endian", "status as booleans", "lines not a number", "live bytes a float", "checked not a boolean"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_index_file_is_refused_and_rebuilt(corpus, damage):
    write_journal(corpus, journal_lines())
    expected = opened_state(corpus)
    path = index_path(corpus)
    damaged = damaged_copies(path.read_bytes())[damage]
    assert saved_index(corpus) is not None
    path.write_bytes(damaged)
    assert saved_index(corpus) is None
    assert opened_state(corpus) == expected  # rebuilt from the journal ...
    assert saved_index(corpus) is not None  # ... and saved whole again


def test_an_index_save_on_a_full_disk_leaves_the_journal_readable_and_no_temporary_file(corpus, monkeypatch):
    write_journal(corpus, journal_lines())
    expected = opened_state(corpus)
    path = index_path(corpus)
    before = path.read_bytes()
    path.unlink()
    with monkeypatch.context() as patch:
        FullDisk(path.parent, patch)
        assert opened_state(corpus) == expected  # the index could not be saved: read from the journal
        assert not path.exists()
    write_journal(corpus, journal_lines() + [line("s1", "skipped")])
    path.write_bytes(before)  # an index behind the journal: read from it, then the new line
    with monkeypatch.context() as patch:
        FullDisk(path.parent, patch)
        changed = opened_state(corpus)
        assert changed[0]["statuses"][1] == "skipped" and path.read_bytes() == before
    assert [item.name for item in path.parent.iterdir() if item.name.endswith(".tmp")] == []
    assert opened_state(corpus) == changed


def test_two_processes_saving_the_same_index_at_once_never_leave_a_torn_file(corpus):
    """Two curate processes indexing one journal at once: each save is whole (temp file and
    rename), so a reader at any moment finds a whole index, one or the other."""
    import os

    write_journal(corpus, journal_lines())
    opened_state(corpus)
    path = index_path(corpus)
    file = JournalFile(corpus.journal_path("ana"), "ana")
    file.open_reader()
    try:
        loaded = JournalIndex.load(path, len(corpus), file.read_size(), file.tail_hash)
        tail = file.tail_hash(loaded.size)
        writers = []
        for seconds in (1.0, 2.0):  # two versions that differ, so each is seen
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    loaded.seconds[:] = seconds
                    for _ in range(60):
                        loaded.save(path, tail)
                    status = 0
                finally:
                    os._exit(status)
            writers.append(pid)
        running, statuses, seen = set(writers), [], set()
        while running:
            read = JournalIndex.load(path, len(corpus), file.read_size(), file.tail_hash)
            assert read is not None and read.offsets.tolist() == loaded.offsets.tolist()
            seen.add(float(read.seconds[0]))
            for pid in list(running):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    running.discard(pid)
                    statuses.append(os.waitstatus_to_exitcode(status))
        assert statuses == [0, 0] and seen <= {0.0, 1.0, 2.0}
        assert JournalIndex.load(path, len(corpus), file.read_size(), file.tail_hash) is not None
    finally:
        file.close()
    assert [item.name for item in path.parent.iterdir() if item.name.endswith(".tmp")] == []
