"""Reading journal lines into a journal's index: the last valid record per snippet wins.

Damaged lines (invalid records, records of unknown snippets) are kept as problems with their
line numbers and skipped; records of snippets not in the corpus are remembered, so they find
their place when ingest appends those snippets. An unterminated last line (a write in
progress, or one a crash cut short) stays outside the index's size, so the next scan reads it
again once it is complete.

A scan is *strict* or *quick*. A strict scan validates every line as a whole record and
finds each snippet id exactly; it is used for short scans (the records appended since the
index was saved) and whenever a journal is rebuilt because a record did not read back. A
long scan without a saved index (a fresh clone, a deleted ``.curate/``) is quick: each line
is parsed only for what the index counts (its snippet id, annotator, status, stories' end,
text_sha256), a fast JSON parser reads those fields, and ids are placed by their hash in the
snippet index all at once. Records are then validated when they are read for their content
(:meth:`Journal.record_at` rebuilds strictly when one does not read back), and the index
says it is not ``checked``, so compaction and readers of raw lines rebuild it strictly first.
A line that is not even a record's skeleton is reported at once, with the strict reason.
A long quick scan runs on two cores (:mod:`curate.store.halves`): a forked child scans the
second half of the bytes and this process takes in what it found after its own half.

A long strict scan (a rebuild, :data:`STRICT_BLOCK_BYTES` or more) reads blocks as a quick
one does, and is split over two cores the same way, but validates every line: a block's
lines are checked all at once by :mod:`curate.store.strict` (msgspec and numpy, accepting
only what the store's pydantic model accepts), and each line it does not accept is read by
pydantic, which accepts it or gives the reason; each snippet id is then found exactly (its
hash placed in the snippet index, then the id compared with the snippet's own). Lines,
problems, unknown ids and the index are those of the line-by-line strict scan. When
the corpus has no snippet index either (a fresh clone), the child builds it first and then
scans the journal's last part, while this process scans the first part and keeps its records
until the child's index places them (:meth:`LineScanner.scan_beside_snippet_index`).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import typing
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Annotated, BinaryIO, Literal, NamedTuple

import msgspec
import numpy as np
from pydantic import ValidationError

from curate.model import MAX_OFFSET, STATUSES, Annotation
from curate.store.files import pread_up_to
from curate.store.halves import abandon_child, can_split, child_result, fork_child, middle_line_start, pack, unpack
from curate.store.index import NO_RECORD, STATUS_CODES, JournalIndex, digest_keys
from curate.store.lines import JournalProblem, line_problem
from curate.store.strict import RECORD, accepted

if TYPE_CHECKING:
    from curate.store.corpus import Corpus

# Snippet ids looked up during one strict scan are remembered, up to this many.
_POSITION_CACHE_SIZE = 1 << 16
# Scans of at least this many bytes are quick ones (see the module's docstring).
QUICK_SCAN_BYTES = 1 << 22
# Strict scans of at least this many bytes read blocks (see the module's docstring).
STRICT_BLOCK_BYTES = 1 << 22
# Lines decoded and checked at a time in a strict block: the structs msgspec just made are
# still in the processor's cache when they are checked (checking 50k records at once took
# about ten times as long as in shares of 512, measured on the agreement bench's records).
_CHECK_LINES = 512
# A snippet id is confirmed from the start of its snippet's line (see LineScanner.confirm),
# as far as Corpus.snippet_id reads it.
_ID_PREFIX, _ID_PEEK_BYTES = b'{"id": "', 256
# What a forked child's quick scan sends back per placed record (see LineScanner.second_half).
_SECOND_HALF_ARRAYS = ("offsets", "lengths", "status", "text_lengths", "digest_kinds", "digests", "seconds")
# Lines are read in blocks of about this many bytes.
_BLOCK_BYTES = 1 << 24
# CPU time per byte, relative to a quick scan's per journal byte: building the snippet index
# (ids only) per byte of snippets.jsonl, and a quick scan that leaves the facts for later. A
# snippet line is mostly text that the id decoder skips; a record's line is mostly what a
# quick scan decodes. (Measured at 1M snippets and records: 1.4, 3.8 and 5.7 ns a byte, when
# the scan without facts skipped decoding the stories, text_sha256 and seconds; it decodes them
# now, to refuse the lines a full scan refuses: its blocks take 0.8 of a full scan's, measured
# on 200k records of 387 bytes, LineScanner.read_block alone.)
SNIPPET_BYTE_COST = 0.25
LEAN_SCAN_COST = 0.85


def line_blocks(handle: BinaryIO, start: int, block_bytes: int | None = None, end: int | None = None) -> Iterator[tuple[int, bytes, np.ndarray, bool]]:
    """(offset, data, ends, last) for the file open as `handle` from byte `start` (a line start)
    to its end (or to byte `end`, a line start), read in blocks: `data` was read at `offset`,
    `ends` are its line ends. Bytes after the last end are the start of the next block's first
    line, or, in the `last` block, an unterminated last line. Blocks are read by pread (nothing
    is copied to join them)."""
    block_bytes = block_bytes or _BLOCK_BYTES
    fd, offset = handle.fileno(), start
    while True:
        wanted = block_bytes if end is None else min(block_bytes, end - offset)
        data = pread_up_to(fd, wanted, offset)
        last = len(data) < block_bytes or (end is not None and offset + len(data) >= end)
        ends = line_ends(data)
        if not last and not len(ends):
            block_bytes *= 2  # a line longer than a block
            continue
        if data:
            yield offset, data, ends, last
        if last:
            return
        offset += int(ends[-1])


@contextmanager
def unreferenced_garbage() -> Iterator[None]:
    """No cycle collection inside: a pass over a large file makes and drops millions of small
    objects that hold no cycles, and the collector would only walk them again and again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def line_ends(data: bytes) -> np.ndarray:
    """The offset just past each newline of `data` (where each whole line ends)."""
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1


def decode_whole_lines(decoder: msgspec.json.Decoder, data: bytes, ends: np.ndarray) -> list | None:
    """The lines of `data` up to its last end in `ends`, decoded by `decoder` (of a list
    type), or None if any line is not exactly one value of its item type.

    Each line is decoded alone (by a decoder of the item type), so each value is exactly one
    line's: a blank line, two values on one line (``{...},{...}`` or ``{...} {...}``) or one
    value over two lines is refused. (Reading the lines as one JSON array, each line end made
    a comma, was no faster and took ``{...},{...}`` for two lines' values.) The caller reads
    the lines one by one when it gets None, to learn which are damaged and why.
    """
    decode = _item_decoder(decoder).decode
    view = memoryview(data)
    ends_list = ends.tolist()
    starts = [0, *ends_list[:-1]]
    try:
        return list(map(decode, map(view.__getitem__, map(slice, starts, ends_list))))
    except (msgspec.MsgspecError, RecursionError):  # RecursionError: a line nested deeper than the decoder goes
        return None


@functools.cache
def _item_decoder(decoder: msgspec.json.Decoder) -> msgspec.json.Decoder:
    """A JSON decoder of the item type of `decoder` (a decoder of a list type)."""
    (item,) = typing.get_args(decoder.type)
    return msgspec.json.Decoder(item)


class _StoryEnd(msgspec.Struct, gc=False):
    end: Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET)]


class _Skeleton(msgspec.Struct, gc=False):
    """What a quick scan reads of a record (other fields are skipped, not checked)."""

    snippet_id: Annotated[str, msgspec.Meta(min_length=1)]
    annotator: Annotated[str, msgspec.Meta(min_length=1)]
    stories: Annotated[list[_StoryEnd], msgspec.Meta(min_length=1)]
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    text_sha256: str | None = None
    seconds: float = 0.0


_SKELETON = msgspec.json.Decoder(_Skeleton)
_SKELETONS = msgspec.json.Decoder(list[_Skeleton])
_SNIPPET_ID, _STATUS, _STORIES, _TEXT_SHA256, _SECONDS = (attrgetter(name) for name in ("snippet_id", "status", "stories", "text_sha256", "seconds"))
_LAST, _END = itemgetter(-1), attrgetter("end")


class _Block(NamedTuple):
    """What a quick scan read of a block's lines: per record kept, its id and its hash, where its line
    starts, its length and number, its status and facts; and the problems of the others."""

    ids: list[str]
    hashes: np.ndarray
    line_starts: np.ndarray
    lengths: np.ndarray
    line_numbers: np.ndarray
    statuses: np.ndarray
    text_lengths: np.ndarray
    digest_kinds: np.ndarray
    digests: np.ndarray
    seconds: np.ndarray
    problems: list[JournalProblem]


class LineScanner:
    """Places the records of journal lines in `index`, finding positions in `corpus`.

    `strict` makes every scan strict (a rebuild); otherwise a scan of at least
    :data:`QUICK_SCAN_BYTES` is quick (see the module's docstring), and a long quick scan is
    split over two cores unless `split` is False. Without `facts` a quick scan reads each
    record's skeleton as a full one does (so it refuses the same lines and places the same
    records) but does not work out the records' facts, and the index says it has no ``facts``
    (see :mod:`curate.store.index`).
    """

    def __init__(self, index: JournalIndex, record_type: type[Annotation], corpus: "Corpus", *, strict: bool = False, split: bool = True, facts: bool = True) -> None:
        self.index = index
        self.record_type = record_type
        self.corpus = corpus
        self.strict = strict
        self.facts = facts
        # Blocks read but not placed yet, while the snippet index is built beside this scan.
        self.pending: list[_Block] | None = None
        self.pending_tail: tuple[bytes, int] | None = None
        # A long quick scan may be split over two processes (see scan_quickly).
        self.split = split
        self.positions: dict[str, int | None] = {}
        self.tail_problem: JournalProblem | None = None

    def scan(self, reader: BinaryIO, start: int) -> None:
        """Read the journal open as `reader` from byte `start` (a line start) to its end."""
        length = os.fstat(reader.fileno()).st_size - start
        if length >= (STRICT_BLOCK_BYTES if self.strict else QUICK_SCAN_BYTES):
            self.scan_quickly(reader, start)
            return
        index = self.index
        with os.fdopen(os.dup(reader.fileno()), "rb") as handle:
            handle.seek(start)
            offset = start
            for line in handle:
                if not line.endswith(b"\n"):
                    self.take_tail(line, offset)
                    break
                index.lines += 1
                self.take_line(line, offset, index.lines)
                offset += len(line)
        index.size = offset

    def parse(self, line: bytes) -> tuple[Annotation | None, str, bool]:
        """(record, "", False) for a valid line, else (None, why, whether it looks torn)."""
        try:
            return self.record_type.model_validate_json(line), "", False
        except ValidationError as error:
            reason, torn = line_problem(line, error)
            return None, reason, torn

    def position(self, snippet_id: str) -> int | None:
        positions = self.positions
        if snippet_id in positions:
            return positions[snippet_id]
        if len(positions) >= _POSITION_CACHE_SIZE:
            positions.clear()
        position = positions[snippet_id] = self.corpus.position(snippet_id)
        return position

    def take_line(self, line: bytes, offset: int, line_number: int) -> None:
        if not line.strip():
            return
        record, reason, torn = self.parse(line)
        if record is None:
            self.index.problems.append(JournalProblem(line_number, reason, torn))
            return
        position = self.position(record.snippet_id)
        if position is None:
            self.index.problems.append(JournalProblem(line_number, f"unknown snippet id {record.snippet_id!r}"))
            self.index.unknown[record.snippet_id] = (offset, len(line))
            return
        self.index.set(position, offset, len(line), record.status, record.text_length, record.text_sha256, record.seconds)

    def take_tail(self, line: bytes, offset: int) -> None:
        """An unterminated last line: a write in progress or cut short by a crash.

        Reported and skipped when it is not a whole record; either way it stays outside
        `index.size`, so the next scan reads it again once it is complete.
        """
        line_number = self.index.lines + 1
        if not line.strip():
            return
        record, reason, torn = self.parse(line)
        if record is None:
            # Cut off mid-record unless it is whole JSON (then it is a bad record, not a cut write).
            try:
                json.loads(line)
            except RecursionError:  # nested too deeply for a record curate wrote: damaged, not torn (never cut off)
                self.tail_problem = JournalProblem(line_number, reason)
            except ValueError:
                self.tail_problem = JournalProblem(line_number, "torn last line (an interrupted write); skipped", True)
            else:
                self.tail_problem = JournalProblem(line_number, reason)
            return
        position = self.position(record.snippet_id)
        if position is None:
            self.tail_problem = JournalProblem(line_number, f"unknown snippet id {record.snippet_id!r}")
            return
        self.index.set(position, offset, len(line), record.status, record.text_length, record.text_sha256, record.seconds)

    # ---- quick scans

    def scan_quickly(self, reader: BinaryIO, start: int) -> None:
        """A quick scan (see the module's docstring) from byte `start` to the journal's end; a
        long one on two cores (:mod:`curate.store.halves`): a forked child scans the second half."""
        fd = reader.fileno()
        middle = middle_line_start(fd, start, os.fstat(fd).st_size) if self.split else None
        child = fork_child(lambda: self.second_half(reader, middle)) if middle is not None else None
        self.index.size = start
        try:
            self.scan_blocks(reader, start, middle if child is not None else None)
        except BaseException:
            if child is not None:
                abandon_child(*child)
            raise
        if child is None:
            return
        part = child_result(*child)
        if part is None or not self.take_second_half(part):
            self.scan_blocks(reader, self.index.size, None)

    def scan_blocks(self, reader: BinaryIO, start: int, end: int | None) -> None:
        """Quickly scan from byte `start` to byte `end` (a line start; None: the journal's end)."""
        with unreferenced_garbage():
            for offset, data, ends, last in line_blocks(reader, start, end=end):
                if len(ends):
                    self.take_block(data, offset, ends)
                if last and (len(ends) == 0 or ends[-1] < len(data)):
                    tail_start = int(ends[-1]) if len(ends) else 0
                    if self.pending is not None:  # taken once the blocks before it are placed
                        self.pending_tail = (data[tail_start:], offset + tail_start)
                    else:
                        self.take_tail(data[tail_start:], offset + tail_start)

    def second_half(self, reader: BinaryIO, start: int) -> bytes:
        """(In the forked child) a quick scan from byte `start` to the end, as bytes for
        :meth:`take_second_half`: the records it placed, and its lines and problems numbered
        from `start`."""
        return pack(*self.scan_rest(reader, start))

    def scan_rest(self, reader: BinaryIO, start: int) -> tuple[dict[str, np.ndarray], dict]:
        """(In a forked child) a quick scan from byte `start` to the end in one process, as
        arrays and meta for :meth:`take_rest`."""
        part = JournalIndex.empty(len(self.corpus))
        scanner = LineScanner(part, self.record_type, self.corpus, strict=self.strict, split=False, facts=self.facts)
        scanner.scan_quickly(reader, start)
        placed = np.flatnonzero(part.status != NO_RECORD)
        arrays = {"positions": placed} | {name: getattr(part, name)[placed] for name in _SECOND_HALF_ARRAYS}
        tail = scanner.tail_problem
        meta = {
            "size": part.size, "lines": part.lines, "checked": part.checked, "facts": part.facts,
            "problems": [problem.__dict__ for problem in part.problems],
            "unknown": part.unknown, "tail": tail.__dict__ if tail else None,
        }
        return arrays, meta

    def take_second_half(self, data: bytes) -> bool:
        """Take what :meth:`second_half` found after what this scan read; False if `data` is
        not such a result (this scan then reads the second half itself)."""
        try:
            arrays, meta = unpack(data)
        except ValueError:
            return False
        return self.take_rest(arrays, meta)

    def take_rest(self, arrays: dict[str, np.ndarray], meta: object) -> bool:
        """Take what :meth:`scan_rest` found after what this scan read; False if it is not
        such a result (this scan then reads the rest itself)."""
        try:
            problems = [JournalProblem(**problem) for problem in meta["problems"]]  # type: ignore[index]
            tail = JournalProblem(**meta["tail"]) if meta["tail"] else None  # type: ignore[index]
            unknown = {key: (int(value[0]), int(value[1])) for key, value in meta["unknown"].items()}  # type: ignore[index]
            size, lines, checked, facts = int(meta["size"]), int(meta["lines"]), bool(meta["checked"]), bool(meta["facts"])  # type: ignore[index]
            placed = arrays["positions"]
            if len(placed) and not 0 <= int(placed.min()) <= int(placed.max()) < len(self.index):
                return False
            # One item per placed record in each array, of the index's own type.
            if placed.dtype.kind != "i" or any(len(arrays[name]) != len(placed) or arrays[name].dtype != getattr(self.index, name).dtype for name in _SECOND_HALF_ARRAYS):
                return False
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return False
        index = self.index
        index.set_many(placed, arrays["offsets"], arrays["lengths"], arrays["status"], arrays["text_lengths"], arrays["digest_kinds"], arrays["digests"], arrays["seconds"])
        before = index.lines
        for problem in problems:
            problem.line += before
        index.problems += problems
        for snippet_id, place in unknown.items():
            index.unknown[snippet_id] = place
        if tail is not None:
            tail.line += before
            self.tail_problem = tail
        index.size, index.lines, index.checked, index.facts = size, before + lines, index.checked and checked, index.facts and facts
        return True

    # ---- a first scan while the snippet index is built beside it

    def scan_beside_snippet_index(self, reader: BinaryIO) -> bool:
        """A whole quick scan of a journal whose corpus has no snippet index yet (a fresh
        clone, a deleted .curate/), on two cores: a forked child builds the snippet index and
        then scans the journal's last part, while this process scans the first part, keeping
        its records until the child's index can place them. The parts are sized so both
        processes are busy about as long (:data:`SNIPPET_BYTE_COST`). False, with nothing
        done, when this is not worth it or cannot be (a short journal, a machine that does
        not split); the caller then builds the snippet index first. Whatever fails in the child
        is done here again, so results and messages are those of one process."""
        fd = reader.fileno()
        size = os.fstat(fd).st_size
        snippet_bytes = os.path.getsize(self.corpus.snippets_path)
        journal_cost = size * (1.0 if self.facts else LEAN_SCAN_COST)
        snippet_cost = snippet_bytes * SNIPPET_BYTE_COST
        if self.strict or not self.split or size < QUICK_SCAN_BYTES or journal_cost < snippet_cost or not can_split(size + snippet_bytes):
            return False
        # This process's share of the journal: half of all the work (it also places its records after).
        share = (journal_cost + snippet_cost) / 2 / journal_cost
        middle = middle_line_start(fd, 0, size, share) if share < 1 else None
        child = fork_child(lambda: self.snippet_index_and_rest(reader, middle))
        if child is None:
            return False
        self.index.size, self.pending = 0, []
        try:
            self.scan_blocks(reader, 0, middle)
        except BaseException:
            abandon_child(*child)
            self.pending, self.pending_tail = None, None
            raise
        result = child_result(*child)
        rest = self.take_snippet_index(result) if result is not None else None
        if rest is None:
            self.corpus.index  # built here (and any damaged line named) as one process would
        self.index.grow(len(self.corpus))
        pending, self.pending = self.pending, None
        for block in pending:
            self.place_block(block)
        if self.pending_tail is not None:
            tail, self.pending_tail = self.pending_tail, None
            self.take_tail(*tail)
        if middle is not None and (rest is None or not self.take_rest(*rest)):
            self.scan_quickly(reader, self.index.size)
        return True

    def snippet_index_and_rest(self, reader: BinaryIO, middle: int | None) -> bytes:
        """(In the forked child) the snippet index, then a quick scan of the journal from byte
        `middle` (None: no part of it), as bytes for :meth:`take_snippet_index`."""
        from curate.store.snippets import SnippetIndex

        snippet_index = SnippetIndex.build_here(self.corpus.snippets_path)
        self.corpus.adopt_index(snippet_index, save=False)  # this copy of the corpus: the journal's ids are placed by it
        arrays = {"snippet_offsets": snippet_index.offsets, "snippet_hashes": snippet_index.hashes, "snippet_positions": snippet_index.positions}
        meta: dict = {"order": snippet_index.order_digest(), "rest": None}
        if middle is not None:
            rest, meta["rest"] = self.scan_rest(reader, middle)
            arrays |= rest
        return pack(arrays, meta)

    def take_snippet_index(self, data: bytes) -> tuple[dict[str, np.ndarray], object] | None:
        """Give the corpus the snippet index the child built (and save it); the child's part
        of the journal for :meth:`take_rest` ((arrays, None) if it scanned none). None if
        `data` is not such a result: the caller builds the index and scans the rest itself."""
        from curate.store.snippets import SnippetIndex

        try:
            arrays, meta = unpack(data)
            offsets, hashes, positions = (arrays.pop(f"snippet_{name}") for name in ("offsets", "hashes", "positions"))
            count = len(hashes)
            if offsets.dtype != np.int64 or hashes.dtype != np.uint64 or positions.dtype != np.int64 or len(offsets) != count + 1 or len(positions) != count:
                return None
            if offsets[0] != 0 or (count and not 0 <= int(positions.min()) <= int(positions.max()) < count):
                return None
            order, rest = meta["order"], meta["rest"]  # type: ignore[index]
            if not isinstance(order, str):
                return None
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None
        # Copies: the arrays are views of the received bytes, and the index outlives them.
        self.corpus.adopt_index(SnippetIndex(offsets.copy(), hashes.copy(), positions.copy(), order=order))
        return arrays, rest

    def take_block(self, data: bytes, offset: int, ends: np.ndarray) -> None:
        """The whole lines of `data` (read at `offset`), ending at `ends`: read, then placed
        (or, while the snippet index is being built beside this scan, kept to place then)."""
        block = self.read_block(data, offset, ends)
        if self.pending is not None:
            self.pending.append(block)
        else:
            self.place_block(block)

    def read_block(self, data: bytes, offset: int, ends: np.ndarray) -> "_Block":
        """What the lines of a block say, before their ids are looked up in the snippet index."""
        index = self.index
        first_line = index.lines + 1
        index.lines += len(ends)
        index.size = offset + int(ends[-1])
        starts = np.concatenate(([0], ends[:-1]))
        if self.strict:
            kept, skeletons, problems = self.validate_lines(data, starts, ends, first_line)
        else:
            skeletons = decode_whole_lines(_SKELETONS, data, ends)
            if skeletons is None:
                kept, skeletons, problems = self.take_lines(data, starts, ends, first_line)
            else:
                kept, problems = None, []
        ids = list(map(_SNIPPET_ID, skeletons))
        line_starts = offset + (starts if kept is None else starts[kept])
        lengths = (ends - starts) if kept is None else (ends - starts)[kept]
        line_numbers = first_line + (np.arange(len(ends)) if kept is None else kept)
        count = len(skeletons)
        if count and not self.strict:
            index.checked = False  # placed on their skeletons, not validated
        statuses = record_statuses(skeletons)
        if self.facts or self.strict:  # a strict scan sets the facts, as the line-by-line one does
            text_lengths, digest_kinds, digests, seconds = record_facts(skeletons)
        else:  # left for later (index.facts is False): what an empty index holds
            text_lengths, digest_kinds = np.full(count, -1, dtype=np.int64), np.zeros(count, dtype=np.int8)
            digests, seconds = np.zeros(count, dtype=np.uint64), np.zeros(count, dtype=np.float64)
            if count:
                index.facts = False
        # Hashed here: while the snippet index is built beside this scan, placing waits for it.
        return _Block(ids, id_hashes(ids), line_starts, lengths, line_numbers, statuses, text_lengths, digest_kinds, digests, seconds, problems)

    def place_block(self, block: "_Block") -> None:
        """Look a block's ids up in the snippet index and set its records in the index."""
        index, ids, problems = self.index, block.ids, block.problems
        if not ids:
            index.problems += problems
            return
        positions = self.place(ids, block.hashes)
        if self.strict:
            self.confirm(ids, positions)
        known = positions >= 0
        for number in np.flatnonzero(~known).tolist():
            snippet_id = ids[number]
            problems.append(JournalProblem(int(block.line_numbers[number]), f"unknown snippet id {snippet_id!r}"))
            index.unknown[snippet_id] = (int(block.line_starts[number]), int(block.lengths[number]))
        problems.sort(key=lambda problem: problem.line)
        index.problems += problems
        index.set_many(
            positions[known], block.line_starts[known], block.lengths[known], block.statuses[known],
            block.text_lengths[known], block.digest_kinds[known], block.digests[known], block.seconds[known],
        )

    def read_alone(self, line: bytes, line_number: int, problems: list[JournalProblem]) -> Annotation | None:
        """A line of a block that the block's fast decoding did not take, read by pydantic: its
        record, or None for a blank line or a damaged one (its problem added to `problems`)."""
        if not line.strip():
            return None
        record, reason, torn = self.parse(line)
        if record is None:
            problems.append(JournalProblem(line_number, reason, torn))
        return record

    def take_lines(self, data: bytes, starts: np.ndarray, ends: np.ndarray, first_line: int) -> tuple[np.ndarray, list, list[JournalProblem]]:
        """The lines of a block one by one (some are not record skeletons): the numbers of the
        lines kept, their skeletons (or strictly read records) and the problems of the others."""
        view, decode = memoryview(data), _SKELETON.decode
        kept: list[int] = []
        skeletons: list[_Skeleton | Annotation] = []
        problems: list[JournalProblem] = []
        for number, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
            try:
                skeletons.append(decode(view[start:end]))
            except (msgspec.MsgspecError, RecursionError):
                record = self.read_alone(data[start:end], first_line + number, problems)
                if record is None:
                    continue
                skeletons.append(record)  # the strict reading accepts what the skeleton refused
            kept.append(number)
        return np.asarray(kept, dtype=np.int64), skeletons, problems

    def validate_lines(self, data: bytes, starts: np.ndarray, ends: np.ndarray, first_line: int) -> tuple[np.ndarray | None, list, list[JournalProblem]]:
        """A strict reading of a block's lines: the numbers of the lines kept (None: all), their
        records and the problems of the others (:meth:`validate_each` of its lines)."""
        view = memoryview(data)
        return self.validate_each(list(map(view.__getitem__, map(slice, starts.tolist(), ends.tolist()))), first_line)

    def validate_each(self, lines: "list[bytes] | list[memoryview]", first_line: int) -> tuple[np.ndarray | None, list, list[JournalProblem]]:
        """A strict reading of `lines` (the first is line `first_line`): the numbers of the lines
        kept (None: all), their records and the problems of the others. The lines are decoded
        and checked :data:`_CHECK_LINES` at a time (:mod:`curate.store.strict`: the records
        just made are still in the processor's cache); a line that check does not accept is
        read by pydantic."""
        exact = self.record_type is Annotation
        decode = RECORD.decode
        kept: list[int] = []
        kept_records: list = []
        problems: list[JournalProblem] = []
        for first in range(0, len(lines), _CHECK_LINES):
            chunk = lines[first : first + _CHECK_LINES]
            decoded: list = [None] * len(chunk)
            if exact:
                try:
                    decoded = list(map(decode, chunk))
                except (msgspec.MsgspecError, RecursionError):
                    decoded = [_decoded_or_none(decode, line) for line in chunk]
                read = [record for record in decoded if record is not None]
                fine = accepted(read)
                if len(read) == len(chunk) and fine.all():
                    kept.extend(range(first, first + len(chunk)))
                    kept_records.extend(decoded)
                    continue
                verdicts = iter(fine.tolist())
                decoded = [record if record is not None and next(verdicts) else None for record in decoded]
            for number, (record, line) in enumerate(zip(decoded, chunk), start=first):
                if record is None:
                    record = self.read_alone(bytes(line), first_line + number, problems)
                    if record is None:
                        continue
                kept.append(number)
                kept_records.append(record)
        if len(kept) == len(lines):
            return None, kept_records, problems
        return np.asarray(kept, dtype=np.int64), kept_records, problems

    def confirm(self, ids: list[str], positions: np.ndarray) -> None:
        """Make `positions` (of `ids`, placed by their hashes) exact, as :meth:`position` finds
        them: an id is confirmed where its snippet's line starts with it (``{"id": "ID"``, an
        id with nothing JSON escapes, within what Corpus.snippet_id reads), else looked up.
        The starts of the lines are compared with the expected bytes all at once."""
        placed = np.flatnonzero(positions >= 0)
        if not len(placed):
            return
        wanted = [ids[number] for number in placed.tolist()]
        doubtful = np.ones(len(placed), dtype=bool)
        try:
            encoded = list(map(str.encode, wanted))
        except UnicodeEncodeError:  # a lone surrogate: never a snippet's id; looked up one by one
            encoded = None
        if encoded is not None:
            doubtful = self.unconfirmed(encoded, positions[placed])
        for number in np.flatnonzero(doubtful).tolist():
            exact = self.position(wanted[number])
            positions[placed[number]] = -1 if exact is None else exact

    def unconfirmed(self, encoded: list[bytes], positions: np.ndarray) -> np.ndarray:
        """One bool per id (`encoded` as UTF-8, placed at `positions`): False where the snippet's
        line there starts with ``{"id": "ID"`` and ID has nothing JSON escapes."""
        count = len(encoded)
        sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=count) + len(_ID_PREFIX) + 1
        ends = np.cumsum(sizes)
        firsts = ends - sizes
        expected = np.frombuffer(_ID_PREFIX + (b'"' + _ID_PREFIX).join(encoded) + b'"', dtype=np.uint8)
        offsets = self.corpus.index.offsets
        starts, stops = offsets[positions], offsets[positions + 1]
        snippets = np.memmap(self.corpus.snippets_path, dtype=np.uint8, mode="r")
        fits = (sizes <= np.minimum(stops - starts, _ID_PEEK_BYTES)) & (stops <= len(snippets))
        rows = np.repeat(np.arange(count), sizes)
        within = np.arange(len(expected)) - firsts[rows]
        found = snippets[np.minimum(starts[rows] + within, len(snippets) - 1)]
        same = np.logical_and.reduceat(found == expected, firsts)
        in_id = (within >= len(_ID_PREFIX)) & (within < sizes[rows] - 1)
        escaped = np.logical_or.reduceat(in_id & ((expected < 0x20) | (expected == ord('"')) | (expected == ord("\\"))), firsts)
        return ~(fits & same & ~escaped)

    def place(self, ids: list[str], hashes: np.ndarray | None = None) -> np.ndarray:
        """The corpus position of each id (-1: not in the corpus): :func:`place_ids`, with
        ids whose hash several snippets share looked up through this scan's cache."""
        return place_ids(self.corpus, ids, self.position, hashes)


def record_statuses(records: list) -> np.ndarray:
    """The status code (:data:`curate.store.index.STATUS_CODES`) of each of `records` (skeletons,
    strict structs or Annotations: anything with the record's fields as attributes)."""
    return np.fromiter(map(STATUS_CODES.__getitem__, map(_STATUS, records)), dtype=np.int8, count=len(records))


def record_facts(records: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the index keeps of each of `records` besides its place and status: its text's
    length (the last story's end), its text digest (kind and key, :func:`digest_keys`) and
    its editing seconds."""
    count = len(records)
    text_lengths = np.fromiter(map(_END, map(_LAST, map(_STORIES, records))), dtype=np.int64, count=count)
    digest_kinds, digests = digest_keys(list(map(_TEXT_SHA256, records)))
    seconds = np.fromiter(map(_SECONDS, records), dtype=np.float64, count=count)
    return text_lengths, digest_kinds, digests, seconds


def _decoded_or_none(decode: Callable[[memoryview], object], line: memoryview) -> object | None:
    try:
        return decode(line)
    except (msgspec.MsgspecError, RecursionError):
        return None


def validated_records(lines: list[bytes], positions: np.ndarray, corpus: "Corpus", record_type: type[Annotation]) -> list | None:
    """The records of `lines` (whole journal lines, each ending with a newline, placed at
    corpus `positions`), each validated as a strict scan validates a line (checked all at
    once by :mod:`curate.store.strict`, else read by pydantic) and found at its snippet as a
    strict scan finds it (its snippet_id is exactly that snippet's); None if any is not."""
    if not lines:
        return []
    newline = repeat(b"\n")
    if not all(map(bytes.endswith, lines, newline)) or sum(map(bytes.count, lines, newline)) != len(lines):
        return None  # not whole lines
    scanner = LineScanner(JournalIndex.empty(0), record_type, corpus, strict=True)
    kept, records, problems = scanner.validate_each(lines, 1)
    if problems or kept is not None:
        return None
    ids = list(map(_SNIPPET_ID, records))
    found = np.asarray(positions, dtype=np.int64).copy()
    scanner.confirm(ids, found)
    return records if np.array_equal(found, positions) else None


def id_hashes(ids: list[str]) -> np.ndarray:
    """:func:`curate.store.snippets.id_hash` of every id, with the per-id work in C (map) and
    the combining in numpy."""
    encoded = list(map(str.encode, ids, repeat("utf-8"), repeat("surrogatepass")))
    hashes = np.fromiter(map(zlib.crc32, encoded), dtype=np.uint64, count=len(ids)) << np.uint64(32)
    hashes |= np.fromiter(map(zlib.adler32, encoded), dtype=np.uint64, count=len(ids))
    return hashes


def place_ids(corpus: "Corpus", ids: list[str], position: "Callable[[str], int | None] | None" = None, hashes: np.ndarray | None = None) -> np.ndarray:
    """The corpus position of each id (-1: not in the corpus), by its hash in the snippet
    index (`hashes`: their :func:`id_hashes`, when the caller has them); an id whose hash more
    than one snippet shares is looked up exactly (by `position`, default ``corpus.position``).
    (An id not in the corpus whose 64-bit hash equals a snippet's is placed there: a journal
    record so placed is found out when it is read, and the journal is then rebuilt strictly.)"""
    table = corpus.index
    sorted_hashes = table.hashes
    if len(sorted_hashes) == 0 or not ids:
        return np.full(len(ids), -1, dtype=np.int64)
    if hashes is None:
        hashes = id_hashes(ids)
    order = np.argsort(hashes)  # sorted needles: the search walks the table in order
    found = np.empty(len(ids), dtype=np.int64)
    found[order] = np.searchsorted(sorted_hashes, hashes[order])
    last = len(sorted_hashes) - 1
    clipped = np.minimum(found, last)
    hit = (found <= last) & (sorted_hashes[clipped] == hashes)
    positions = np.where(hit, table.positions[clipped], -1).astype(np.int64)
    shared = hit & (found < last) & (sorted_hashes[np.minimum(found + 1, last)] == hashes)
    lookup = position or corpus.position
    for number in np.flatnonzero(shared).tolist():
        exact = lookup(ids[number])
        positions[number] = -1 if exact is None else exact
    return positions
