"""The streamed gold merge (curate.store.merge.merge_gold_chunks) gives byte for byte what the
in-memory merge it replaced gave (kept below as reference_merge_gold), or refuses with the same message, whatever the sides hold."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.store import MergeRefused, merge_gold, merge_gold_chunks
from curate.store import merge as merge_module


# The in-memory merge the streamed one replaced, kept as the reference it must equal.
def _gold_records(data: bytes | None, name: str, side: str) -> dict[str, tuple[bytes, str]]:
    """snippet_id -> (line, updated_at) of one version of gold.jsonl, in file order."""
    records: dict[str, tuple[bytes, str]] = {}
    for number, line in enumerate((data or b"").split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        snippet_id = value.get("snippet_id") if isinstance(value, dict) else None
        if not isinstance(snippet_id, str) or not snippet_id:
            raise MergeRefused(f"{name}:{number} ({side}): not a gold record; curate cannot merge {name} (fix that line, then sync again)")
        stamp = value.get("updated_at")
        line += b"\n"
        records.pop(snippet_id, None)  # a later line for a snippet replaces the earlier, as GoldStore reads it
        records[snippet_id] = (line, stamp if isinstance(stamp, str) else "")
    return records


def reference_merge_gold(base: bytes | None, ours: bytes | None, theirs: bytes | None, *, name: str = "gold.jsonl") -> bytes:
    old = _gold_records(base, name, "last common version")
    mine = _gold_records(ours, name, "this machine")
    other = _gold_records(theirs, name, "remote")

    def chosen(snippet_id: str) -> bytes | None:
        o, a, t = (side.get(snippet_id) for side in (old, mine, other))
        a_line, t_line, o_line = (None if x is None else x[0] for x in (a, t, o))
        if a_line == t_line or t_line == o_line:
            return a_line
        if a_line == o_line:
            return t_line
        if a is None or t is None:
            return (a or t)[0]  # removed on one side, accepted again on the other: keep the accept
        return max((a[1], a[0]), (t[1], t[0]))[1]

    # Theirs' snippets that ours lacks go after their predecessor in theirs.
    after: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for snippet_id in other:
        if snippet_id in mine:
            anchor = snippet_id
        else:
            after.setdefault(anchor, []).append(snippet_id)
    order = list(after.get(None, []))
    for snippet_id in mine:
        order.append(snippet_id)
        order.extend(after.get(snippet_id, []))
    lines = []
    for snippet_id in order:
        line = chosen(snippet_id)
        if line is not None:
            lines.append(line)
    return b"".join(lines)


def gold(snippet: str, second: int | None, who: str) -> bytes:
    value = {"snippet_id": snippet, "annotator": who, "adjudicator": who, "updated_at": None if second is None else f"2026-12-07T10:00:{second:02d}Z"}
    return json.dumps(value, separators=(",", ":")).encode()


one_line = st.one_of(
    st.builds(gold, st.sampled_from(["s1", "s2", "s3", "s4"]), st.one_of(st.none(), st.integers(0, 5)), st.sampled_from(["ana", "ben", "b\tx"])),
    st.sampled_from([b"", b"   ", b'{"snippet_id":"s9","updated_at":7}']),
)
side = st.one_of(
    st.none(),
    st.builds(
        lambda lines, ending, last: ending.join(lines) + (ending if last else b""),
        st.lists(one_line, max_size=6),
        st.sampled_from([b"\n", b"\r\n"]),
        st.booleans(),
    ),
)


@contextmanager
def chunk_size(size: int):
    saved = merge_module._CHUNK
    merge_module._CHUNK = size
    try:
        yield
    finally:
        merge_module._CHUNK = saved


def outcome(function):
    try:
        return function()
    except MergeRefused as error:
        return f"refused: {error}"


@settings(max_examples=400, deadline=None)
@given(sides=st.tuples(side, side, side), chunk=st.sampled_from([1, 5, 1 << 20]), broken=st.sampled_from([None, 0, 1, 2]))
def test_the_streamed_gold_merge_is_the_in_memory_merge(sides, chunk, broken):
    if broken is not None and sides[broken] is not None:
        sides = tuple(data + b"\nnot json\n" if index == broken else data for index, data in enumerate(sides))
    with chunk_size(chunk):
        expected = outcome(lambda: reference_merge_gold(*sides, name="gold.jsonl"))
        assert outcome(lambda: b"".join(merge_gold_chunks(*sides, name="gold.jsonl"))) == expected
        assert outcome(lambda: merge_gold(*sides, name="gold.jsonl")) == expected


def test_sides_read_from_files_merge_as_their_bytes_do(tmp_path):
    base = gold("s1", 1, "cy") + b"\n" + gold("s2", 1, "cy") + b"\n"
    ours = gold("s1", 3, "ana") + b"\n" + gold("s2", 1, "cy") + b"\n"
    theirs = gold("s0", 2, "ben") + b"\n" + gold("s1", 3, "ben") + b"\n" + gold("s2", 4, "ben")
    paths = []
    for name, data in (("base", base), ("ours", ours), ("theirs", theirs)):
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    assert b"".join(merge_gold_chunks(*paths)) == reference_merge_gold(base, ours, theirs)
    assert b"".join(merge_gold_chunks(None, None, paths[2])) == reference_merge_gold(None, None, theirs)
    with pytest.raises(MergeRefused, match=r"gold.jsonl:2 \(remote\)"):
        (tmp_path / "theirs").write_bytes(gold("s1", 1, "x") + b"\n<<<<<<<\n")
        b"".join(merge_gold_chunks(*paths))


def test_ids_alike_in_their_first_64_bits_are_still_told_apart():
    """Snippets are numbered by a sort of their id digests' first 8 bytes; two digests equal there
    but not in the other 8 make it number them by the whole digest (what np.unique gives)."""
    import numpy as np

    def digests(*values: bytes) -> np.ndarray:
        return np.frombuffer(b"".join(values), dtype="S16")

    alike, other = b"\x01" * 8 + b"\x02" * 8, b"\x01" * 8 + b"\x03" * 8
    for sides in ([digests(alike, b"\x09" * 16), digests(other, alike)], [digests(alike), digests(b"\x00" * 16, alike)], [digests(), digests()]):
        numbers, count = merge_module._numbered(sides)
        expected = np.unique(np.concatenate(sides), return_inverse=True)[1]
        assert count == len(set(expected.tolist()))
        # the same partition: equal digests get equal numbers, different ones different numbers
        assert len(set(zip(numbers.tolist(), expected.tolist()))) == count


def test_the_gold_merge_holds_no_python_object_per_snippet():
    """Each side is known by 48 bytes a line in numpy arrays; the merge's peak allocation stays
    under 120 bytes a line of the three sides (the dict of per-snippet tuples it replaced took 230)."""
    import hashlib
    import tracemalloc

    count = 40_000

    def lines(numbers, second, who):
        return b"".join(gold(f"s{n}", second(n), who(n)) + b"\n" for n in numbers)

    base = lines(range(count), lambda n: n % 60, lambda n: "cy")
    ours = lines(range(count + count // 10), lambda n: (n * 7) % 60, lambda n: "ana" if n % 10 == 1 else "cy")
    theirs = lines((n for n in range(count) if n % 7), lambda n: (n * 3) % 60, lambda n: "ben" if n % 10 in (1, 2) else "cy")
    expected = reference_merge_gold(base, ours, theirs)
    total = sum(side.count(b"\n") for side in (base, ours, theirs))
    tracemalloc.start()
    try:
        digest, size = hashlib.sha256(), 0
        with chunk_size(1 << 16):
            for chunk in merge_gold_chunks(base, ours, theirs):
                digest.update(chunk)
                size += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (size, digest.digest()) == (len(expected), hashlib.sha256(expected).digest())
    assert peak < 120 * total, f"peak {peak / total:.0f} bytes a line"
