"""gold.jsonl: the adjudicated record of each snippet, rewritten atomically on every change.

Several processes may accept gold at once (a review desk, `curate gold`): each rewrite takes
the gold lock, re-reads the file if another process changed it since, and writes the merged
records through a temporary file, so gold.jsonl is always one complete version.
"""

from __future__ import annotations

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

from curate.model import MAX_OFFSET, GoldAnnotation
from curate.store.errors import SaveFailed, StoreError, cannot_save, error_reason
from curate.store.files import atomic_write_bytes, file_signature, pread_up_to, remove_stale_temps
from curate.store.layout import GOLD_NAME
from curate.store.lines import JournalProblem, line_problem, record_line

if TYPE_CHECKING:
    from curate.store.corpus import Corpus


_Offset = Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET)]
_Name = Annotated[str, msgspec.Meta(min_length=1)]


class _QuickStory(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    start: _Offset
    end: _Offset
    truncated: bool = False


class _QuickSpan(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    start: _Offset
    end: _Offset
    kind: _Name


class _QuickEntity(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    start: _Offset
    end: _Offset
    label: _Name


class _QuickGold(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A gold line as msgspec checks it on open: :class:`GoldAnnotation`'s fields, types and
    bounds; its structure rules are checked by :func:`_quick_gold_id`."""

    snippet_id: _Name
    annotator: _Name
    stories: Annotated[list[_QuickStory], msgspec.Meta(min_length=1)]
    adjudicator: _Name
    text_sha256: str | None = None
    boilerplate: list[_QuickSpan] = []
    entities: list[_QuickEntity] = []
    status: Literal["done", "skipped", "flagged"] | None = None
    note: str | None = None
    seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    updated_at: str | None = None
    sources: list[str] = []


_decode_quick = msgspec.json.Decoder(_QuickGold).decode


def _quick_gold_id(line: bytes) -> str | None:
    """The snippet id of `line` when msgspec finds it surely a record `GoldAnnotation` accepts;
    None when that is not sure (a failed check, or a `\\u` escape, which msgspec and pydantic
    may read apart): then pydantic decides."""
    if b"\\u" in line:
        return None
    try:
        record = _decode_quick(line)
    except msgspec.MsgspecError:
        return None
    if not math.isfinite(record.seconds) or record.stories[0].start != 0:
        return None
    end = 0
    for story in record.stories:
        if story.start != end or story.end <= story.start:
            return None
        end = story.end
    ends = [story.end for story in record.stories]
    for spans in (record.entities, record.boilerplate):
        before = -1
        for span in spans:
            if span.end <= span.start or span.start < before:
                return None
            before = span.end
            story = bisect_right(ends, span.start)
            if story >= len(ends) or span.end > ends[story]:
                return None
    return record.snippet_id


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
        self._where: dict[str, int | GoldAnnotation] = {}
        self._offsets = array("q")
        self._lengths = array("q")
        self._cache: OrderedDict[str, GoldAnnotation] = OrderedDict()
        self._unterminated = -1  # the slot of a last line without its newline

    def line(self, slot: int) -> bytes:
        """The raw line of `slot` as read from gold.jsonl (ending as it does in the file)."""
        assert self._fd is not None
        return pread_up_to(self._fd, self._lengths[slot], self._offsets[slot])

    def remember(self, record: GoldAnnotation) -> None:
        self._cache[record.snippet_id] = record
        self._cache.move_to_end(record.snippet_id)
        while len(self._cache) > self._CACHED:
            self._cache.popitem(last=False)

    def __getitem__(self, snippet_id: str) -> GoldAnnotation:
        value = self._where[snippet_id]
        if not isinstance(value, int):
            return value
        record = self._cache.get(snippet_id)
        if record is None:
            record = GoldAnnotation.model_validate_json(self.line(value))
        self.remember(record)
        return record

    def __setitem__(self, snippet_id: str, record: GoldAnnotation) -> None:
        self._cache.pop(snippet_id, None)
        self._where[snippet_id] = record

    def __delitem__(self, snippet_id: str) -> None:
        del self._where[snippet_id]
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
        where, offsets, lengths = records._where, records._offsets, records._lengths
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

    def _placed(self, ids: list[str], values: list[int | GoldAnnotation]) -> np.ndarray:
        """Corpus positions of the records `ids` (len(corpus) for an id the corpus lacks)."""
        missing = len(self.corpus)
        records = self.records
        if self._slot_positions is None:  # lines read from the file: placed all at once, by id hash
            read = [(snippet_id, slot) for snippet_id, slot in records._where.items() if isinstance(slot, int)]
            found = self.corpus.positions_of([snippet_id for snippet_id, _ in read])
            placed = np.full(len(records._offsets), missing, dtype=np.int64)
            placed[np.fromiter((slot for _, slot in read), dtype=np.int64, count=len(read))] = np.where(found >= 0, found, missing)
            self._slot_positions = placed
        positions = np.empty(len(ids), dtype=np.int64)
        unplaced = []
        for number, (snippet_id, value) in enumerate(zip(ids, values)):
            if isinstance(value, int):
                positions[number] = self._slot_positions[value]
            elif snippet_id in self._positions:
                positions[number] = self._positions[snippet_id]
            else:
                unplaced.append(number)
        if unplaced:  # records set in memory without a put
            found = self.corpus.positions_of([ids[number] for number in unplaced])
            positions[unplaced] = np.where(found >= 0, found, missing)
        return positions

    def _write(self, updates: dict[str, GoldAnnotation], removed: set[str]) -> None:
        """Rewrite gold.jsonl as the records with `updates` put and `removed` dropped; only once
        it is saved do `self.records` change, so what callers count follows the disk.

        Lines of records not changed are copied as their bytes (runs of neighbouring lines in
        one read); the others are written by pydantic, all in corpus order (ties by id)."""
        records = self.records
        where = records._where
        ids = [snippet_id for snippet_id in where if snippet_id not in removed] if removed else list(where)
        ids += [snippet_id for snippet_id in updates if snippet_id not in where and snippet_id not in removed]
        values = [updates[snippet_id] if snippet_id in updates else where[snippet_id] for snippet_id in ids]
        positions = self._placed(ids, values)
        order = np.argsort(positions, kind="stable").tolist()
        sorted_positions = positions[order]
        ties = np.flatnonzero(sorted_positions[1:] == sorted_positions[:-1])
        if len(ties):  # records at one position (ids the corpus lacks): by id, as before
            bounds = np.flatnonzero(np.diff(sorted_positions) != 0) + 1
            starts = np.concatenate(([0], bounds)).tolist()
            stops = np.concatenate((bounds, [len(order)])).tolist()
            for start, stop in zip(starts, stops):
                if stop - start > 1:
                    order[start:stop] = sorted(order[start:stop], key=ids.__getitem__)
        new_offsets = array("q")
        new_lengths = array("q")

        def lines() -> Iterator[bytes]:
            written = 0
            run_start = run_end = -1  # a run of neighbouring lines of the old file, read at once
            for number in order:
                value = values[number]
                if isinstance(value, int):
                    start, length = records._offsets[value], records._lengths[value]
                    if start != run_end or run_end - run_start >= _RUN:
                        if run_end > run_start:
                            yield pread_up_to(records._fd, run_end - run_start, run_start)
                        run_start = start
                    run_end = start + length
                    if value == records._unterminated:  # the file's last line, without its newline
                        yield pread_up_to(records._fd, run_end - run_start, run_start) + b"\n"
                        run_start = run_end = -1
                        length += 1
                    new_offsets.append(written)
                    new_lengths.append(length)
                    written += length
                else:
                    if run_end > run_start:
                        yield pread_up_to(records._fd, run_end - run_start, run_start)
                        run_start = run_end = -1
                    line = record_line(value)
                    new_offsets.append(written)
                    new_lengths.append(len(line))
                    written += len(line)
                    yield line
            if run_end > run_start:
                yield pread_up_to(records._fd, run_end - run_start, run_start)

        try:
            # Under the gold lock: a `.gold.jsonl.*.tmp` is a leftover of a killed writer.
            remove_stale_temps(self.path.parent, self.path.name, time.time())
            atomic_write_bytes(self.path, lines())
        except OSError as error:
            raise SaveFailed(f"{error_reason(error)}: {GOLD_NAME} not saved; it is left as it was before", error.errno) from error
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            self._signature = None  # saved, but not open again: the next change reads it anew
            raise
        saved = GoldRecords(fd)
        saved._where = where
        for snippet_id in removed:
            where.pop(snippet_id, None)
        for snippet_id, record in updates.items():
            where[snippet_id] = record  # a new id goes last, as a dict put it
        for slot, number in enumerate(order):
            where[ids[number]] = slot
        saved._offsets, saved._lengths = new_offsets, new_lengths
        saved._cache = records._cache
        for snippet_id in removed | updates.keys():
            saved._cache.pop(snippet_id, None)
        for record in updates.values():
            saved.remember(record)  # `get` gives back the very record put
        self.records = saved
        self._slot_positions = sorted_positions
        self._signature = file_signature(self.path)


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
