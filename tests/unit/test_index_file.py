"""The journal index file (version 8: a header, the arrays' bytes and a CRC-32, named
KEY.index, issue 19): what is saved reads back as it was, any damaged, cut, lengthened or
older file is refused and rebuilt, and a save that fails (a full disk) leaves the journal
readable and no temporary file behind."""

import json
import zlib

import numpy as np
import pytest
from disk_faults import FullDisk
from index_journals import TEXTS, journal_lines, line, make_corpus, state, write_journal

from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout
from curate.store.index import JournalIndex
from curate.store.journalfile import JournalFile


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)


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
        return JournalIndex.load(index_path(corpus), len(corpus), file.read_size(), file.tail_hash, corpus.index.order_digest)
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


def with_crc(saved: bytes) -> bytes:
    """`saved` (its last 4 bytes a CRC-32 of the rest) with that CRC made right again, so a
    change in it is refused for what it is, not for the CRC."""
    return saved[:-4] + zlib.crc32(saved[:-4]).to_bytes(4, "little")


def with_meta(saved: bytes, **changes) -> bytes:
    """`saved` with its header's meta changed (and its length prefix and CRC made right)."""
    head = int.from_bytes(saved[21:29], "little")
    meta = json.loads(saved[29 : 29 + head]) | changes
    new = json.dumps(meta).encode()
    return with_crc(saved[:21] + len(new).to_bytes(8, "little") + new + saved[29 + head :])


def with_head(saved: bytes, head: bytes) -> bytes:
    """`saved` with another header (its length prefix made right, the CRC left as it was)."""
    return saved[:21] + len(head).to_bytes(8, "little") + head + saved[29 + int.from_bytes(saved[21:29], "little") :]


def damaged_copies(saved: bytes) -> dict[str, bytes]:
    head = int.from_bytes(saved[21:29], "little")
    middle = 29 + head + (len(saved) - 33 - head) // 2
    copies = {
        "cut by a byte": saved[:-1],
        "a byte longer": saved + b"\0",
        "empty": b"",
        "only the start": saved[:25],
        "a header length past the end": saved[:21] + (1 << 40).to_bytes(8, "little") + saved[29:],
        "a header that is not JSON": saved[:29] + b"{" * head + saved[29 + head :],
        "another version": with_crc(saved.replace(b'"version": 8', b'"version": 7', 1)),
        "not an index": b"PK\x03\x04" + saved[4:],
        "arrays renamed": with_crc(saved.replace(b'"seconds"', b'"secondz"', 1)),
        # Same sizes, other types: the bytes would be read as something else.
        "offsets as floats": with_crc(saved.replace(b'["offsets", "<i8"]', b'["offsets", "<f8"]', 1)),
        "offsets big-endian": with_crc(saved.replace(b'["offsets", "<i8"]', b'["offsets", ">i8"]', 1)),
        "status as booleans": with_crc(saved.replace(b'["status", "|i1"]', b'["status", "|b1"]', 1)),
        "lines not a number": with_meta(saved, lines="12"),
        "live bytes a float": with_meta(saved, live_bytes=1.5),
        "checked not a boolean": with_meta(saved, checked="no"),
        "facts not a boolean": with_meta(saved, facts=1),
        # Damage only the CRC sees: a header and arrays that read as well-formed, with other numbers.
        "a flipped bit in the arrays": saved[:middle] + bytes([saved[middle] ^ 4]) + saved[middle + 1 :],
        "a header number changed": with_head(saved, saved[29 : 29 + head].replace(b'"live_bytes": ', b'"live_bytes": 1', 1)),
        "the CRC changed": saved[:-1] + bytes([saved[-1] ^ 1]),
    }
    assert list(copies) == DAMAGES and all(copy != saved for copy in copies.values())
    return copies


DAMAGES = ["cut by a byte", "a byte longer", "empty", "only the start", "a header length past the end", "a header that is not JSON", "another version", "not an index", "arrays renamed",
           "offsets as floats", "offsets big-endian", "status as booleans", "lines not a number", "live bytes a float", "checked not a boolean", "facts not a boolean",
           "a flipped bit in the arrays", "a header number changed", "the CRC changed"]


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
        loaded = JournalIndex.load(path, len(corpus), file.read_size(), file.tail_hash, corpus.index.order_digest)
        tail = file.tail_hash(loaded.size)
        writers = []
        for seconds in (1.0, 2.0):  # two versions that differ, so each is seen
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    loaded.seconds[:] = seconds
                    for _ in range(60):
                        loaded.save(path, tail, corpus.index.order_digest())
                    status = 0
                finally:
                    os._exit(status)
            writers.append(pid)
        running, statuses, seen = set(writers), [], set()
        while running:
            read = JournalIndex.load(path, len(corpus), file.read_size(), file.tail_hash, corpus.index.order_digest)
            assert read is not None and read.offsets.tolist() == loaded.offsets.tolist()
            seen.add(float(read.seconds[0]))
            for pid in list(running):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    running.discard(pid)
                    statuses.append(os.waitstatus_to_exitcode(status))
        assert statuses == [0, 0] and seen <= {0.0, 1.0, 2.0}
        assert JournalIndex.load(path, len(corpus), file.read_size(), file.tail_hash, corpus.index.order_digest) is not None
    finally:
        file.close()
    assert [item.name for item in path.parent.iterdir() if item.name.endswith(".tmp")] == []


def test_damage_that_leaves_the_file_well_formed_is_refused_by_the_crc_alone(corpus, monkeypatch):
    """A flipped bit in the arrays or a changed number in the header reads as a whole index of
    other numbers; only the CRC tells: with it left out of the check, the damage is taken in."""
    write_journal(corpus, journal_lines())
    opened_state(corpus)
    path = index_path(corpus)
    saved = path.read_bytes()
    for damage in ("a flipped bit in the arrays", "a header number changed"):
        path.write_bytes(damaged_copies(saved)[damage])
        assert saved_index(corpus) is None
        path.write_bytes(with_crc(damaged_copies(saved)[damage]))
        taken = saved_index(corpus)
        assert taken is not None  # the CRC was all that stood in its way


def test_the_index_is_named_for_what_it_is_and_an_older_npz_is_ignored_and_removed(corpus):
    write_journal(corpus, journal_lines())
    expected = opened_state(corpus)
    path = index_path(corpus)
    assert path.name == "annotations__ana.jsonl.index" and path.exists()
    older = path.with_name(path.name + ".npz")  # the name before version 8, holding anything
    older.write_bytes(b"PK\x03\x04 an index of an older version")
    path.unlink()
    assert opened_state(corpus) == expected  # rebuilt from the journal, the old file unread ...
    assert path.exists() and not older.exists()  # ... and removed when the new one was saved


def test_a_journal_index_of_snippets_since_rewritten_in_another_order_is_rebuilt(corpus):
    """snippets.jsonl rewritten with the same lines in another order (same size, same count):
    the saved journal index's positions are of the old order, so it is refused and rebuilt."""
    write_journal(corpus, journal_lines())
    before = opened_state(corpus)
    snippets = CorpusLayout(corpus.path).snippets
    lines = snippets.read_bytes().splitlines(keepends=True)
    moved = snippets.with_name("moved.jsonl")
    moved.write_bytes(b"".join(lines[::-1]))
    moved.replace(snippets)
    with Corpus.open(corpus.path) as opened, opened.journal("ana") as journal:
        statuses = {opened.snippet_id(position): journal.status_of(position) for position in journal.positions()}
        after = state(journal)
    assert statuses == {opened_key: status for opened_key, status in zip(TEXTS, before[0]["statuses"]) if status != "-"}
    assert after["statuses"] == before[0]["statuses"][::-1]


def test_snippets_appended_after_the_index_was_saved_keep_it(corpus, tmp_path, monkeypatch):
    """Ingest appends snippets: the order of those the index was saved for is unchanged, so
    the saved index is taken (and widened), not rebuilt."""
    write_journal(corpus, journal_lines())
    before = opened_state(corpus)
    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"id": "ghost", "text": "a late story", "meta": {}}) + "\n")
    ingest([extra], corpus.path)
    import curate.store.scan as scan

    monkeypatch.setattr(scan.LineScanner, "take_line", lambda *args: pytest.fail("a journal line was read"))
    monkeypatch.setattr(scan.LineScanner, "take_block", lambda *args: pytest.fail("a journal line was read"))
    with Corpus.open(corpus.path) as opened, opened.journal("ana") as journal:
        assert len(journal.index) == len(TEXTS) + 1 and journal.status_of(len(TEXTS)) == "skipped"  # the waiting "ghost" record placed
        assert state(journal)["statuses"][: len(TEXTS)] == before[0]["statuses"][: len(TEXTS)]
