"""A journal's index: per snippet position, where its last valid record is and its status.

A journal's index holds, per snippet position, the byte offset, length and status of the
last valid record, together with the journal size it covers and a hash of the bytes just
before that size; opening a journal reads only what was appended after the index was
written. The index is saved beside the journal (under .curate/journals/) and trusted only
when that size and tail still match the file.

Statuses are kept as small integer codes so a million snippets fit in a megabyte and queues
are numpy comparisons; the codes never leave the store (``Journal.status_mask`` and friends
speak status names).

What a record says of its snippet's text is kept too, so `curate stats` finds records whose
text changed without reading them: the text's length (where the last story ends) and its
text_sha256 as a key (:func:`digest_key`: none, the first 64 bits of a well-formed digest, or
"not a digest of any text"), and its editing seconds. An index built by a quick scan
(:mod:`curate.store.scan`) is not ``checked``: its records were parsed only for these facts,
not validated as whole records. One built by a quick scan that left the facts for later (the
annotation desk's first open: its first screen needs only statuses and offsets) has no
``facts``; :class:`curate.store.journal.Journal` reads them when first asked.

The index describes positions of one order of snippets: it is saved with a digest of the
first ``snippets`` snippet ids in file order (:meth:`curate.store.snippets.SnippetIndex.order_digest`)
and refused when snippets.jsonl now holds other ids there (rewritten in another order), while
snippets appended after them (ingest) leave it valid. The file (``journals/KEY.index``) ends
with a CRC-32 of everything before it, so a damaged one is refused and rebuilt.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import is_not
from pathlib import Path

import numpy as np

from curate.model import STATUSES
from curate.store.files import FILE_MODE, write_fully
from curate.store.lines import JournalProblem

# Status codes in journal indexes.
NO_RECORD = -1
IN_PROGRESS = 0
STATUS_CODES: dict[str | None, int] = {None: IN_PROGRESS} | {
    status: code for code, status in enumerate(STATUSES, start=1)
}
CODE_STATUS: dict[int, str | None] = {code: status for status, code in STATUS_CODES.items()}

# Journal indexes: 4 since a failed append can no longer leave offsets that miss their records
# (older indexes may hold such offsets, so they are rebuilt once); 5 keeps each record's text
# facts and whether every record was validated; 6 keeps each record's seconds; 7 is a header
# and the arrays' bytes instead of an .npz archive (written and read without building or
# checking a zip of 40 MB per million snippets); 8 is saved with the digest of the snippet order
# it describes, says whether it holds the records' facts, and ends with a CRC-32 (and is named
# KEY.index, no longer KEY.index.npz). Its meta also keeps the journal file's identity (see
# JournalIndex.load); a version 8 file saved without it is refused where that is asked for.
_JOURNAL_INDEX_VERSION = 8
_INDEX_MAGIC = b"curate journal index\n"

# Kinds of a record's text_sha256 in the index.
DIGEST_NONE = 0  # no text_sha256: only the text's length is compared
DIGEST_PREFIX = 1  # a sha256 in lowercase hex: its first 64 bits are kept
DIGEST_OTHER = 2  # anything else: no text has it, so the text always counts as changed
_HEX_DIGITS = frozenset("0123456789abcdef")
# Each byte's value as a lowercase hex digit (255: not one).
_NIBBLES = np.full(256, 255, dtype=np.uint8)
_NIBBLES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def digest_key(text_sha256: str | None) -> tuple[int, int]:
    """(kind, first 64 bits) of a record's text_sha256, as the index keeps it."""
    if text_sha256 is None:
        return DIGEST_NONE, 0
    if len(text_sha256) == 64 and _HEX_DIGITS.issuperset(text_sha256):
        return DIGEST_PREFIX, int(text_sha256[:16], 16)
    return DIGEST_OTHER, 0


def digest_keys(values: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`digest_key` of many text_sha256 values at once: (kinds, first 64 bits).

    The per-value work is done by C loops (map, compress, join) and numpy, not Python code."""
    kinds = np.zeros(len(values), dtype=np.int8)
    digests = np.zeros(len(values), dtype=np.uint64)
    present = np.fromiter(map(is_not, values, repeat(None)), dtype=bool, count=len(values))
    if not present.any():
        return kinds, digests
    kinds[present] = DIGEST_OTHER
    strings = values if present.all() else list(compress(values, present.tolist()))
    sized = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)) == 64
    if not sized.any():
        return kinds, digests
    # 64 characters each (one byte each once non-ASCII ones are replaced): a (n, 64) table.
    joined = "".join(strings if sized.all() else compress(strings, sized.tolist()))
    nibbles = _NIBBLES[np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8).reshape(-1, 64)]
    hexadecimal = nibbles.max(axis=1) < 16
    # The first 16 digits as 8 bytes, read as one big-endian integer each.
    prefix = np.ascontiguousarray((nibbles[:, 0:16:2] << 4) | (nibbles[:, 1:16:2] & 15)).view(">u8").ravel().astype(np.uint64)
    where = np.flatnonzero(present)[np.flatnonzero(sized)][hexadecimal]
    kinds[where] = DIGEST_PREFIX
    digests[where] = prefix[hexadecimal]
    return kinds, digests


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
    # Per position, what the last record says of its snippet's text (see digest_key).
    text_lengths: np.ndarray
    digest_kinds: np.ndarray
    digests: np.ndarray
    # Per position, the last record's `seconds` (editing time; 0.0 where there is none).
    seconds: np.ndarray
    # `size` always ends a complete ("\n"-terminated) line, so a scan can resume there.
    size: int = 0
    lines: int = 0
    live_bytes: int = 0
    problems: list[JournalProblem] = field(default_factory=list)
    # Records whose snippet id is not in the corpus: id -> (offset, length); kept by compaction.
    unknown: dict[str, tuple[int, int]] = field(default_factory=dict)
    # False when a quick scan placed records without validating them (see curate.store.scan).
    checked: bool = True
    # False when a quick scan left the text facts and seconds for later (see curate.store.scan):
    # text_lengths, digest_kinds, digests and seconds then mean nothing until they are read.
    facts: bool = True

    @classmethod
    def empty(cls, snippets: int) -> "JournalIndex":
        return cls(
            offsets=np.full(snippets, -1, dtype=np.int64),
            lengths=np.zeros(snippets, dtype=np.int64),
            status=np.full(snippets, NO_RECORD, dtype=np.int8),
            text_lengths=np.full(snippets, -1, dtype=np.int64),
            digest_kinds=np.zeros(snippets, dtype=np.int8),
            digests=np.zeros(snippets, dtype=np.uint64),
            seconds=np.zeros(snippets, dtype=np.float64),
        )

    def __len__(self) -> int:
        """Snippets the index has a place for (the corpus's snippets)."""
        return len(self.status)

    def grow(self, snippets: int) -> None:
        """Make room for snippets appended to the corpus since the index was saved."""
        had = len(self)
        more = JournalIndex.empty(snippets - had)
        for name in _ARRAYS:
            setattr(self, name, np.concatenate((getattr(self, name), getattr(more, name))) if had else getattr(more, name))

    def set(self, position: int, offset: int, length: int, status: str | None, text_length: int, text_sha256: str | None, seconds: float = 0.0) -> None:
        """The record at `offset` (`length` bytes, with this status, saved for a text of
        `text_length` characters with this text_sha256, after `seconds` of editing) is now
        the last of `position`."""
        self.live_bytes += length - int(self.lengths[position])
        self.offsets[position] = offset
        self.lengths[position] = length
        self.status[position] = STATUS_CODES[status]
        self.text_lengths[position] = text_length
        self.digest_kinds[position], self.digests[position] = digest_key(text_sha256)
        self.seconds[position] = seconds

    def set_many(self, positions: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, codes: np.ndarray, text_lengths: np.ndarray, digest_kinds: np.ndarray, digests: np.ndarray, seconds: np.ndarray) -> None:
        """:meth:`set` for records in file order (status codes and digest keys given): the
        last of each position wins."""
        if len(positions) == 0:
            return
        # The last occurrence of each position: the first in the reversed order.
        reverse = positions[::-1]
        _, first = np.unique(reverse, return_index=True)
        last = len(positions) - 1 - first
        where = positions[last]
        self.live_bytes += int(lengths[last].sum()) - int(self.lengths[where].sum())
        for name, values in (
            ("offsets", offsets), ("lengths", lengths), ("status", codes), ("text_lengths", text_lengths),
            ("digest_kinds", digest_kinds), ("digests", digests), ("seconds", seconds),
        ):
            array = getattr(self, name)
            if not array.flags.writeable:
                array = array.copy()
                setattr(self, name, array)
            array[where] = values[last]

    def changed_texts(self, text_lengths: np.ndarray, digests: np.ndarray) -> np.ndarray:
        """Positions whose last record was saved for another text than the snippet's now:
        `text_lengths` and `digests` (first 64 bits of each text's sha256) per snippet."""
        recorded = self.status != NO_RECORD
        changed = self.text_lengths != text_lengths[: len(self)]
        changed |= self.digest_kinds == DIGEST_OTHER
        changed |= (self.digest_kinds == DIGEST_PREFIX) & (self.digests != digests[: len(self)])
        return np.flatnonzero(recorded & changed)

    def mask(self, statuses: Iterable[str | None], unrecorded: bool = False) -> np.ndarray:
        codes = status_codes(statuses, unrecorded)
        if len(codes) == 1:
            return self.status == codes[0]
        return np.isin(self.status, codes)

    def save(self, path: Path, tail: str, snippet_order: str, identity: list[int] | None = None) -> None:
        """Write the index (offsets, lengths and status per snippet, and what it covers)
        atomically (a temporary file renamed; not fsynced: :func:`_write_derived`): a header,
        then each array's bytes as they are in memory (no archive to build: a million
        snippets' index is written and read back at the speed of the disk), then a CRC-32 of
        all of it. `snippet_order` is the digest of the snippet ids in file
        order the positions are of (:meth:`SnippetIndex.order_digest` of ``len(self)``);
        `identity` the journal file's [inode, status-change time in ns] now (see :meth:`load`)."""
        meta = {
            "version": _JOURNAL_INDEX_VERSION,
            "snippets": len(self),
            "snippet_order": snippet_order,
            "size": self.size,
            "tail": tail,
            "lines": self.lines,
            "live_bytes": self.live_bytes,
            "problems": [problem.__dict__ for problem in self.problems],
            "unknown": self.unknown,
            "checked": self.checked,
            "facts": self.facts,
            "identity": identity,
        }
        arrays = [np.ascontiguousarray(getattr(self, name)) for name in _ARRAYS]
        meta["arrays"] = [[name, array.dtype.str] for name, array in zip(_ARRAYS, arrays)]
        head = json.dumps(meta).encode()
        chunks = [_INDEX_MAGIC, len(head).to_bytes(8, "little"), head] + [memoryview(array.view(np.uint8)) for array in arrays]
        crc = 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
        _write_derived(path, chunks + [crc.to_bytes(4, "little")])
        old = path.with_name(path.name + ".npz")  # the name versions before 8 gave it
        try:
            old.unlink()
        except OSError:
            pass  # none (or a read-only folder: it is never read again anyway)

    @classmethod
    def load(cls, path: Path, snippets: int, file_size: int, tail_hash: Callable[[int], str], snippet_order: Callable[[int], str], identity: list[int] | None = None) -> "JournalIndex | None":
        """The saved index if it covers at most `snippets` snippets, the first of them still the
        ids it was made for (`snippet_order(count)` matches), and the journal (now `file_size`
        bytes) still holds the bytes it covers (`tail_hash(size)` matches); else None (also for
        a file that is not a whole index of this version, or whose CRC does not match: it is
        rebuilt). With `identity` (the journal's [inode, status-change time] now), an index of
        exactly `file_size` bytes is refused unless it was saved with the same: the file was
        rewritten in place or replaced without growing (an edit that kept its size and its last
        bytes, a failed append cut back), so its tail alone does not show the bytes are the same.
        (A rewrite within the clock tick of the index's save goes unseen.)"""
        try:
            with open(path, "rb", buffering=0) as handle:
                start = handle.read(len(_INDEX_MAGIC) + 8)
                if len(start) != len(_INDEX_MAGIC) + 8 or not start.startswith(_INDEX_MAGIC):
                    return None
                head_bytes = int.from_bytes(start[len(_INDEX_MAGIC) :], "little")
                if head_bytes > os.fstat(handle.fileno()).st_size:
                    return None
                head = handle.read(head_bytes)
                crc = zlib.crc32(head, zlib.crc32(start))
                meta = json.loads(head)
                if meta.get("version") != _JOURNAL_INDEX_VERSION or meta["snippets"] > snippets:
                    return None
                if not all(type(meta[name]) is int for name in ("snippets", "size", "lines", "live_bytes")) or type(meta["checked"]) is not bool or type(meta["facts"]) is not bool:
                    return None
                if meta["size"] > file_size or meta["tail"] != tail_hash(meta["size"]):
                    return None
                if identity is not None and meta["size"] == file_size and meta["identity"] != list(identity):
                    return None  # the same size, but not the same file as when it was saved
                if meta["snippet_order"] != snippet_order(meta["snippets"]):
                    return None  # snippets.jsonl holds other ids at these positions now
                count, loaded = meta["snippets"], {}
                # Each array by name and of this machine's exact type (another type or byte
                # order would read its bytes as other numbers).
                if meta["arrays"] != [[name, dtype] for name, dtype in _ARRAY_TYPES.items()]:
                    return None
                for name, dtype in meta["arrays"]:
                    array = np.empty(count, dtype=np.dtype(dtype))
                    if handle.readinto(array.view(np.uint8)) != array.nbytes:
                        return None
                    crc = zlib.crc32(array.view(np.uint8), crc)
                    loaded[name] = array
                if handle.read(5) != crc.to_bytes(4, "little"):
                    return None  # damaged, cut short, or longer than its header says
            problems = [JournalProblem(**problem) for problem in meta["problems"]]
            unknown = {key: (int(value[0]), int(value[1])) for key, value in meta["unknown"].items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None
        return cls(
            **loaded,
            size=meta["size"],
            lines=meta["lines"],
            live_bytes=meta["live_bytes"],
            problems=problems,
            unknown=unknown,
            checked=meta["checked"],
            facts=meta["facts"],
        )


def _write_derived(path: Path, chunks: list) -> None:
    """Write `chunks` to `path` through a temporary file in the same folder and a rename, so no
    reader ever sees part of it, but without fsync: the file is derived and checked by its
    CRC, so the torn or empty file a power cut may leave is refused and rebuilt, and the open
    that saves it (the annotation desk's first, on 40 MB per million snippets) does not wait
    for the disk. The temporary file is named as :func:`atomic_write_bytes` names its own, so
    :func:`remove_stale_temps` clears those a killed process left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        for chunk in chunks:
            write_fully(fd, chunk)
        os.close(fd)
        fd = -1
        os.replace(temp_name, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp_name)
        except OSError:
            pass  # removed by the next save's remove_stale_temps
        raise


# The per-position arrays of a journal index, as saved.
_ARRAYS = ("offsets", "lengths", "status", "text_lengths", "digest_kinds", "digests", "seconds")
# Their types, as saved by this machine (byte order included).
_ARRAY_TYPES = {name: getattr(JournalIndex.empty(0), name).dtype.str for name in _ARRAYS}
