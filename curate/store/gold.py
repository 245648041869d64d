"""gold.jsonl: the adjudicated record of each snippet, rewritten atomically on every change.

Several processes may accept gold at once (a review desk, `curate gold`): each rewrite takes
the gold lock, re-reads the file if another process changed it since, and writes the merged
records through a temporary file, so gold.jsonl is always one complete version.
"""

from __future__ import annotations

import errno
import math
import os
import time
import weakref
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
import numpy as np
from filelock import FileLock, Timeout
from pydantic import ValidationError

from curate.model import GoldAnnotation
from curate.store.errors import SaveFailed, StoreError, cannot_save, error_reason
from curate.store.files import atomic_write_bytes, file_signature, pread_up_to, remove_stale_temps
from curate.store.layout import GOLD_NAME
from curate.store.lines import JournalProblem, line_problem, record_line
from curate.store.strict import BoilerplateSpan, EntitySpan, Name, StorySpan

if TYPE_CHECKING:
    from curate.store.corpus import Corpus


class QuickGold(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A gold line as msgspec reads it: :class:`GoldAnnotation`'s fields, types and bounds;
    its structure rules are checked by :func:`quick_gold`."""

    snippet_id: Name
    annotator: Name
    stories: Annotated[list[StorySpan], msgspec.Meta(min_length=1)]
    adjudicator: Name
    text_sha256: str | None = None
    boilerplate: list[BoilerplateSpan] = []
    entities: list[EntitySpan] = []
    status: Literal["done", "skipped", "flagged"] | None = None
    note: str | None = None
    seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    updated_at: str | None = None
    sources: list[str] = []

    @property
    def text_length(self) -> int:
        return self.stories[-1].end


_decode_quick = msgspec.json.Decoder(QuickGold).decode


def quick_gold(line: bytes) -> QuickGold | None:
    """The gold record on `line` read by msgspec, when it is surely one `GoldAnnotation` accepts
    (same fields and values); None when that is not sure (a failed check, or a `\\u` escape,
    which msgspec and pydantic may read apart): then pydantic decides."""
    if b"\\u" in line:
        return None
    try:
        record = _decode_quick(line)
    except (msgspec.MsgspecError, RecursionError):
        return None
    if not math.isfinite(record.seconds):
        return None
    ends = []
    end = 0
    for story in record.stories:  # contiguous from 0, none empty
        if story.start != end or story.end <= end:
            return None
        end = story.end
        ends.append(end)
    for spans in (record.entities, record.boilerplate):  # ordered, not overlapping, each inside one story
        before = -1
        for span in spans:
            if span.end <= span.start or span.start < before:
                return None
            before = span.end
            story = bisect_right(ends, span.start)
            if story >= len(ends) or span.end > ends[story]:
                return None
    return record


def _quick_gold_id(line: bytes) -> str | None:
    """The snippet id of `line` when :func:`quick_gold` finds it surely a gold record, else None."""
    record = quick_gold(line)
    return None if record is None else record.snippet_id


class GoldRecords(MutableMapping[str, GoldAnnotation]):
    """The gold records of a :class:`GoldStore` by snippet id, in the order they were read.

    Holds where each record's line is in the version of gold.jsonl that was read (a slot: an
    index into byte offsets and lengths), and validates a record only when it is asked for (the
    last few asked are kept). A record set in memory (`records[id] = record`) is held as is.
    """

    _CACHED = 256

    def __init__(self, fd: int | None = None) -> None:
        self._fd = fd
        if fd is not None:
            weakref.finalize(self, os.close, fd)
        self._where: dict[str, int] = {}  # snippet id -> slot; -1: the record is in `_held`
        self._held: dict[str, GoldAnnotation] = {}
        self._offsets = np.zeros(0, dtype=np.int64)
        self._lengths = np.zeros(0, dtype=np.int64)
        self._cache: OrderedDict[str, GoldAnnotation] = OrderedDict()
        self._unterminated = -1  # the slot of a last line without its newline

    def line(self, slot: int) -> bytes:
        """The raw line of `slot` as read from gold.jsonl (ending as it does in the file)."""
        return self._read(int(self._offsets[slot]), int(self._lengths[slot]))

    def _read(self, start: int, length: int) -> bytes:
        assert self._fd is not None
        data = pread_up_to(self._fd, length, start)
        if len(data) != length:
            raise OSError(errno.EIO, f"{GOLD_NAME} is shorter than when it was read")
        return data

    def remember(self, record: GoldAnnotation) -> None:
        """Keep `record` among the last asked (each step one dict operation, so a UI worker
        thread asking at the same time cannot break it)."""
        self._cache.pop(record.snippet_id, None)
        self._cache[record.snippet_id] = record
        while len(self._cache) > self._CACHED:
            try:
                self._cache.popitem(last=False)
            except KeyError:
                break

    def __getitem__(self, snippet_id: str) -> GoldAnnotation:
        slot = self._where[snippet_id]
        if slot < 0:
            return self._held[snippet_id]
        record = self._cache.get(snippet_id)
        if record is None:
            record = GoldAnnotation.model_validate_json(self.line(slot))
        self.remember(record)
        return record

    def __setitem__(self, snippet_id: str, record: GoldAnnotation) -> None:
        self._cache.pop(snippet_id, None)
        self._where[snippet_id] = -1
        self._held[snippet_id] = record

    def __delitem__(self, snippet_id: str) -> None:
        del self._where[snippet_id]
        self._held.pop(snippet_id, None)
        self._cache.pop(snippet_id, None)

    def __contains__(self, snippet_id: object) -> bool:
        return snippet_id in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


class GoldStore:
    """gold.jsonl: one record per snippet, rewritten atomically (under a lock) on every change.

    Opening reads each line's snippet id and checks the line is a valid record (msgspec when
    the line is surely valid, pydantic deciding the rest), keeping only where each record is;
    :meth:`get` validates one record when asked. A rewrite copies the lines of records not
    changed as their bytes in the file and writes the changed ones, in corpus order.
    """

    def __init__(self, corpus: "Corpus") -> None:
        self.corpus = corpus
        self.path = corpus.layout.gold
        self.records = GoldRecords()
        self.problems: list[JournalProblem] = []
        self._signature: dict[str, int] | None = None
        # Corpus positions of records put (known then); those of lines read are found at the
        # first rewrite, all at once, and kept per slot (a rewrite puts records in corpus order).
        self._positions: dict[str, int] = {}
        self._slot_positions: np.ndarray | None = None
        self._read()

    def _read(self) -> None:
        self.problems = []
        self._superseded: set[int] = set()
        self._signature = None
        self._slot_positions = None
        if not self.path.exists():
            self.records = GoldRecords()
            return
        self._signature = file_signature(self.path)
        records = GoldRecords(os.open(self.path, os.O_RDONLY))  # kept: records are read from this version
        where, offsets, lengths = records._where, array("q"), array("q")
        with open(records._fd, "rb", closefd=False) as handle:
            offset = 0
            for line_number, line in enumerate(handle, start=1):
                length = len(line)
                if line.strip():
                    snippet_id = _quick_gold_id(line)
                    if snippet_id is None:
                        try:
                            snippet_id = GoldAnnotation.model_validate_json(line).snippet_id
                        except ValidationError as error:
                            reason, torn = line_problem(line, error)
                            self.problems.append(JournalProblem(line_number, reason, torn))
                    if snippet_id is not None:
                        if snippet_id in where:
                            self.problems.append(JournalProblem(line_number, f"second gold record for {snippet_id!r}; this later one is used"))
                            self._superseded.add(line_number)
                        where[snippet_id] = len(offsets)
                        offsets.append(offset)
                        lengths.append(length)
                offset += length
            if where and not line.endswith(b"\n") and line.strip() and where.get(snippet_id) == len(offsets) - 1:
                records._unterminated = len(offsets) - 1
        records._offsets = np.frombuffer(offsets, dtype=np.int64) if offsets else records._offsets
        records._lengths = np.frombuffer(lengths, dtype=np.int64) if lengths else records._lengths
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, snippet_id: str) -> bool:
        return snippet_id in self.records

    def get(self, snippet_id: str) -> GoldAnnotation | None:
        return self.records.get(snippet_id)

    def put(self, *records: GoldAnnotation, positions: list[int] | None = None) -> None:
        """Add or replace records and rewrite gold.jsonl atomically, under its lock.

        `positions`, when the caller knows them (one per record, read from the corpus), are the
        records' corpus positions: then they are not looked up again."""
        if positions is not None:
            if len(positions) != len(records):
                raise ValueError("one position per record")
            for record, position in zip(records, positions):
                self._positions[record.snippet_id] = position
        for record in records:
            if record.snippet_id in self._positions:
                continue
            position = self.corpus.position(record.snippet_id)
            if position is None:
                raise StoreError(f"snippet {record.snippet_id!r} is not in {self.corpus.path}")
            self._positions[record.snippet_id] = position
        with self._locked():
            self._write({record.snippet_id: record for record in records}, set())

    def remove(self, *snippet_ids: str) -> None:
        """Drop the gold records of these snippets (if any) and rewrite gold.jsonl atomically."""
        with self._locked():
            self._write({}, set(snippet_ids))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.corpus.layout.lock(GOLD_NAME)
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(lock_path), timeout=10, thread_local=False)
            lock.acquire()
        except Timeout:
            raise StoreError(f"{self.path} is being written by another curate process (it holds {lock_path} for over 10 s); try again") from None
        except OSError as error:
            raise SaveFailed(cannot_save(error, self.corpus.path, "gold"), error.errno) from None
        try:
            # Another process may have rewritten gold since we read it: merge onto its version.
            current = file_signature(self.path) if self.path.exists() else None
            if current != self._signature:
                self._read()
            self._refuse_damaged()
            yield
        finally:
            lock.release()

    def _refuse_damaged(self) -> None:
        """A rewrite keeps only the records read, so a line that could not be read would be lost:
        refuse, naming it, until someone repairs or removes it (a second record of a snippet is
        not lost: the later one is the snippet's gold)."""
        damaged = [problem for problem in self.problems if problem.line not in self._superseded]
        if damaged:
            first = damaged[0]
            more = f" (and {len(damaged) - 1} more damaged line(s))" if len(damaged) > 1 else ""
            raise StoreError(
                f"{self.path}:{first.line}: {first.reason}{more}; gold.jsonl is not rewritten while it holds a line "
                "that cannot be read, which the rewrite would drop: repair or remove the line (curate validate lists them)"
            )

    def _place_slots(self) -> np.ndarray:
        """Corpus positions of the lines read (len(corpus) for an id the corpus lacks), per slot:
        found all at once by id hash at the first rewrite, then kept."""
        if self._slot_positions is None:
            where = self.records._where
            slots = np.fromiter(where.values(), dtype=np.int64, count=len(where))
            found = self.corpus.positions_of(list(where))
            placed = np.full(len(self.records._offsets), len(self.corpus), dtype=np.int64)
            read = slots >= 0
            placed[slots[read]] = np.where(found[read] >= 0, found[read], len(self.corpus))
            self._slot_positions = placed
        return self._slot_positions

    def _write(self, updates: dict[str, GoldAnnotation], removed: set[str]) -> None:
        """Rewrite gold.jsonl as the records with `updates` put and `removed` dropped; only once
        it is saved do `self.records` change, so what callers count follows the disk.

        Lines of records not changed are copied as their bytes (runs of neighbouring lines
        read at once); the others are written by pydantic; all in corpus order, ties by id."""
        records = self.records
        where, held = records._where, records._held
        missing = len(self.corpus)
        slot_positions = self._place_slots()
        # Lines copied: every slot in use but those of records removed or put again.
        slots = np.fromiter(where.values(), dtype=np.int64, count=len(where))
        dropped = [where[snippet_id] for snippet_id in removed | updates.keys() if where.get(snippet_id, -1) >= 0]
        slots = slots[slots >= 0]
        if dropped:
            slots = slots[~np.isin(slots, dropped)]
        # Records written by pydantic: those put, and those set in memory and not removed.
        written = {snippet_id: record for snippet_id, record in held.items() if snippet_id not in removed} | updates
        written_ids = list(written)
        unplaced = [snippet_id for snippet_id in written_ids if snippet_id not in self._positions]
        if unplaced:
            found = self.corpus.positions_of(unplaced)
            self._positions.update(zip(unplaced, np.where(found >= 0, found, missing).tolist()))
        lines = [record_line(record) for record in written.values()]
        positions = np.concatenate((slot_positions[slots], np.asarray([self._positions[snippet_id] for snippet_id in written_ids], dtype=np.int64)))
        order = np.argsort(positions, kind="stable")
        placed = positions[order]
        if len(placed) > 1 and (placed[1:] == placed[:-1]).any():
            order = self._ties_by_id(order, placed, slots, written_ids)
        # Per line written: its slot (-1: one of `lines`), its old place and its new length.
        copied = order < len(slots)
        out_slots = np.full(len(order), -1, dtype=np.int64)
        out_slots[copied] = slots[order[copied]]
        starts = np.full(len(order), -1, dtype=np.int64)
        starts[copied] = records._offsets[out_slots[copied]]
        ends = np.full(len(order), -1, dtype=np.int64)
        ends[copied] = starts[copied] + records._lengths[out_slots[copied]]
        unterminated = copied & (out_slots == records._unterminated)
        new_lengths = np.where(copied, ends - starts + unterminated, 0)
        new_lengths[~copied] = [len(lines[number - len(slots)]) for number in order[~copied].tolist()]
        # A run of neighbouring lines of the old file is read at once; a break comes before a
        # written line, after it, and where the old lines are not neighbours.
        joined = np.zeros(len(order), dtype=bool)
        joined[1:] = copied[1:] & copied[:-1] & (starts[1:] == ends[:-1]) & ~unterminated[:-1]
        breaks = np.flatnonzero(~joined).tolist() + [len(order)]

        def chunks() -> Iterator[bytes]:
            for first, after in zip(breaks, breaks[1:]):
                if not copied[first]:
                    yield lines[int(order[first]) - len(slots)]
                    continue
                start, end = int(starts[first]), int(ends[after - 1])
                for offset in range(start, end, _RUN):
                    yield records._read(offset, min(_RUN, end - offset))
                if unterminated[after - 1]:  # the file's last line, without its newline
                    yield b"\n"

        try:
            # Under the gold lock: a `.gold.jsonl.*.tmp` is a leftover of a killed writer.
            remove_stale_temps(self.path.parent, self.path.name, time.time())
            atomic_write_bytes(self.path, chunks())
        except OSError as error:
            raise SaveFailed(f"{error_reason(error)}: {GOLD_NAME} not saved; it is left as it was before", error.errno) from error
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            self._signature = None  # saved, but not open again: the next change reads it anew
            raise
        # Slots stay; the records written by pydantic get new ones after the last.
        count = len(records._offsets)
        new_offsets = np.cumsum(new_lengths) - new_lengths
        saved = GoldRecords(fd)
        saved._offsets = np.zeros(count + len(written_ids), dtype=np.int64)
        saved._lengths = np.zeros(count + len(written_ids), dtype=np.int64)
        self._slot_positions = np.concatenate((slot_positions, np.zeros(len(written_ids), dtype=np.int64)))
        new_slots = np.where(copied, out_slots, count + order - len(slots))
        saved._offsets[new_slots] = new_offsets
        saved._lengths[new_slots] = new_lengths
        self._slot_positions[new_slots] = placed
        saved._where, saved._cache = where, records._cache
        for snippet_id in removed:
            where.pop(snippet_id, None)
            saved._cache.pop(snippet_id, None)
        for number, snippet_id in enumerate(written_ids):
            where[snippet_id] = count + number  # a new id goes last, as in a dict
            saved._cache.pop(snippet_id, None)
        for record in updates.values():
            saved.remember(record)  # `get` gives back the very record put
        self.records = saved
        self._signature = file_signature(self.path)

    def _ties_by_id(self, order: np.ndarray, placed: np.ndarray, slots: np.ndarray, written_ids: list[str]) -> np.ndarray:
        """`order` with the records at one position (ids the corpus lacks) sorted by id, as before."""
        named = {slot: snippet_id for snippet_id, slot in self.records._where.items() if slot >= 0}
        count = len(slots)

        def snippet_id(number: int) -> str:
            return named[int(slots[number])] if number < count else written_ids[number - count]

        order = order.copy()
        bounds = np.flatnonzero(np.diff(placed) != 0) + 1
        firsts, afters = np.concatenate(([0], bounds)), np.concatenate((bounds, [len(order)]))
        for first, after in zip(firsts[afters - firsts > 1].tolist(), afters[afters - firsts > 1].tolist()):
            order[first:after] = sorted(order[first:after].tolist(), key=snippet_id)
        return order


_RUN = 1 << 20  # bytes of neighbouring unchanged lines copied in one read


class _GoldHead(msgspec.Struct):
    """The two fields of a gold line a pass reads before deciding to validate the record."""

    snippet_id: str
    updated_at: str | None = None


_decode_head = msgspec.json.Decoder(_GoldHead).decode


class GoldLines:
    """Where each snippet's gold record is in gold.jsonl, without holding the records.

    One streaming pass reads each line's snippet id (nothing else is parsed) and keeps only
    corpus positions, byte offsets and lengths, so a pass over a million gold records holds
    arrays, not records. :meth:`record_at` reads and validates one record when its content is
    needed, as :class:`GoldStore` would read it: the last valid line of the snippet wins.
    """

    def __init__(self, corpus: "Corpus", *, batch: int = 65536) -> None:
        self.corpus = corpus
        self.path = corpus.layout.gold
        self._handle = None
        positions: list[np.ndarray] = []
        offsets: list[int] = []
        lengths: list[int] = []
        ids: list[str] = []
        if self.path.exists():
            with self.path.open("rb") as handle:
                offset = 0
                for line in handle:
                    try:
                        head = _decode_head(line)
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        head = None  # unreadable: GoldStore would skip it too
                    if head is not None:
                        offsets.append(offset)
                        lengths.append(len(line))
                        ids.append(head.snippet_id)
                        if len(ids) >= batch:
                            positions.append(corpus.positions_of(ids))
                            ids = []
                    offset += len(line)
        if ids:
            positions.append(corpus.positions_of(ids))
        line_positions = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
        kept = np.flatnonzero(line_positions >= 0)  # ids the corpus does not hold have no records to compare
        # Each snippet's lines, newest first: sorted by position, then by line, last line first.
        order = kept[np.lexsort((-kept, line_positions[kept]))]
        self._line_positions = line_positions[order]
        self._offsets = np.asarray(offsets, dtype=np.int64)[order] if len(order) else np.zeros(0, dtype=np.int64)
        self._lengths = np.asarray(lengths, dtype=np.int64)[order] if len(order) else np.zeros(0, dtype=np.int64)
        self.positions, self._first = np.unique(self._line_positions, return_index=True)

    def __len__(self) -> int:
        return len(self.positions)

    def _lines_of(self, index: int) -> Iterator[bytes]:
        """The gold lines placed at the `index`-th position, newest first (read by pread from
        one handle, opened on first use and closed by :meth:`close`)."""
        start = int(self._first[index])
        end = int(self._first[index + 1]) if index + 1 < len(self._first) else len(self._line_positions)
        if self._handle is None:
            self._handle = self.path.open("rb")
        for line in range(start, end):
            yield pread_up_to(self._handle.fileno(), int(self._lengths[line]), int(self._offsets[line]))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "GoldLines":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def saved_at(self, index: int) -> str | None:
        """The `updated_at` of the gold of the `index`-th position ('' when it has none), read
        from its line without validating it; None when the snippet has several lines (then
        which one is its gold takes :meth:`record_at`)."""
        end = int(self._first[index + 1]) if index + 1 < len(self._first) else len(self._line_positions)
        if end - int(self._first[index]) > 1:
            return None
        return _decode_head(next(self._lines_of(index))).updated_at or ""

    def record_at(self, index: int) -> GoldAnnotation | None:
        """The gold record of the `index`-th position, validated (None when no line of that
        snippet is a valid gold record of it)."""
        snippet_id = self.corpus.snippet_id(int(self.positions[index]))
        for line in self._lines_of(index):
            try:
                record = GoldAnnotation.model_validate_json(line)
            except ValidationError:
                continue
            if record.snippet_id == snippet_id:
                return record
        return None
