"""The streamed journal merge (curate.store.merge.merge_journal_chunks) gives byte for byte what
the in-memory merge `curate sync` used before it gave, whatever the sides hold: torn or whole
last lines without a newline, doubled lines, CRLF line ends, lines only in base, compacted
sides, sides given as files, and lines cut across the reader's chunks."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from curate.store import journal_lines, merge_journal, merge_journal_chunks
from curate.store import merge as merge_module

# ---- the in-memory merge as it was before streaming (the reference the streamed one must match)


def reference_interleave(first: list[bytes], second: list[bytes]) -> list[bytes]:
    keys_first = [(merge_module._saved_at(line), line) for line in first]
    keys_second = [(merge_module._saved_at(line), line) for line in second]
    merged: list[bytes] = []
    i = j = 0
    while i < len(first) and j < len(second):
        if keys_second[j] < keys_first[i]:
            merged.append(second[j])
            j += 1
        else:
            merged.append(first[i])
            i += 1
    return merged + first[i:] + second[j:]


def reference_last_of_each(lines: list[bytes]) -> list[bytes]:
    last = {line: index for index, line in enumerate(lines)}
    return [line for index, line in enumerate(lines) if last[line] == index]


def reference_merge(base: bytes | None, ours: bytes | None, theirs: bytes | None) -> bytes:
    base_set = set(journal_lines(base))
    our_lines = journal_lines(ours)
    kept = [line for line in our_lines if line in base_set]
    our_new = reference_last_of_each([line for line in our_lines if line not in base_set])
    ours_set = set(our_lines)
    their_new = reference_last_of_each([line for line in journal_lines(theirs) if line not in base_set and line not in ours_set])
    return b"".join(kept + reference_interleave(our_new, their_new))


# ---- generated journals


def record(snippet: str, second: int, note: str) -> bytes:
    value = {"snippet_id": snippet, "annotator": "ana", "status": "done", "note": note or None, "updated_at": f"2026-12-07T10:{second // 60:02d}:{second % 60:02d}Z"}
    return json.dumps(value, separators=(",", ":")).encode()


one_line = st.builds(record, st.sampled_from("abc"), st.integers(0, 90), st.sampled_from(["", "x", "y"]))
ending = st.sampled_from([b"\n", b"\r\n"])
line_list = st.lists(st.tuples(one_line, ending).map(lambda pair: pair[0] + pair[1]), max_size=7)
# What a side ends with after its whole lines: nothing, a torn append, a whole record without its
# newline (kept), a blank line, or a line that is not JSON.
tail = st.sampled_from([b"", b'{"snippet_id":"a","upd', b"", b"\n", b"not json\n", record("c", 99, "tail")])


@st.composite
def three_sides(draw):
    base_lines = draw(line_list)
    base = b"".join(base_lines) + draw(tail)

    def side() -> bytes | None:
        how = draw(st.sampled_from(["appended", "appended", "compacted", "own", "missing"]))
        if how == "missing":
            return None
        if how == "appended":
            start = base
        elif how == "compacted":
            start = b"".join(draw(st.permutations(base_lines))[: draw(st.integers(0, len(base_lines)))])
        else:
            start = b""
        extra = draw(line_list)
        doubled = draw(st.lists(st.sampled_from(base_lines or [b"\n"]), max_size=2))  # a base line appended again
        return start + b"".join(extra + doubled) + draw(tail)

    return (None if draw(st.booleans()) and not base else base), side(), side()


@settings(max_examples=400, deadline=None)
@given(sides=three_sides(), chunk=st.sampled_from([1, 7, 64, 1 << 20]))
def test_the_streamed_merge_is_the_in_memory_merge_byte_for_byte(sides, chunk):
    with chunk_size(chunk):  # lines cut across the reader's chunks, down to one byte a read
        assert merge_journal(*sides) == reference_merge(*sides)
        assert merge_journal(sides[0], sides[2], sides[1]) == reference_merge(sides[0], sides[2], sides[1])


@settings(max_examples=60, deadline=None)
@given(sides=three_sides())
def test_sides_read_from_files_merge_as_their_bytes_do(sides, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sides")
    paths = []
    for name, data in zip(("base", "ours", "theirs"), sides):
        if data is None:
            paths.append(None)
            continue
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    assert b"".join(merge_journal_chunks(*paths)) == reference_merge(*sides)


@contextmanager
def chunk_size(size: int):
    saved = merge_module._CHUNK
    merge_module._CHUNK = size
    try:
        yield
    finally:
        merge_module._CHUNK = saved


def test_an_appending_side_is_not_held_in_memory_line_by_line(monkeypatch):
    """Only the lines after base's end are split into lines: the rest is copied in chunks."""
    base = b"".join(record("a", n % 60, "") + b"\n" for n in range(500))
    ours = base + record("b", 70, "ours") + b"\n"
    theirs = base + record("c", 80, "theirs") + b"\n"
    split: list[int] = []
    real = merge_module._side_lines

    def counting(side, start=0):
        for line in real(side, start):
            split.append(start)
            yield line

    monkeypatch.setattr(merge_module, "_side_lines", counting)
    assert merge_journal(base, ours, theirs) == reference_merge(base, ours, theirs)
    # base itself is read once line by line (to find held lines in it); each side only past base,
    # twice (its lines' digests, then the new lines written)
    assert split.count(0) == 500
    assert split.count(len(base)) == 2 + 2


def test_a_compacted_side_is_not_held_in_memory():
    """A side a compaction rewrote (it does not start with base's bytes) is known by 16-byte line
    digests, not held: the merge's peak allocation stays far under that side's size."""
    import tracemalloc

    padding = "p" * 400  # journal records are a few hundred bytes: a held line costs them all

    def long_record(snippet: int, second: int) -> bytes:
        return record(f"s{snippet}", second, padding) + b"\n"

    base = b"".join(long_record(n, n % 3600) for n in range(80_000))
    ours = b"".join(long_record(n, n % 3600) for n in range(0, 80_000, 2)) + long_record(1, 3601)  # compacted, then one save
    theirs = base + long_record(2, 3602)
    expected = reference_merge(base, ours, theirs)
    tracemalloc.start()
    try:
        with chunk_size(1 << 16):  # reads of 64 KB: what is left is what grows with the side
            size = 0
            digest = hashlib.sha256()
            for chunk in merge_journal_chunks(base, ours, theirs):
                size += len(chunk)
                digest.update(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (size, digest.digest()) == (len(expected), hashlib.sha256(expected).digest())
    assert peak < len(ours) / 5, f"peak {peak / 1e6:.1f} MB for a {len(ours) / 1e6:.1f} MB compacted side"
