"""Three-way merges of the corpus files two machines both changed (pure: bytes or files in, bytes out).

`curate sync` (curate/sync.py) calls these when a file changed on both sides since the last
common commit. `base` is that commit's version, `ours` this machine's, `theirs` the remote's;
any of them is None when the file did not exist there.

- Journals (annotations/NAME.jsonl, suggestions.jsonl) are append-only, so they merge by
  line: :func:`merge_journal`, or :func:`merge_journal_chunks` streamed from files (no line is
  held: a side that only appended is copied up to base's end, and its other lines, or all the
  lines of a compacted side, are known by 16-byte digests in numpy arrays).
- gold.jsonl holds one record per snippet, rewritten whole on each accept: it merges per
  snippet by the later accept, :func:`merge_gold`, streamed by :func:`merge_gold_chunks`
  (numpy arrays of 48 bytes a line, no Python object per snippet).
- Anything else (snippets.jsonl, assignments.jsonl) is not merged here: sync stops and names it.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
from array import array
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

__all__ = ["MergeRefused", "journal_lines", "merge_gold", "merge_gold_chunks", "merge_journal", "merge_journal_chunks"]


class MergeRefused(Exception):
    """A file curate cannot merge (a damaged gold line), with a message naming it."""


def journal_lines(data: bytes | None) -> list[bytes]:
    """The whole lines of a journal, each ending in `\\n`.

    A last line without its newline is kept (with one added) when it is a JSON object, and
    dropped when it is not: that is a torn append, which was never acknowledged as saved.
    """
    if not data:
        return []
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    tail = parts[-1]
    if tail:
        try:
            whole = isinstance(json.loads(tail), dict)
        except (ValueError, RecursionError):
            whole = False
        if whole:
            lines.append(tail + b"\n")
    return lines


# How curate writes the field (pydantic's compact JSON, the record's last field): found without
# parsing the line. Inside a JSON string every quote is escaped, so this cannot match there.
_UPDATED_AT = re.compile(rb'"updated_at":"([0-9T:.Z+-]*)"')


def _saved_at(line: bytes) -> str:
    """A record line's `updated_at` ('' when missing or unreadable), for ordering only."""
    found = _UPDATED_AT.search(line, max(0, len(line) - 64))
    if found is not None:
        return found.group(1).decode("ascii")
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return ""
    stamp = value.get("updated_at") if isinstance(value, dict) else None
    return stamp if isinstance(stamp, str) else ""


def _interleave(first: Iterator[bytes], second: Iterator[bytes]) -> Iterator[bytes]:
    """Both streams of lines in one, each keeping its own order; where they meet, the line saved
    earlier (then the smaller line, so the result does not depend on which side is which) goes
    first. Streamed: one line of each side is held."""
    one, two = next(first, None), next(second, None)
    key_one = None if one is None else (_saved_at(one), one)
    key_two = None if two is None else (_saved_at(two), two)
    while one is not None and two is not None:
        if key_two < key_one:
            yield two
            two = next(second, None)
            key_two = None if two is None else (_saved_at(two), two)
        else:
            yield one
            one = next(first, None)
            key_one = None if one is None else (_saved_at(one), one)
    if one is not None:
        yield one
        yield from first
    if two is not None:
        yield two
        yield from second


# A side of a journal merge: the file's bytes, a path to read it from (streamed), or None.
JournalSide = bytes | os.PathLike | str | None

_CHUNK = 1 << 20


def _open_side(side: JournalSide) -> BinaryIO:
    return io.BytesIO(side) if isinstance(side, bytes | bytearray) else open(side, "rb")  # noqa: SIM115 (closed by the caller's with)


def _whole_object(tail: bytes) -> bool:
    try:
        return isinstance(json.loads(tail), dict)
    except (ValueError, RecursionError):
        return False


def _side_lines(side: JournalSide, start: int = 0) -> Iterator[bytes]:
    """:func:`journal_lines` of a side from byte `start` (a line boundary) on, read in chunks."""
    if side is None:
        return
    with _open_side(side) as handle:
        handle.seek(start)
        rest = b""
        while chunk := handle.read(_CHUNK):
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for part in parts:
                yield part + b"\n"
        if rest and _whole_object(rest):
            yield rest + b"\n"


def _side_bytes(side: JournalSide, length: int) -> Iterator[bytes]:
    """The first `length` bytes of a side, in chunks."""
    with _open_side(side) as handle:
        while length > 0 and (chunk := handle.read(min(_CHUNK, length))):
            length -= len(chunk)
            yield chunk
    if length > 0:
        raise _changed(side)  # shorter than when its prefix was compared with base


def _base_prefix(base: JournalSide, side: JournalSide) -> int | None:
    """The length of `base` when the side starts with base's bytes and base ends a line (the
    side only appended since): then the side's first lines are exactly base's lines, known
    without reading them one by one. None otherwise (a compaction rewrote it, base is torn...)."""
    if base is None or side is None:
        return None
    length, last = 0, b"\n"
    with _open_side(base) as first, _open_side(side) as second:
        while chunk := first.read(_CHUNK):
            if second.read(len(chunk)) != chunk:
                return None
            length, last = length + len(chunk), chunk[-1:]
    return length if last == b"\n" else None


_DIGEST = np.dtype("S16")
"""A line (or snippet id) is known by its 128-bit BLAKE2 digest: 16 bytes in a numpy array, not a Python object."""


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _line_digests(side: JournalSide, start: int) -> np.ndarray:
    """The digest of each line of a side from byte `start` on (:func:`_side_lines`), in order."""
    found = bytearray()
    for line in _side_lines(side, start):
        found += _digest(line)
    return np.frombuffer(found, dtype=_DIGEST)


def _last_of_each(keys: np.ndarray) -> np.ndarray:
    """Mask of the places whose key no later place has (each line once, at its last place)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    last = np.ones(len(keys), dtype=bool)
    if len(keys):
        last[order[:-1][ordered[1:] == ordered[:-1]]] = False
    return last


def _in_base(base: JournalSide, held: np.ndarray) -> np.ndarray:
    """Mask over `held` (sorted, unique digests): which are digests of base's lines (one pass over base)."""
    found = np.zeros(len(held), dtype=bool)
    if base is None or not len(held):
        return found

    def mark(batch: bytearray) -> None:
        digests = np.frombuffer(batch, dtype=_DIGEST)
        places = np.searchsorted(held, digests)
        places[places == len(held)] = 0
        found[places[held[places] == digests]] = True

    batch = bytearray()
    for line in _side_lines(base):
        batch += _digest(line)
        if len(batch) >= _CHUNK:
            mark(batch)
            batch = bytearray()
    mark(batch)
    return found


def _lines_where(side: JournalSide, start: int, mask: np.ndarray) -> Iterator[bytes]:
    """The lines of a side from byte `start` on whose place in `mask` is True, in order."""
    flags = mask.tobytes()
    index = -1
    for index, line in enumerate(_side_lines(side, start)):
        if index >= len(flags):
            raise _changed(side)
        if flags[index]:
            yield line
    if index + 1 != len(flags):
        raise _changed(side)  # fewer lines than the first pass read: it shrank


def _changed(side: JournalSide) -> OSError:
    return OSError(errno.EIO, "the file changed while it was merged", None if side is None or isinstance(side, bytes | bytearray) else os.fspath(side))


def _batched(lines: Iterator[bytes]) -> Iterator[bytes]:
    """Lines joined into chunks of about `_CHUNK` bytes."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def merge_journal_chunks(base: JournalSide, ours: JournalSide, theirs: JournalSide) -> Iterator[bytes]:
    """:func:`merge_journal` of three sides given as bytes or as paths, in chunks.

    Streamed: a side that only appended to `base` (the usual case: journals are append-only)
    is compared with it byte by byte and copied in chunks, and only its lines after base's end
    are looked at one by one. Those lines (every line of a side a compaction rewrote) are
    known by 128-bit digests in numpy arrays, not held: which are in base is found in one pass
    over base, and the lines written are read again from the side in order. So memory follows
    16 bytes a line looked at, whatever the journal's size. The result is the in-memory merge's.
    """
    our_prefix, their_prefix = _base_prefix(base, ours), _base_prefix(base, theirs)
    our_start, their_start = our_prefix or 0, their_prefix or 0
    # Each line looked at is known by its place among the distinct digests of those lines.
    our_tail, their_tail = _line_digests(ours, our_start), _line_digests(theirs, their_start)
    held = np.unique(np.concatenate([our_tail, their_tail]))
    ours_at, theirs_at = np.searchsorted(held, our_tail), np.searchsorted(held, their_tail)
    del our_tail, their_tail
    in_base = _in_base(base, held)
    del held
    our_in_base = in_base[ours_at]
    if our_prefix:
        yield from _side_bytes(ours, our_prefix)
    if our_in_base.any():
        yield from _batched(_lines_where(ours, our_start, our_in_base))
    # A line of theirs not in base is in ours only among our tail's lines (ours' other lines are base's).
    in_ours = np.zeros(len(in_base), dtype=bool)
    in_ours[ours_at] = True
    our_new = ~our_in_base & _last_of_each(ours_at)
    their_new = ~in_base[theirs_at] & ~in_ours[theirs_at] & _last_of_each(theirs_at)
    del ours_at, theirs_at, in_base, in_ours
    yield from _batched(_interleave(_lines_where(ours, our_start, our_new), _lines_where(theirs, their_start, their_new)))


def merge_journal(base: bytes | None, ours: bytes | None, theirs: bytes | None) -> bytes:
    """The union of two versions of an append-only journal, no line lost and none doubled.

    The result is our lines that were already in `base` (in our order), then the new lines of
    both sides merged by `updated_at`, each side keeping its own order. A line both sides added
    is kept once; a base line that one side dropped (compaction keeps only each snippet's last
    record) stays dropped when ours dropped it; a new line repeated within one side is kept at
    its last place. Since the last record per snippet wins, a snippet saved on both machines
    ends with the later save, and (when each side's saves are in time order) the result does
    not depend on which side is ours. :func:`merge_journal_chunks` does the same from files.
    """
    return b"".join(merge_journal_chunks(base, ours, theirs))


def merge_gold(base: bytes | None, ours: bytes | None, theirs: bytes | None, *, name: str = "gold.jsonl") -> bytes:
    """gold.jsonl merged per snippet: what only one side changed is taken from it, and a snippet
    both sides changed keeps the later accept (`updated_at`; on a tie the larger line, so both
    machines would choose the same). A record removed on one side and accepted again on the
    other is kept. Lines stay in corpus order: ours, with theirs' new snippets placed after the
    snippet that comes before them in theirs (both files are written in corpus order).

    MergeRefused names a line that is not a gold record.
    """
    return b"".join(merge_gold_chunks(base, ours, theirs, name=name))


def _numbered_parts(side: JournalSide) -> Iterator[tuple[int, int, bytes]]:
    """(1-based number, byte offset, bytes) of each part of a side split at `\\n`, the last part
    (after the last newline, maybe empty) included: `data.split(b"\\n")`, read in chunks."""
    if side is None:
        yield 1, 0, b""
        return
    number, offset, rest = 1, 0, b""
    with _open_side(side) as handle:
        while chunk := handle.read(_CHUNK):
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for part in parts:
                yield number, offset, part
                number, offset = number + 1, offset + len(part) + 1
    yield number, offset, rest


class _Reader:
    """Reads byte ranges of a side back (a slice of bytes, or pread on an open file)."""

    def __init__(self, side: JournalSide) -> None:
        self.side = side
        self.fd: int | None = None

    def read(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset`; OSError when the side is shorter (it changed while merged)."""
        if isinstance(self.side, bytes | bytearray):
            found = bytes(self.side[offset : offset + length])
        else:
            if self.fd is None:
                self.fd = os.open(self.side, os.O_RDONLY)
            parts = []
            wanted = length
            while wanted > 0 and (part := os.pread(self.fd, wanted, offset)):
                parts.append(part)
                offset, wanted = offset + len(part), wanted - len(part)
            found = b"".join(parts)
        if len(found) != length:
            raise OSError(errno.EIO, "the file changed while it was merged", None if isinstance(self.side, bytes | bytearray) else os.fspath(self.side))
        return found

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _GoldSide:
    """One version of gold.jsonl as numpy arrays, a row a line in file order: the digests of its
    snippet id and of the line itself (128-bit BLAKE2), its byte offset and its length. No line
    and no id is held: lines are compared by digest and read back by offset when written."""

    def __init__(self, side: JournalSide, name: str, label: str) -> None:
        ids, lines = bytearray(), bytearray()
        offsets, lengths = array("q"), array("q")
        for number, offset, line in _numbered_parts(side):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: nested deeper than json reads
                value = None
            snippet_id = value.get("snippet_id") if isinstance(value, dict) else None
            if not isinstance(snippet_id, str) or not snippet_id:
                raise MergeRefused(f"{name}:{number} ({label}): not a gold record; curate cannot merge {name} (fix that line, then sync again)")
            ids += _digest(snippet_id.encode("utf-8", "surrogatepass"))
            lines += _digest(line)
            offsets.append(offset)
            lengths.append(len(line))
        self.ids = np.frombuffer(ids, dtype=_DIGEST)
        self.lines = np.frombuffer(lines, dtype=_DIGEST)
        self.offsets = np.frombuffer(offsets, dtype=np.int64) if offsets else np.zeros(0, dtype=np.int64)
        self.lengths = np.frombuffer(lengths, dtype=np.int64) if lengths else np.zeros(0, dtype=np.int64)

    def rows(self, snippets: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Given each line's snippet number (`snippets`, 0..count-1): the row of each snippet's
        last line (-1: none; a later line for a snippet replaces the earlier, as GoldStore reads
        it), and the rows that count, in file order."""
        row = np.full(count, -1, dtype=np.int64)
        order = np.argsort(snippets, kind="stable")
        ordered = snippets[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = ordered[1:] != ordered[:-1]
        row[ordered[last]] = order[last]
        return row, np.sort(order[last])


def _numbered(ids: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """A number for each id digest of the arrays (one after the other; equal digests, equal
    numbers, from 0) and how many numbers: sorted by the digests' first 8 bytes (a quicker sort
    than of 16-byte strings), the other 8 checked equal within each run (two ids alike in their
    first 64 bits but not in all 128: numbered by a sort of the whole digests instead)."""
    halves = [np.ascontiguousarray(part).view(np.uint64).reshape(-1, 2) for part in ids]
    first = np.concatenate([half[:, 0] for half in halves])
    order = np.argsort(first)
    first = first[order]
    starts = np.ones(len(first), dtype=bool)
    starts[1:] = first[1:] != first[:-1]
    del first
    second = np.concatenate([half[:, 1] for half in halves])[order]
    if (~starts[1:] & (second[1:] != second[:-1])).any():
        numbers = np.unique(np.concatenate(ids), return_inverse=True)[1]
        return numbers, int(numbers.max()) + 1 if len(numbers) else 0
    del second
    ranks = np.cumsum(starts) - 1
    numbers = np.empty(len(order), dtype=np.int64)
    numbers[order] = ranks
    return numbers, int(ranks[-1]) + 1 if len(ranks) else 0


def merge_gold_chunks(base: JournalSide, ours: JournalSide, theirs: JournalSide, *, name: str = "gold.jsonl") -> Iterator[bytes]:
    """:func:`merge_gold` of three sides given as bytes or as paths, in chunks.

    Streamed: each side is read once into numpy arrays (:class:`_GoldSide`, 48 bytes a line);
    snippets are numbered by their id digests; the order and every rule of :func:`merge_gold`
    are vectorised over those numbers and the line digests (only a snippet both sides accepted
    anew has its two lines read back and parsed); the chosen lines are copied from the sides by
    offset, a run of adjacent lines at a time. No line, id or per-snippet Python object is held."""
    sides = [_GoldSide(base, name, "last common version"), _GoldSide(ours, name, "this machine"), _GoldSide(theirs, name, "remote")]
    numbers, count = _numbered([side.ids for side in sides])
    for side in sides:
        side.ids = None  # numbered now
    bounds = np.cumsum([0] + [len(side.lines) for side in sides])
    snippets = [numbers[bounds[index] : bounds[index + 1]] for index in range(3)]
    del numbers
    (o_row, _), (a_row, a_kept), (t_row, t_kept) = (side.rows(numbers, count) for side, numbers in zip(sides, snippets))
    mine, other = snippets[1][a_kept], snippets[2][t_kept]  # each side's snippets in its file order
    del snippets, a_kept, t_kept
    # The order: ours; theirs' snippets that ours lacks go after the snippet before them in theirs.
    rank = np.full(count, -1, dtype=np.int64)
    rank[mine] = np.arange(len(mine))
    other_rank = rank[other]
    new = other_rank < 0
    before = np.where(new, -1, np.arange(len(other)))
    np.maximum.accumulate(before, out=before)
    anchors = np.where(before[new] >= 0, other_rank[np.maximum(before[new], 0)], -1)
    firsts = np.concatenate([rank[mine], anchors])
    seconds = np.concatenate([np.zeros(len(mine), dtype=np.int64), np.ones(len(anchors), dtype=np.int64)])
    thirds = np.concatenate([np.zeros(len(mine), dtype=np.int64), np.flatnonzero(new)])
    snippet = np.concatenate([mine, other[new]])[np.lexsort((thirds, seconds, firsts))]
    del rank, other_rank, before, new, anchors, firsts, seconds, thirds, mine, other
    # The rules, for every snippet at once: 0 take ours, 1 take theirs, -1 write nothing.
    o, a, t = o_row[snippet], a_row[snippet], t_row[snippet]
    del o_row, a_row, t_row, snippet

    def key(side: _GoldSide, rows: np.ndarray) -> np.ndarray:
        found = np.zeros(len(rows), dtype=_DIGEST)
        found[rows >= 0] = side.lines[rows[rows >= 0]]
        return found

    def same(first: np.ndarray, first_key: np.ndarray, second: np.ndarray, second_key: np.ndarray) -> np.ndarray:
        return ((first < 0) & (second < 0)) | ((first >= 0) & (second >= 0) & (first_key == second_key))

    o_key, a_key, t_key = key(sides[0], o), key(sides[1], a), key(sides[2], t)
    take_ours = same(a, a_key, t, t_key) | same(t, t_key, o, o_key)
    take_theirs = ~take_ours & same(a, a_key, o, o_key)
    rest = ~take_ours & ~take_theirs
    del o_key, a_key, t_key, o
    pick = np.full(len(a), -1, dtype=np.int8)
    pick[take_ours & (a >= 0)] = 0
    pick[take_theirs & (t >= 0)] = 1
    pick[rest & (t < 0)] = 0  # removed on one side, accepted again on the other: keep the accept
    pick[rest & (a < 0)] = 1
    readers = {1: _Reader(ours), 2: _Reader(theirs)}
    try:
        for index in np.flatnonzero(rest & (a >= 0) & (t >= 0)).tolist():  # both accepted anew: the later accept
            keys = []
            for which, row in ((1, int(a[index])), (2, int(t[index]))):
                line = readers[which].read(int(sides[which].offsets[row]), int(sides[which].lengths[row]))
                stamp = json.loads(line).get("updated_at")
                keys.append((stamp if isinstance(stamp, str) else "", line + b"\n"))  # compared with its newline, as the in-memory merge held lines
            pick[index] = 0 if max(keys) == keys[0] else 1
        del take_ours, take_theirs, rest
        yield from _gold_output(sides, readers, pick, a, t)
    finally:
        for reader in readers.values():
            reader.close()


def _gold_output(sides: list[_GoldSide], readers: dict[int, _Reader], pick: np.ndarray, a: np.ndarray, t: np.ndarray) -> Iterator[bytes]:
    """The chosen lines, each with its newline; a run of lines adjacent in one side is read at once."""
    chosen = np.flatnonzero(pick >= 0)
    which = pick[chosen].astype(np.int64) + 1
    starts = np.zeros(len(chosen), dtype=np.int64)
    lengths = np.zeros(len(chosen), dtype=np.int64)
    for number, rows in ((1, a), (2, t)):
        here = which == number
        starts[here] = sides[number].offsets[rows[chosen[here]]]
        lengths[here] = sides[number].lengths[rows[chosen[here]]]
    del chosen
    ends = starts + lengths
    # a line starts a new run unless it comes right after the previous one in the same side
    joined = np.zeros(len(starts), dtype=bool)
    joined[1:] = (which[1:] == which[:-1]) & (starts[1:] == ends[:-1] + 1)
    run_firsts = np.flatnonzero(~joined)
    run_lasts = np.append(run_firsts[1:], len(starts)) - 1
    batch: list[bytes] = []
    size = 0
    for first, last in zip(run_firsts.tolist(), run_lasts.tolist()):
        reader, start, end = readers[int(which[first])], int(starts[first]), int(ends[last])
        while start < end:  # a long run in pieces of about _CHUNK bytes
            piece = reader.read(start, min(end - start, _CHUNK))
            batch.append(piece)
            size += len(piece)
            start += len(piece)
            if size >= _CHUNK:
                yield b"".join(batch)
                batch, size = [], 0
        batch.append(b"\n")
        size += 1
    if batch:
        yield b"".join(batch)
