"""Journals: append-only JSONL files of annotation records, one per annotator (and suggestions).

The last valid record per snippet wins. A journal is read through its index
(:mod:`curate.store.index`), so opening one reads only what was appended since the index was
saved (:mod:`curate.store.scan` reads those lines), and reading a snippet's record is one
pread at a known offset. Appends are all or nothing (:mod:`curate.store.journalfile`).
Writers take the journal's lock (one writer per journal); readers never wait.
"""

from __future__ import annotations

import errno
import mmap
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock, Timeout
from pydantic import ValidationError

from curate.model import STATUSES, Annotation
from curate.store.errors import JournalLocked, SaveFailed, StaleIndex, StoreError, cannot_save, error_reason
from curate.store.files import atomic_write_bytes, fsync_directory, nearest_existing, remove_stale_temps
from curate.store.index import CODE_STATUS, IN_PROGRESS, NO_RECORD, STATUS_CODES, JournalIndex
from curate.store.journalfile import JournalFile
from curate.store.lines import JournalProblem, record_line
from curate.store.scan import LineScanner, record_facts, record_statuses, validated_records

if TYPE_CHECKING:
    from pathlib import Path

    from curate.store.corpus import Corpus

# A journal is compacted when it is this many times larger than its live records ...
COMPACT_RATIO = 4
# ... and at least this large, so small journals are left alone.
COMPACT_MIN_BYTES = 1 << 20
# A reader re-saves a journal's index when it had to read this many new bytes.
_INDEX_REFRESH_BYTES = 1 << 20


def _identity(stat: os.stat_result) -> list[int]:
    """The journal file's inode and status-change time, saved with its index (see JournalIndex.load)."""
    return [stat.st_ino, stat.st_ctime_ns]


class Journal:
    """An append-only JSONL file of annotation records; the last valid record per snippet wins.

    Opened read-only by default; `writable=True` takes the journal's lock (refusing a second
    writer), allows :meth:`append`, and compacts the journal on opening and closing when it
    is :attr:`compact_ratio` times larger than its live records (and at least
    :attr:`compact_min_bytes` long).

    A journal keeps the file it read open, so offsets stay valid even if another process
    compacts (replaces) the file; :meth:`refresh` takes in what was written since.

    Statuses are asked by name: :meth:`status_of`, :meth:`status_mask`,
    :meth:`positions_with_status`, :meth:`counts`.
    """

    compact_ratio = COMPACT_RATIO
    compact_min_bytes = COMPACT_MIN_BYTES

    def __init__(self, corpus: "Corpus", path: "Path", *, writable: bool = False, record_type: type[Annotation] = Annotation, facts_later: bool = False) -> None:
        self.corpus = corpus
        self.path = path
        self.writable = writable
        self.record_type = record_type
        # A quick scan leaves the records' text facts and seconds for later (read when first
        # asked: text_changed_positions, seconds_at), for an opener that needs only statuses.
        self.facts_later = facts_later
        self.file = JournalFile(path, self.shown_name)
        self._lock: FileLock | None = None
        # Counts index rebuilds, so iterations notice one happened under them.
        self.generation = 0
        self.tail_problem: JournalProblem | None = None
        # The file's (inode, ctime, size) when checkable_by_reading last said yes.
        self._identity_unchecked: tuple[int, int, int] | None = None
        # True while a rebuild reads every line strictly (see curate.store.scan).
        self._strict = False
        # Sized by _load: a first scan may build the corpus's snippet index beside it.
        self.index = JournalIndex.empty(0)
        if writable:
            self._acquire()
            # Under the lock no other curate process writes this journal: temporary files of
            # its compaction are leftovers of a killed one. Readers save the derived index
            # without the lock; one whose temp goes now only skips saving (quietly).
            now = time.time()
            remove_stale_temps(self.path.parent, self.path.name, now)
            remove_stale_temps(self.index_path.parent, self.index_path.name, now)
        try:
            self._load()
            if writable and self.path.exists():
                # The file is made by the first append, not here (no empty journal before a real save).
                self._open_for_append()
                if self.needs_compaction():
                    self.compact()
        except BaseException:
            self.close()
            raise

    def _reset(self) -> None:
        self.index = JournalIndex.empty(len(self.corpus))
        self.tail_problem = None

    # ---- opening

    @property
    def index_path(self) -> "Path":
        """The derived index beside the journal (under .curate/), rebuilt when it does not match."""
        return self.corpus.layout.journal_index(self.path)

    @property
    def lock_path(self) -> "Path":
        return self.corpus.layout.lock(self.corpus.layout.file_key(self.path))

    @property
    def shown_name(self) -> str:
        """The journal's path as messages show it: relative to the corpus folder when inside it."""
        try:
            return str(self.path.relative_to(self.corpus.path))
        except ValueError:
            return str(self.path)

    @classmethod
    def check_writable(cls, corpus: "Corpus", path: "Path") -> None:
        """Refuse (StoreError) as opening `path` for writing would, if another process holds its
        lock or its folder is read-only, without reading it: the lock is taken and let go, so a
        caller can refuse at once before the slow part of opening (reading or indexing it)."""
        probe = cls.__new__(cls)
        probe.corpus = corpus
        probe.path = path
        probe._lock = None
        probe._acquire()
        assert probe._lock is not None
        probe._lock.release()

    def _acquire(self) -> None:
        """Take the journal's lock; refuse at once (StoreError) if another process holds it or
        if the corpus folder is read-only, rather than at the first save."""
        lock_path = self.lock_path
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(lock_path), timeout=0, thread_local=False)
            lock.acquire()
        except Timeout:
            raise JournalLocked(
                f"{self.path} is open for writing in another curate process; close that one "
                f"first (it holds the lock {lock_path})"
            ) from None
        except OSError as error:
            raise SaveFailed(cannot_save(error, self.corpus.path, self.shown_name), error.errno) from None
        self._lock = lock
        target = self.path if self.path.exists() else nearest_existing(self.path.parent)
        if not os.access(target, os.W_OK):
            lock.release()
            self._lock = None
            folder = target if target.is_dir() else target.parent
            raise SaveFailed(f"{folder} is read-only: cannot save {self.shown_name} there", errno.EACCES)

    def _load(self, *, use_index: bool = True) -> None:
        if not self.path.exists():
            self._reset()
            return
        self.file.open_reader()
        if not (use_index and self.index_path.exists()) and not self._strict and not self.corpus.index_ready():
            # No snippet index either (a fresh clone): a long quick scan builds it beside.
            self.index, self.tail_problem = JournalIndex.empty(0), None
            scanner = LineScanner(self.index, self.record_type, self.corpus, facts=not self.facts_later)
            assert self.file.reader is not None
            if scanner.scan_beside_snippet_index(self.file.reader):
                self.tail_problem = scanner.tail_problem
                self._save_index_quietly()
                return
        had_index = use_index and self._load_index()
        if not had_index:
            self._reset()
        size_before = self.index.size
        self._scan_from(self.index.size)
        if not had_index or self.index.size - size_before > _INDEX_REFRESH_BYTES:
            self._save_index_quietly()

    def _load_index(self) -> bool:
        """Load the saved index if it matches the journal's size and tail; False if not."""
        try:
            assert self.file.reader is not None
            stat = os.fstat(self.file.reader.fileno())
        except OSError:
            return False
        index = JournalIndex.load(self.index_path, len(self.corpus), stat.st_size, self.file.tail_hash, self.corpus.index.order_digest, _identity(stat))
        if index is None:
            return False
        self.index = index
        if len(index) < len(self.corpus):
            try:
                self._take_new_snippets()
            except StaleIndex:
                self._reset()
                return False
        return True

    def _take_new_snippets(self) -> None:
        """The corpus grew (ingest appends snippets): widen the index and give records that
        waited for an unknown snippet id their place."""
        index = self.index
        index.grow(len(self.corpus))
        for snippet_id, (offset, length) in list(index.unknown.items()):
            position = self.corpus.position(snippet_id)
            if position is None:
                continue
            try:
                record = self._read_record(offset, length)
            except ValidationError:
                raise StaleIndex from None
            index.set(position, offset, length, record.status, record.text_length, record.text_sha256, record.seconds)
            del index.unknown[snippet_id]
            reason = f"unknown snippet id {snippet_id!r}"
            index.problems = [problem for problem in index.problems if problem.reason != reason]

    def save_index(self) -> None:
        """Write the index (offsets, lengths and status per snippet, and what it covers) atomically."""
        reader = self.file.reader
        tail = self.file.tail_hash(self.index.size) if reader is not None else ""
        identity = _identity(os.fstat(reader.fileno())) if reader is not None else None
        self.index.save(self.index_path, tail, self.corpus.index.order_digest(len(self.index)), identity)

    def _save_index_quietly(self) -> None:
        try:
            self.save_index()
        except OSError:
            pass  # the index is derived: a read-only corpus still opens, just reads more

    def _scan_from(self, start: int) -> None:
        """Read the journal from byte `start` (a line start), updating the last record per snippet."""
        assert self.file.reader is not None
        self.tail_problem = None
        scanner = LineScanner(self.index, self.record_type, self.corpus, strict=self._strict, facts=not self.facts_later)
        scanner.scan(self.file.reader, start)
        self.tail_problem = scanner.tail_problem

    def refresh(self) -> None:
        """Take in records other processes appended since this journal was read.

        Reads everything again when the file was replaced (compacted) or shrank.
        """
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        if self.file.reader is None:
            self._load()
            return
        if self.file.reads_inode(stat.st_ino) and stat.st_size >= self.index.size:
            self._scan_from(self.index.size)
            return
        self.file.close_reader()
        self._reset()
        self._load()

    def rebuild(self) -> None:
        """Read the whole journal again, ignoring the saved index, validating every line
        (a strict scan), and save a new index."""
        self.file.close_reader()
        self._reset()
        self._strict = True
        try:
            self._load(use_index=False)
        finally:
            self._strict = False
        self.generation += 1

    def _ensure_checked(self) -> None:
        """Rebuild strictly if a quick scan placed records it did not validate."""
        if not self.index.checked:
            self.rebuild()

    def _ensure_facts(self) -> None:
        """Read the records' text facts and seconds if a quick scan left them for later: the
        journal is scanned again, quickly, facts and all (and the index saved with them)."""
        if self.index.facts:
            return
        if self.file.rollback_to is not None:
            self.file.cut_failed_append()  # a failed append is never read back as records
        self.file.close_reader()
        self._reset()
        later, self.facts_later = self.facts_later, False
        try:
            self._load(use_index=False)
        finally:
            self.facts_later = later
        self.generation += 1

    def text_changed_positions(self) -> np.ndarray:
        """Positions whose last record was saved for another text than the snippet's now
        (its length or text_sha256 differs), from the index: no record is read (unless a
        quick scan left the facts for later: see :meth:`_ensure_facts`)."""
        self._ensure_facts()
        return self.index.changed_texts(*self.corpus.text_facts())

    # ---- reading

    def __len__(self) -> int:
        return int((self.index.status != NO_RECORD).sum())

    @property
    def problems(self) -> list[JournalProblem]:
        """Damaged lines, in file order: invalid records, unknown snippet ids, a torn last line."""
        return self.index.problems + ([self.tail_problem] if self.tail_problem else [])

    @property
    def line_count(self) -> int:
        """Lines in the journal, a torn last line included."""
        return self.index.lines + (1 if self.tail_problem else 0)

    def status_of(self, position: int) -> str | None:
        """The status of the snippet's last record (None: in progress, or no record at all)."""
        return CODE_STATUS.get(int(self.index.status[position]))

    def has_record(self, position: int) -> bool:
        return bool(self.index.status[position] != NO_RECORD)

    def status_mask(self, *statuses: str | None, unrecorded: bool = False) -> np.ndarray:
        """One bool per corpus position: True where the last record's status is one of
        `statuses` (None: in progress), and, with `unrecorded`, where there is no record."""
        return self.index.mask(statuses, unrecorded)

    def positions_with_status(self, *statuses: str | None, unrecorded: bool = False) -> np.ndarray:
        """Corpus positions, in corpus order, that :meth:`status_mask` selects."""
        return np.flatnonzero(self.index.mask(statuses, unrecorded))

    def positions(self) -> np.ndarray:
        """Corpus positions that have a record, in corpus order."""
        return np.flatnonzero(self.index.status != NO_RECORD)

    def counts(self) -> dict[str, int]:
        """How many snippets are done, skipped, flagged, or in progress."""
        status = self.index.status
        values = np.bincount(status[status != NO_RECORD].astype(np.int64), minlength=len(STATUSES) + 1)
        counts = {status: int(values[STATUS_CODES[status]]) for status in STATUSES}
        counts["in_progress"] = int(values[IN_PROGRESS])
        return counts

    def seconds_at(self, positions: np.ndarray) -> np.ndarray:
        """The `seconds` of the last record at each of `positions` (0.0 where there is
        none), from the index: no record is read (`curate stats` takes medians from it)."""
        self._ensure_facts()
        return self.index.seconds[positions]

    def record_at(self, position: int) -> Annotation | None:
        """The last record for the snippet at corpus `position`, or None."""
        return self._checked_record(position)

    def latest(self, snippet_id: str) -> Annotation | None:
        position = self.corpus.position(snippet_id)
        return None if position is None else self.record_at(position)

    def raw_line(self, position: int) -> bytes:
        """The bytes of the last record's line at `position` (which must have one), unparsed:
        for readers that parse lines faster themselves. The index points only at lines it
        validated (an index a quick scan made is rebuilt strictly first), but the file may have
        been changed since: use :meth:`record_at` to be sure."""
        self._ensure_checked()
        offset = int(self.index.offsets[position])
        if offset < 0:
            raise StoreError(f"{self.path}: the last record of snippet {self.corpus.snippet_id(position)!r} is not a valid record; run `curate validate {self.path}`")
        return self.file.pread(offset, int(self.index.lengths[position]))

    def raw_lines(self, positions: np.ndarray) -> Iterator[bytes]:
        """:meth:`raw_line` of each of `positions` (each must have a record), in that order,
        sliced from one memory map of the file this journal has open (no read call per line)."""
        self._ensure_checked()
        return self._placed_lines(positions)

    def _placed_lines(self, positions: np.ndarray) -> Iterator[bytes]:
        """The lines the index places at `positions` (each must have a record), as they are."""
        if not len(positions):
            return
        offsets = self.index.offsets[positions]
        missing = np.flatnonzero(offsets < 0)
        if len(missing):
            self.raw_line(int(positions[missing[0]]))  # raises, naming the snippet
        lengths = self.index.lengths[positions]
        assert self.file.reader is not None
        with mmap.mmap(self.file.reader.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for offset, length in zip(offsets.tolist(), lengths.tolist()):
                yield data[offset : offset + length]

    # ---- validating an index a quick scan made by reading its records

    def checkable_by_reading(self) -> bool:
        """True when a quick scan made the index (not ``checked``) and every line of the journal
        is a record the index places (no superseded record, no blank or damaged line, no
        unknown snippet id, nothing after the last line end): validating the record at every
        position then validates every line, so a reader that reads the records for their
        content anyway can validate them there (:meth:`read_unchecked`) instead of a strict
        rebuild first, and then have the index marked checked (:meth:`complete_check`)."""
        if not self._every_line_placed():
            return False
        # What the file is before the records are read: complete_check reads them all again
        # if it changed meanwhile (another process appended to it or rewrote it in place).
        self._identity_unchecked = self._reader_identity()
        return True

    def _every_line_placed(self) -> bool:
        index = self.index
        if index.checked or index.problems or index.unknown or self.tail_problem is not None:
            return False
        # (Lines appended since the index was read lie past its size: read strictly when next opened.)
        return index.lines == int((index.status != NO_RECORD).sum())

    def _reader_identity(self) -> tuple[int, int, int] | None:
        reader = self.file.reader
        if reader is None:
            return None
        stat = os.fstat(reader.fileno())
        return stat.st_ino, stat.st_ctime_ns, stat.st_size

    def read_unchecked(self, positions: np.ndarray) -> list | None:
        """The records the index places at `positions` (each must have one), in that order, each
        validated as a strict scan would (:func:`curate.store.scan.validated_records`: the line
        is a valid record and its snippet_id is exactly the snippet's); None if any is not (the
        index then is not what a strict scan makes: :meth:`rebuild` it). Records are the msgspec
        structs of :mod:`curate.store.strict` (``Annotation`` for a line only pydantic reads)."""
        records = validated_records(list(self._placed_lines(positions)), positions, self.corpus, self.record_type)
        if records is None or not self._index_says(positions, records):
            return None
        return records

    def _index_says(self, positions: np.ndarray, records: list) -> bool:
        """Whether the index holds what `records` (read at `positions`) say: their statuses and,
        when it has them, their facts (the lines may have been rewritten since the quick scan)."""
        index = self.index
        if not np.array_equal(record_statuses(records), index.status[positions]):
            return False
        if not index.facts:
            return True
        lengths, kinds, digests, seconds = record_facts(records)
        return (
            np.array_equal(lengths, index.text_lengths[positions]) and np.array_equal(kinds, index.digest_kinds[positions])
            and np.array_equal(digests, index.digests[positions]) and np.array_equal(seconds, index.seconds[positions])
        )

    def complete_check(self, read: np.ndarray) -> bool:
        """After :meth:`read_unchecked` validated the records at the positions where `read` (one
        bool per position) is True, validate the others; when all are valid and every line is
        a record (:meth:`checkable_by_reading`), the index is what a strict scan makes: it is
        marked ``checked`` and saved. False, with nothing marked, otherwise."""
        if not self._every_line_placed():
            return False
        if self._identity_unchecked is None or self._reader_identity() != self._identity_unchecked:
            # The file changed since checkable_by_reading (appended to, or rewritten in place):
            # what the readers validated may not be what it holds now, so every record is read.
            read = np.zeros(len(self.index), dtype=bool)
        rest = np.flatnonzero((self.index.status != NO_RECORD) & ~read[: len(self.index)])
        if self.read_unchecked(rest) is None:
            return False
        self.index.checked = True
        self._save_index_quietly()
        return True

    def _read_record(self, offset: int, length: int) -> Annotation:
        return self.record_type.model_validate_json(self.file.pread(offset, length))

    def _checked_record(self, position: int) -> Annotation | None:
        """The record the index places at `position`; if its bytes are not that record (an
        index that no longer matches its journal), the index is rebuilt from the journal."""
        for attempt in range(2):
            offset = int(self.index.offsets[position])
            if offset < 0:
                return None
            try:
                record = self._read_record(offset, int(self.index.lengths[position]))
            except ValidationError:
                record = None
            if record is not None and record.snippet_id == self.corpus.snippet_id(position):
                return record
            if attempt == 0:
                self.rebuild()
        raise StoreError(
            f"{self.path}: the record of snippet {self.corpus.snippet_id(position)!r} does not read back at byte {offset} "
            f"(was the file changed while curate read it?); run `curate validate {self.path}`"
        )

    def records(self) -> Iterator[Annotation]:
        """The last record of every snippet, in corpus order."""
        for _, record in self.items():
            yield record

    def items(self) -> Iterator[tuple[int, Annotation]]:
        """(corpus position, last record) of every snippet with a record, in corpus order."""
        last = -1
        while True:
            generation = self.generation
            for position in self.positions():
                position = int(position)
                if position <= last:
                    continue
                record = self._checked_record(position)
                if self.generation != generation:
                    break  # the index was rebuilt: go on from `last` with the new one
                if record is not None:
                    yield position, record
                    last = position
            else:
                return

    # ---- writing

    def append(self, record: Annotation) -> None:
        """Append one record as one line and fsync before returning."""
        self.append_many([record])

    def append_many(self, records: Iterable[Annotation]) -> int:
        """Append records in one write and one fsync (for batch writers such as `suggest`).

        All or nothing: if the write or its fsync fails, the file is cut back to its size
        before, the journal's state is as before, and SaveFailed says why.
        """
        if not self.writable or self._lock is None:
            raise StoreError(f"{self.path} is not open for writing")
        lines = []
        for record in records:
            if not isinstance(record, self.record_type):
                raise StoreError(f"{self.path} holds {self.record_type.__name__} records, not {type(record).__name__}")
            position = self.corpus.position(record.snippet_id)
            if position is None:
                raise StoreError(f"snippet {record.snippet_id!r} is not in {self.corpus.path}")
            lines.append((position, record_line(record), record))
        if not lines:
            return 0
        self._ready_to_append()
        offset = self.index.size
        updates = []
        for position, line, record in lines:
            updates.append((position, offset, len(line), record))
            offset += len(line)
        self.file.append(b"".join(line for _, line, _ in lines))
        for position, line_offset, length, record in updates:
            self.index.set(position, line_offset, length, record.status, record.text_length, record.text_sha256, record.seconds)
        self.index.size = offset
        self.index.lines += len(updates)
        return len(updates)

    def _ready_to_append(self) -> None:
        """Open the file for appending, or make its end a line end again (SaveFailed if not)."""
        if self.file.writer is None:
            self._open_for_append()
            return
        try:
            self._repair_tail()
        except SaveFailed:
            raise
        except OSError as error:
            raise SaveFailed(f"{error_reason(error)}: {self.shown_name} not saved; the file is left as it was before this save", error.errno) from None

    def _open_for_append(self) -> None:
        """Open (creating if need be) the file for appending and repair an unterminated last line."""
        created = self.file.open_writer()
        try:
            if created:
                fsync_directory(self.path.parent)
            if self.file.reader is None:
                self.file.open_reader()
            self._repair_tail()
        except OSError as error:
            self.file.abandon_writer(created)
            if isinstance(error, SaveFailed):
                raise
            raise SaveFailed(f"{error_reason(error)}: cannot save to {self.shown_name}", error.errno) from None

    def _repair_tail(self) -> None:
        """Make the file end where `index.size` says, at a line end, before anything is appended.

        Bytes past `index.size` are either a failed append of ours that could not be cut off
        (cut now), lines another program appended (read), or an unterminated last line: a whole
        record missing only its newline gets one; a torn line (a write cut short by a crash,
        never an acknowledged save) is cut off.
        """
        self.file.cut_failed_append()
        stat = self.file.write_stat()
        if stat.st_size < self.index.size or not self.file.reads_inode(stat.st_ino):
            # Shrunk or replaced behind our back: read it all again.
            self.file.close_reader()
            self.file.open_reader()
            self._reset()
            self._scan_from(0)
        elif stat.st_size > self.index.size:
            self._scan_from(self.index.size)
        if self.file.write_stat().st_size == self.index.size:
            return
        if self.tail_problem is not None and self.tail_problem.torn:
            self.file.truncate(self.index.size)
            self.tail_problem = None
        else:
            self.file.append(b"\n")
            self._scan_from(self.index.size)

    # ---- compacting and closing

    def needs_compaction(self) -> bool:
        """True when the journal is large and mostly superseded or damaged records."""
        return self.index.size >= self.compact_min_bytes and self.index.size > self.compact_ratio * max(1, self.index.live_bytes)

    def compact(self) -> dict[str, int]:
        """Rewrite the journal atomically down to the last valid record per snippet.

        Records of unknown snippets are kept (the corpus may be missing snippets for now);
        damaged lines and superseded records are dropped.
        """
        if not self.writable or self._lock is None:
            raise StoreError(f"{self.path} must be open for writing to compact it")
        if self.file.writer is None:  # no file yet: nothing to compact
            return {"bytes_before": 0, "bytes_after": 0, "lines_before": 0, "lines_after": 0, "lines_dropped": 0}
        self.file.cut_failed_append()
        self._ensure_checked()  # copy only records known to be valid
        before_bytes, before_lines = self.index.size, self.index.lines
        damaged = len(self.index.problems) - len(self.index.unknown)
        remove_stale_temps(self.path.parent, self.path.name, time.time())
        try:
            try:
                atomic_write_bytes(self.path, self._live_lines())
            except StaleIndex:
                self.rebuild()
                before_bytes, before_lines = self.index.size, self.index.lines
                damaged = len(self.index.problems) - len(self.index.unknown)
                atomic_write_bytes(self.path, self._live_lines())
        except StaleIndex:
            raise StoreError(f"{self.path}: changed while it was being compacted; try again") from None
        except OSError as error:
            raise SaveFailed(f"{error_reason(error)}: {self.shown_name} not compacted; it is left as it was", error.errno) from error
        self.file.close()
        self._reset()
        self._load()
        self._save_index_quietly()
        self._open_for_append()
        return {
            "bytes_before": before_bytes,
            "bytes_after": self.index.size,
            "lines_before": before_lines,
            "lines_after": self.index.lines,
            "lines_dropped": max(0, damaged),
        }

    def _live_lines(self) -> Iterator[bytes]:
        """The last record's line of every snippet in corpus order, then those of unknown
        snippets; StaleIndex if the index points at anything but a whole line."""
        for position in self.positions():
            yield self._whole_line_at(int(self.index.offsets[position]), int(self.index.lengths[position]))
        for offset, length in self.index.unknown.values():
            yield self._whole_line_at(offset, length)

    def _whole_line_at(self, offset: int, length: int) -> bytes:
        line = self.file.pread(offset, length)
        # A whole line at a line start, or the index is wrong: never copy part of a line.
        if not (line.startswith(b"{") and line.endswith(b"\n") and b"\n" not in line[:-1] and (offset == 0 or self.file.pread(offset - 1, 1) == b"\n")):
            raise StaleIndex
        return line

    def close(self) -> None:
        """Compact if due, save the index, release the lock. Safe to call twice."""
        if self.file.writer is not None:
            try:
                self.file.cut_failed_append()
                if self.needs_compaction():
                    self.compact()
            except OSError:
                pass  # e.g. a full disk: the journal is intact (compaction is atomic), only longer
            finally:
                self.file.close_writer()
                self._save_index_quietly()
        self.file.close_reader()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
