"""A journal's index: per snippet position, where its last valid record is and its status.

A journal's index holds, per snippet position, the byte offset, length and status of the
last valid record, together with the journal size it covers and a hash of the bytes just
before that size; opening a journal reads only what was appended after the index was
written. The index is saved beside the journal (under .curate/journals/) and trusted only
when that size and tail still match the file.

Statuses are kept as small integer codes so a million snippets fit in a megabyte and queues
are numpy comparisons; the codes never leave the store (``Journal.status_mask`` and friends
speak status names).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curate.model import STATUSES
from curate.store.files import atomic_write_bytes
from curate.store.lines import JournalProblem

# Status codes in journal indexes.
NO_RECORD = -1
IN_PROGRESS = 0
STATUS_CODES: dict[str | None, int] = {None: IN_PROGRESS} | {
    status: code for code, status in enumerate(STATUSES, start=1)
}
CODE_STATUS: dict[int, str | None] = {code: status for status, code in STATUS_CODES.items()}

# Journal indexes: 4 since a failed append can no longer leave offsets that miss their records
# (older indexes may hold such offsets, so they are rebuilt once).
_JOURNAL_INDEX_VERSION = 4


def status_codes(statuses: Iterable[str | None], unrecorded: bool = False) -> list[int]:
    """The codes of these statuses (None: in progress), and NO_RECORD with `unrecorded`."""
    codes = []
    for status in statuses:
        if status not in STATUS_CODES:
            raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)} or None (in progress)")
        codes.append(STATUS_CODES[status])
    if unrecorded:
        codes.append(NO_RECORD)
    return codes


@dataclass
class JournalIndex:
    """Where the last valid record of each snippet is, and how much of the journal that covers."""

    offsets: np.ndarray
    lengths: np.ndarray
    status: np.ndarray
    # `size` always ends a complete ("\n"-terminated) line, so a scan can resume there.
    size: int = 0
    lines: int = 0
    live_bytes: int = 0
    problems: list[JournalProblem] = field(default_factory=list)
    # Records whose snippet id is not in the corpus: id -> (offset, length); kept by compaction.
    unknown: dict[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def empty(cls, snippets: int) -> "JournalIndex":
        return cls(
            offsets=np.full(snippets, -1, dtype=np.int64),
            lengths=np.zeros(snippets, dtype=np.int64),
            status=np.full(snippets, NO_RECORD, dtype=np.int8),
        )

    def __len__(self) -> int:
        """Snippets the index has a place for (the corpus's snippets)."""
        return len(self.status)

    def grow(self, snippets: int) -> None:
        """Make room for snippets appended to the corpus since the index was saved."""
        grow = snippets - len(self)
        self.offsets = np.concatenate((self.offsets, np.full(grow, -1, dtype=np.int64)))
        self.lengths = np.concatenate((self.lengths, np.zeros(grow, dtype=np.int64)))
        self.status = np.concatenate((self.status, np.full(grow, NO_RECORD, dtype=np.int8)))

    def set(self, position: int, offset: int, length: int, status: str | None) -> None:
        """The record at `offset` (`length` bytes, with this status) is now the last of `position`."""
        self.live_bytes += length - int(self.lengths[position])
        self.offsets[position] = offset
        self.lengths[position] = length
        self.status[position] = STATUS_CODES[status]

    def mask(self, statuses: Iterable[str | None], unrecorded: bool = False) -> np.ndarray:
        codes = status_codes(statuses, unrecorded)
        if len(codes) == 1:
            return self.status == codes[0]
        return np.isin(self.status, codes)

    def save(self, path: Path, tail: str) -> None:
        """Write the index (offsets, lengths and status per snippet, and what it covers) atomically."""
        meta = {
            "version": _JOURNAL_INDEX_VERSION,
            "snippets": len(self),
            "size": self.size,
            "tail": tail,
            "lines": self.lines,
            "live_bytes": self.live_bytes,
            "problems": [problem.__dict__ for problem in self.problems],
            "unknown": self.unknown,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            offsets=self.offsets,
            lengths=self.lengths,
            status=self.status,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
        atomic_write_bytes(path, [buffer.getvalue()])

    @classmethod
    def load(cls, path: Path, snippets: int, file_size: int, tail_hash: Callable[[int], str]) -> "JournalIndex | None":
        """The saved index if it covers at most `snippets` snippets and the journal (now
        `file_size` bytes) still holds the bytes it covers (`tail_hash(size)` matches); else None."""
        try:
            with np.load(path) as arrays:
                meta = json.loads(arrays["meta"].tobytes())
                if meta.get("version") != _JOURNAL_INDEX_VERSION or meta["snippets"] > snippets:
                    return None
                if meta["size"] > file_size or meta["tail"] != tail_hash(meta["size"]):
                    return None
                offsets, lengths, status = arrays["offsets"], arrays["lengths"], arrays["status"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(
            offsets=offsets,
            lengths=lengths,
            status=status,
            size=meta["size"],
            lines=meta["lines"],
            live_bytes=meta["live_bytes"],
            problems=[JournalProblem(**problem) for problem in meta["problems"]],
            unknown={key: (value[0], value[1]) for key, value in meta["unknown"].items()},
        )
