"""gold.jsonl: the adjudicated record of each snippet, rewritten atomically on every change.

Several processes may accept gold at once (a review desk, `curate gold`): each rewrite takes
the gold lock, re-reads the file if another process changed it since, and writes the merged
records through a temporary file, so gold.jsonl is always one complete version.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import msgspec
import numpy as np
from filelock import FileLock, Timeout
from pydantic import ValidationError

from curate.model import GoldAnnotation
from curate.store.errors import SaveFailed, StoreError, cannot_save, error_reason
from curate.store.files import atomic_write_bytes, file_signature, pread_up_to, remove_stale_temps
from curate.store.layout import GOLD_NAME
from curate.store.lines import JournalProblem, line_problem, record_line

if TYPE_CHECKING:
    from curate.store.corpus import Corpus


class GoldStore:
    """gold.jsonl: one record per snippet, rewritten atomically (under a lock) on every change."""

    def __init__(self, corpus: "Corpus") -> None:
        self.corpus = corpus
        self.path = corpus.layout.gold
        self.records: dict[str, GoldAnnotation] = {}
        self.problems: list[JournalProblem] = []
        self._signature: dict[str, int] | None = None
        # Corpus positions of snippet ids, found once (a rewrite puts records in corpus order).
        self._positions: dict[str, int] = {}
        self._read()

    def _read(self) -> None:
        self.records = {}
        self.problems = []
        self._superseded: set[int] = set()
        self._signature = None
        if not self.path.exists():
            return
        self._signature = file_signature(self.path)
        with self.path.open("rb") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = GoldAnnotation.model_validate_json(line)
                except ValidationError as error:
                    reason, torn = line_problem(line, error)
                    self.problems.append(JournalProblem(line_number, reason, torn))
                    continue
                if record.snippet_id in self.records:
                    self.problems.append(JournalProblem(line_number, f"second gold record for {record.snippet_id!r}; this later one is used"))
                    self._superseded.add(line_number)
                self.records[record.snippet_id] = record

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
            before = dict(self.records)
            for record in records:
                self.records[record.snippet_id] = record
            self._write(before)

    def remove(self, *snippet_ids: str) -> None:
        """Drop the gold records of these snippets (if any) and rewrite gold.jsonl atomically."""
        with self._locked():
            before = dict(self.records)
            for snippet_id in snippet_ids:
                self.records.pop(snippet_id, None)
            self._write(before)

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

    def _write(self, before: dict[str, GoldAnnotation]) -> None:
        """Rewrite gold.jsonl from `self.records`; if that fails, gold.jsonl is untouched and
        `self.records` goes back to `before`, so what callers count follows the disk."""
        missing = len(self.corpus)
        unplaced = [snippet_id for snippet_id in self.records if snippet_id not in self._positions]
        if unplaced:  # records read from the file: their positions found all at once, by id hash
            for snippet_id, position in zip(unplaced, self.corpus.positions_of(unplaced).tolist()):
                self._positions[snippet_id] = position if position >= 0 else missing
        ordered = sorted(self.records.values(), key=lambda item: (self._positions[item.snippet_id], item.snippet_id))
        try:
            # Under the gold lock: a `.gold.jsonl.*.tmp` is a leftover of a killed writer.
            remove_stale_temps(self.path.parent, self.path.name, time.time())
            atomic_write_bytes(self.path, (record_line(record) for record in ordered))
        except BaseException as error:
            self.records = before
            if isinstance(error, OSError):
                raise SaveFailed(f"{error_reason(error)}: {GOLD_NAME} not saved; it is left as it was before", error.errno) from error
            raise
        self._signature = file_signature(self.path)


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
