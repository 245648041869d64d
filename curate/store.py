"""The corpus folder of DESIGN.md: config, snippets with a byte-offset index, journals, gold.

Layout::

    DIR/corpus.toml
    DIR/snippets.jsonl           immutable after ingest
    DIR/suggestions.jsonl        machine proposals (a journal)
    DIR/annotations/NAME.jsonl   one append-only journal per annotator
    DIR/gold.jsonl               rewritten atomically
    DIR/.curate/                 derived indexes, rebuilt whenever they do not match their file

Snippet *k* is read by seeking to its byte offset, never by loading the file. A journal's index
holds, per snippet position, the byte offset and status of the last valid record, together
with the journal size it covers and a hash of the bytes just before that size; opening a
journal reads only what was appended after the index was written.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import tempfile
import time
import tomllib
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tomli_w
from filelock import FileLock, Timeout
from pydantic import ValidationError

from curate.model import STATUSES, Annotation, CorpusConfig, GoldAnnotation, Snippet

CONFIG_NAME = "corpus.toml"
SNIPPETS_NAME = "snippets.jsonl"
SUGGESTIONS_NAME = "suggestions.jsonl"
GOLD_NAME = "gold.jsonl"
ANNOTATIONS_DIR = "annotations"
INDEX_DIR = ".curate"

# Status codes in journal indexes.
NO_RECORD = -1
IN_PROGRESS = 0
STATUS_CODES: dict[str | None, int] = {None: IN_PROGRESS} | {
    status: code for code, status in enumerate(STATUSES, start=1)
}
CODE_STATUS: dict[int, str | None] = {code: status for status, code in STATUS_CODES.items()}

# A journal is compacted when it is this many times larger than its live records ...
COMPACT_RATIO = 4
# ... and at least this large, so small journals are left alone.
COMPACT_MIN_BYTES = 1 << 20
# An index is trusted only if the last bytes it covers still hash the same.
_TAIL_CHECK_BYTES = 4096
_INDEX_VERSION = 3
# Journal indexes: 4 since a failed append can no longer leave offsets that miss their records
# (older indexes may hold such offsets, so they are rebuilt once).
_JOURNAL_INDEX_VERSION = 4


class StoreError(Exception):
    """A problem with the corpus folder, with a message meant for the user."""


class _StaleIndex(Exception):
    """A saved journal index whose offsets do not hold the records it says (rebuild it)."""


class JournalLocked(StoreError):
    """Another process holds a journal open for writing."""


class SaveFailed(StoreError, OSError):
    """A write to the corpus folder failed and was undone: the file is as it was before.

    Both a StoreError and an OSError, so callers catching either show its message.
    """

    def __init__(self, message: str, error_number: int | None = None) -> None:
        super().__init__(message)
        self.errno = error_number


# Plain words for the errors a full or failing disk gives.
_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "input/output error (the disk may be failing)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
}


_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def _cannot_save(error: OSError, folder: Path, what: str) -> str:
    """The message for a file or lock that cannot be created in `folder`."""
    if error.errno in _READ_ONLY:
        return f"{folder} is read-only: cannot save {what} there"
    return f"{error_reason(error)}: cannot save {what} in {folder}"


def error_reason(error: OSError) -> str:
    """Why an OSError happened, in plain lower-case words, without the `[Errno N]` prefix."""
    if error.errno in _REASONS:
        return _REASONS[error.errno]
    text = error.strerror or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


# ---------------------------------------------------------------- files

def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# mkstemp makes files private (0600); corpus files are shared like any other file.
_FILE_MODE = _default_file_mode()


def _nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists (where a new file or folder would be made)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_WRITE_BUFFER = 1 << 20


def _write_fully(fd: int, data: bytes | bytearray) -> None:
    """os.write until all of `data` is written (a short write is followed by another)."""
    view = memoryview(data)
    written = 0
    while written < len(data):
        count = os.write(fd, view[written:])
        if count <= 0:
            raise OSError(errno.EIO, "the write wrote nothing")
        written += count


def atomic_write_bytes(path: Path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to `path` through a temporary file in the same folder, fsync, rename.

    On any failure before the rename the temporary file is removed and `path` is untouched.
    The temporary file is named `.NAME.XXXXXXXX.tmp`; :func:`remove_stale_temps` clears those
    a killed process left.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
            if len(buffer) >= _WRITE_BUFFER:
                _write_fully(fd, buffer)
                buffer.clear()
        _write_fully(fd, buffer)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp_name, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp_name)
        except OSError:
            pass  # removed by the next write's remove_stale_temps
        raise
    try:
        fsync_directory(path.parent)
    except OSError:
        pass  # the new file is in place and readable; only the rename's durability is in doubt


# mkstemp's random part: eight of these characters.
_TEMP_PART = "[a-z0-9_]{8}"


def remove_stale_temps(folder: Path, name: str, older_than: float) -> int:
    """Remove the temporary files :func:`atomic_write_bytes` left for `folder/name` when a
    process was killed mid-write: only `.NAME.XXXXXXXX.tmp` files last changed before
    `older_than` (a time.time() value). Returns how many went; never raises."""
    pattern = re.compile(rf"\.{re.escape(name)}\.{_TEMP_PART}\.tmp")
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < older_than:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def record_line(record: Annotation | Snippet) -> bytes:
    """One JSONL line for a record, with None fields left out only where the model allows."""
    return record.model_dump_json().encode("utf-8") + b"\n"


def id_hash(snippet_id: str) -> int:
    """A stable 64-bit hash of a snippet id (the snippet index is sorted by it).

    Two cheap checksums rather than a cryptographic hash: ingest hashes every id, and a
    collision costs only one more id comparison in :meth:`Corpus.position`.
    """
    data = snippet_id.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.adler32(data)


def _file_signature(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


# ---------------------------------------------------------------- config


def read_config(directory: Path) -> CorpusConfig:
    path = directory / CONFIG_NAME
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise StoreError(f"{path}: not found; is {directory} a corpus folder (made by `curate ingest`)?") from None
    except tomllib.TOMLDecodeError as error:
        raise StoreError(f"{path}: {error}") from None
    try:
        return CorpusConfig.model_validate(data)
    except ValidationError as error:
        raise StoreError(f"{path}: {_first_error(error)}") from None


def write_config(directory: Path, config: CorpusConfig) -> None:
    data = config.model_dump(exclude_none=True)  # TOML has no null: a fact not stated stays out
    atomic_write_bytes(directory / CONFIG_NAME, [tomli_w.dumps(data).encode("utf-8")])


def _first_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def validation_message(error: ValidationError) -> str:
    """A one-line reason from a pydantic error, for `file:line: reason` reports."""
    return _first_error(error)


# ---------------------------------------------------------------- snippets


class SnippetIndex:
    """Byte offsets of every line of snippets.jsonl and a hash table from id to position."""

    def __init__(self, offsets: np.ndarray, hashes: np.ndarray, positions: np.ndarray, characters: int | None = None) -> None:
        self.offsets = offsets
        self.hashes = hashes
        self.positions = positions
        self.characters = characters

    @classmethod
    def build(cls, snippets_path: Path) -> "SnippetIndex":
        """Index an existing snippets.jsonl (one pass; used when the saved index is stale)."""
        offsets = [0]
        hashes = []
        characters = 0
        with snippets_path.open("rb") as handle:
            position = 0
            for line_number, line in enumerate(handle, start=1):
                position += len(line)
                if not line.strip():
                    raise StoreError(f"{snippets_path}:{line_number}: blank line in snippets file")
                offsets.append(position)
                snippet_id, text = _snippet_fields_of_line(line, snippets_path, line_number)
                hashes.append(id_hash(snippet_id))
                characters += len(text)
        return cls.from_lists(offsets, hashes, characters)

    @classmethod
    def from_lists(cls, offsets: "list[int] | np.ndarray", hashes: "list[int] | np.ndarray", characters: int | None = None, order: np.ndarray | None = None) -> "SnippetIndex":
        """An index from line offsets (N+1, starting at 0) and id hashes (N) in file order;
        `order` is their stable argsort when the caller has it already."""
        hash_array = np.asarray(hashes, dtype=np.uint64)
        if order is None:
            order = np.argsort(hash_array, kind="stable")
        return cls(np.asarray(offsets, dtype=np.int64), hash_array[order], order.astype(np.int64), characters)

    def save(self, directory: Path, signature: dict[str, int]) -> None:
        """Write the arrays, then the signature of the snippets file they describe (last)."""
        index_dir = directory / INDEX_DIR
        index_dir.mkdir(exist_ok=True)
        # Leftovers of a killed save (a minute old: a concurrent opener may be saving too).
        for name in ("snippets.offsets.npy", "snippets.hashes.npy", "snippets.positions.npy", "snippets.json"):
            remove_stale_temps(index_dir, name, time.time() - 60)
        for name, array in (("offsets", self.offsets), ("hashes", self.hashes), ("positions", self.positions)):
            atomic_write_bytes(index_dir / f"snippets.{name}.npy", [_npy_bytes(array)])
        meta = {"version": _INDEX_VERSION, "signature": signature, "snippets": len(self), "characters": self.characters}
        atomic_write_bytes(index_dir / "snippets.json", [json.dumps(meta).encode()])

    @classmethod
    def load(cls, directory: Path, signature: dict[str, int]) -> "SnippetIndex | None":
        """The saved index if it was made for this exact snippets file, else None."""
        index_dir = directory / INDEX_DIR
        try:
            meta = json.loads((index_dir / "snippets.json").read_text())
            if meta.get("version") != _INDEX_VERSION or meta.get("signature") != signature:
                return None
            # Memory-mapped (nothing read until used), as plain arrays: np.memmap's indexing is slow.
            arrays = [np.asarray(np.load(index_dir / f"snippets.{name}.npy", mmap_mode="r")) for name in ("offsets", "hashes", "positions")]
        except (OSError, ValueError, AttributeError):
            return None
        if len(arrays[0]) != meta["snippets"] + 1 or len(arrays[1]) != meta["snippets"]:
            return None
        return cls(*arrays, characters=meta.get("characters"))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def candidates(self, snippet_id: str) -> Iterator[int]:
        """Positions whose id hashes like `snippet_id` (almost always one, or none)."""
        target = id_hash(snippet_id)
        hashes = self.hashes
        index = int(hashes.searchsorted(np.uint64(target)))
        while index < len(hashes) and int(hashes[index]) == target:
            yield int(self.positions[index])
            index += 1


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array))
    return buffer.getvalue()


def _snippet_fields_of_line(line: bytes, path: Path, line_number: int) -> tuple[str, str]:
    try:
        data = json.loads(line)
        snippet_id, text = data["id"], data["text"]
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{path}:{line_number}: not a snippet record; run `curate validate {path}`") from None
    if not isinstance(snippet_id, str) or not isinstance(text, str):
        raise StoreError(f"{path}:{line_number}: not a snippet record; run `curate validate {path}`")
    return snippet_id, text


# ---------------------------------------------------------------- journals


@dataclass
class JournalProblem:
    """A damaged line of a journal (or of gold.jsonl): 1-based line number and why it was skipped."""

    line: int
    reason: str
    torn: bool = False


@dataclass
class _JournalState:
    # `size` always ends a complete ("\n"-terminated) line, so a scan can resume there.
    size: int = 0
    lines: int = 0
    live_bytes: int = 0
    problems: list[JournalProblem] = field(default_factory=list)
    # Records whose snippet id is not in the corpus: id -> (offset, length); kept by compaction.
    unknown: dict[str, tuple[int, int]] = field(default_factory=dict)


TORN_REASON = "torn line (an interrupted write); skipped"
# A reader re-saves a journal's index when it had to read this many new bytes.
_INDEX_REFRESH_BYTES = 1 << 20
_POSITION_CACHE_SIZE = 1 << 16


def line_problem(line: bytes, error: ValidationError | None = None) -> tuple[str, bool]:
    """Why a JSONL line is unusable and whether it looks torn (its bytes stop mid-record)."""
    body = line.rstrip(b"\r\n")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        if decode_error.reason == "unexpected end of data":
            return TORN_REASON, True
        return f"invalid UTF-8 at byte {decode_error.start}", False
    try:
        json.loads(decoded)
    except json.JSONDecodeError as json_error:
        if json_error.msg.startswith("Unterminated string") or json_error.pos >= len(decoded.rstrip()):
            return TORN_REASON, True
        return f"malformed JSON: {json_error.msg.removesuffix(' at')} (column {json_error.colno})", False
    if error is None:
        return "not a valid record", False
    return validation_message(error), False


class Journal:
    """An append-only JSONL file of annotation records; the last valid record per snippet wins.

    Opened read-only by default; `writable=True` takes the journal's lock (refusing a second
    writer), allows :meth:`append`, and compacts the journal on opening and closing when it
    is :data:`COMPACT_RATIO` times larger than its live records.

    A journal keeps the file it read open, so offsets stay valid even if another process
    compacts (replaces) the file; :meth:`refresh` takes in what was written since.
    """

    def __init__(self, corpus: "Corpus", path: Path, *, writable: bool = False, record_type: type[Annotation] = Annotation) -> None:
        self.corpus = corpus
        self.path = path
        self.writable = writable
        self.record_type = record_type
        self._lock: FileLock | None = None
        self._writer: BinaryIO | None = None
        self._reader: BinaryIO | None = None
        # Set when a failed append could not be truncated away: the size to cut back to.
        self._rollback_to: int | None = None
        # Counts index rebuilds, so iterations notice one happened under them.
        self.generation = 0
        self.tail_problem: JournalProblem | None = None
        self._reset()
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
        count = len(self.corpus)
        self.offsets = np.full(count, -1, dtype=np.int64)
        self.lengths = np.zeros(count, dtype=np.int64)
        self.status = np.full(count, NO_RECORD, dtype=np.int8)
        self.state = _JournalState()
        self.tail_problem = None

    # ---- opening

    @property
    def _relative_name(self) -> str:
        return str(self.path.relative_to(self.corpus.path)).replace(os.sep, "__")

    @property
    def index_path(self) -> Path:
        """The derived index beside the journal (under .curate/), rebuilt when it does not match."""
        return self.corpus.path / INDEX_DIR / "journals" / f"{self._relative_name}.index.npz"

    @property
    def lock_path(self) -> Path:
        return lock_path_for(self.corpus.path, self._relative_name)

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
            raise SaveFailed(_cannot_save(error, self.corpus.path, self.shown_name), error.errno) from None
        self._lock = lock
        target = self.path if self.path.exists() else _nearest_existing(self.path.parent)
        if not os.access(target, os.W_OK):
            lock.release()
            self._lock = None
            folder = target if target.is_dir() else target.parent
            raise SaveFailed(f"{folder} is read-only: cannot save {self.shown_name} there", errno.EACCES)

    def _load(self, *, use_index: bool = True) -> None:
        if not self.path.exists():
            return
        self._reader = open(self.path, "rb", buffering=0)
        had_index = use_index and self._load_index()
        if not had_index:
            self._reset()
        size_before = self.state.size
        self._scan_from(self.state.size)
        if not had_index or self.state.size - size_before > _INDEX_REFRESH_BYTES:
            self._save_index_quietly()

    def _tail_hash(self, size: int) -> str:
        start = max(0, size - _TAIL_CHECK_BYTES)
        return hashlib.sha256(self._pread(start, size - start)).hexdigest()

    def _pread(self, offset: int, length: int) -> bytes:
        assert self._reader is not None
        data = os.pread(self._reader.fileno(), length, offset)
        while len(data) < length:
            more = os.pread(self._reader.fileno(), length - len(data), offset + len(data))
            if not more:
                break
            data += more
        return data

    def _load_index(self) -> bool:
        """Load the saved index if it matches the journal's size and tail; False if not."""
        try:
            with np.load(self.index_path) as arrays:
                meta = json.loads(arrays["meta"].tobytes())
                if meta.get("version") != _JOURNAL_INDEX_VERSION or meta["snippets"] > len(self.corpus):
                    return False
                if meta["size"] > os.fstat(self._reader.fileno()).st_size or meta["tail"] != self._tail_hash(meta["size"]):
                    return False
                offsets, lengths, status = arrays["offsets"], arrays["lengths"], arrays["status"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        self.offsets, self.lengths, self.status = offsets, lengths, status
        self.state = _JournalState(
            size=meta["size"],
            lines=meta["lines"],
            live_bytes=meta["live_bytes"],
            problems=[JournalProblem(**problem) for problem in meta["problems"]],
            unknown={key: (value[0], value[1]) for key, value in meta["unknown"].items()},
        )
        if meta["snippets"] < len(self.corpus):
            try:
                self._take_new_snippets(meta["snippets"])
            except _StaleIndex:
                self._reset()
                return False
        return True

    def _take_new_snippets(self, known: int) -> None:
        """The corpus grew (ingest appends snippets): widen the arrays and give records that
        waited for an unknown snippet id their place."""
        grow = len(self.corpus) - known
        self.offsets = np.concatenate((self.offsets, np.full(grow, -1, dtype=np.int64)))
        self.lengths = np.concatenate((self.lengths, np.zeros(grow, dtype=np.int64)))
        self.status = np.concatenate((self.status, np.full(grow, NO_RECORD, dtype=np.int8)))
        for snippet_id, (offset, length) in list(self.state.unknown.items()):
            position = self.corpus.position(snippet_id)
            if position is None:
                continue
            try:
                record = self._read_record(offset, length)
            except ValidationError:
                raise _StaleIndex from None
            self._set(position, offset, length, STATUS_CODES[record.status])
            del self.state.unknown[snippet_id]
            reason = f"unknown snippet id {snippet_id!r}"
            self.state.problems = [problem for problem in self.state.problems if problem.reason != reason]

    def save_index(self) -> None:
        """Write the index (offsets, lengths and status per snippet, and what it covers) atomically."""
        meta = {
            "version": _JOURNAL_INDEX_VERSION,
            "snippets": len(self.corpus),
            "size": self.state.size,
            "tail": self._tail_hash(self.state.size) if self._reader is not None else "",
            "lines": self.state.lines,
            "live_bytes": self.state.live_bytes,
            "problems": [problem.__dict__ for problem in self.state.problems],
            "unknown": self.state.unknown,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            offsets=self.offsets,
            lengths=self.lengths,
            status=self.status,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
        atomic_write_bytes(self.index_path, [buffer.getvalue()])

    def _save_index_quietly(self) -> None:
        try:
            self.save_index()
        except OSError:
            pass  # the index is derived: a read-only corpus still opens, just reads more

    def _scan_from(self, start: int) -> None:
        """Read the journal from byte `start` (a line start), updating the last record per snippet."""
        self.tail_problem = None
        positions: dict[str, int | None] = {}
        assert self._reader is not None
        with os.fdopen(os.dup(self._reader.fileno()), "rb") as handle:
            handle.seek(start)
            offset = start
            for line in handle:
                if not line.endswith(b"\n"):
                    self._take_tail(line, offset, positions)
                    break
                self.state.lines += 1
                self._take_line(line, offset, self.state.lines, positions)
                offset += len(line)
        self.state.size = offset

    def _parse(self, line: bytes) -> tuple[Annotation | None, str, bool]:
        try:
            return self.record_type.model_validate_json(line), "", False
        except ValidationError as error:
            reason, torn = line_problem(line, error)
            return None, reason, torn

    def _position(self, snippet_id: str, positions: dict[str, int | None]) -> int | None:
        if snippet_id in positions:
            return positions[snippet_id]
        if len(positions) >= _POSITION_CACHE_SIZE:
            positions.clear()
        position = positions[snippet_id] = self.corpus.position(snippet_id)
        return position

    def _take_line(self, line: bytes, offset: int, line_number: int, positions: dict[str, int | None]) -> None:
        if not line.strip():
            return
        record, reason, torn = self._parse(line)
        if record is None:
            self.state.problems.append(JournalProblem(line_number, reason, torn))
            return
        position = self._position(record.snippet_id, positions)
        if position is None:
            self.state.problems.append(JournalProblem(line_number, f"unknown snippet id {record.snippet_id!r}"))
            self.state.unknown[record.snippet_id] = (offset, len(line))
            return
        self._set(position, offset, len(line), STATUS_CODES[record.status])

    def _take_tail(self, line: bytes, offset: int, positions: dict[str, int | None]) -> None:
        """An unterminated last line: a write in progress or cut short by a crash.

        Reported and skipped when it is not a whole record; either way it stays outside
        `state.size`, so the next scan reads it again once it is complete.
        """
        line_number = self.state.lines + 1
        if not line.strip():
            return
        record, reason, torn = self._parse(line)
        if record is None:
            # Cut off mid-record unless it is whole JSON (then it is a bad record, not a cut write).
            try:
                json.loads(line)
            except ValueError:
                self.tail_problem = JournalProblem(line_number, "torn last line (an interrupted write); skipped", True)
            else:
                self.tail_problem = JournalProblem(line_number, reason)
            return
        position = self._position(record.snippet_id, positions)
        if position is None:
            self.tail_problem = JournalProblem(line_number, f"unknown snippet id {record.snippet_id!r}")
            return
        self._set(position, offset, len(line), STATUS_CODES[record.status])

    def _set(self, position: int, offset: int, length: int, status: int) -> None:
        self.state.live_bytes += length - int(self.lengths[position])
        self.offsets[position] = offset
        self.lengths[position] = length
        self.status[position] = status

    @property
    def shown_name(self) -> str:
        """The journal's path as messages show it: relative to the corpus folder when inside it."""
        try:
            return str(self.path.relative_to(self.corpus.path))
        except ValueError:
            return str(self.path)

    def _open_for_append(self) -> None:
        """Open (creating if need be) the file for appending and repair an unterminated last line."""
        created = not self.path.exists()
        try:
            if created:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as error:
            raise SaveFailed(_cannot_save(error, self.path.parent, self.shown_name), error.errno) from None
        self._writer = open(fd, "ab", buffering=0)
        try:
            if created:
                fsync_directory(self.path.parent)
            if self._reader is None:
                self._reader = open(self.path, "rb", buffering=0)
            self._repair_tail()
        except OSError as error:
            self._writer.close()
            self._writer = None
            if created and self.path.exists() and self.path.stat().st_size == 0:
                self.path.unlink()
            if isinstance(error, SaveFailed):
                raise
            raise SaveFailed(f"{error_reason(error)}: cannot save to {self.shown_name}", error.errno) from None

    def _repair_tail(self) -> None:
        """Make the file end where `state.size` says, at a line end, before anything is appended.

        Bytes past `state.size` are either a failed append of ours that could not be cut off
        (cut now), lines another program appended (read), or an unterminated last line: a whole
        record missing only its newline gets one; a torn line (a write cut short by a crash,
        never an acknowledged save) is cut off.
        """
        assert self._writer is not None
        fd = self._writer.fileno()
        if self._rollback_to is not None:
            self._truncate(self._rollback_to)
        stat = os.fstat(fd)
        if stat.st_size < self.state.size or os.fstat(self._reader.fileno()).st_ino != stat.st_ino:
            # Shrunk or replaced behind our back: read it all again.
            self._reader.close()
            self._reader = open(self.path, "rb", buffering=0)
            self._reset()
            self._scan_from(0)
        elif stat.st_size > self.state.size:
            self._scan_from(self.state.size)
        size = os.fstat(fd).st_size
        if size == self.state.size:
            return
        if self.tail_problem is not None and self.tail_problem.torn:
            self._truncate(self.state.size)
            self.tail_problem = None
        else:
            self._append_bytes(b"\n")
            self._scan_from(self.state.size)

    def _truncate(self, size: int) -> None:
        assert self._writer is not None
        os.ftruncate(self._writer.fileno(), size)
        os.fsync(self._writer.fileno())
        self._rollback_to = None

    def _append_bytes(self, data: bytes) -> None:
        """Write `data` at the end and fsync; on any failure cut the file back to its size before.

        Raises SaveFailed (with the reason in plain words) when the write or fsync failed.
        """
        assert self._writer is not None
        fd = self._writer.fileno()
        before = os.fstat(fd).st_size
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                count = os.write(fd, view[written:])
                if count <= 0:
                    raise OSError(errno.EIO, "the write wrote nothing")
                written += count
            os.fsync(fd)
        except BaseException as error:
            try:
                self._truncate(before)
            except OSError:
                self._rollback_to = before  # cut off before the next append (or on close)
            if isinstance(error, OSError):
                raise SaveFailed(
                    f"{error_reason(error)}: {self.shown_name} not saved; the file is left as it was before this save",
                    error.errno,
                ) from error
            raise

    def refresh(self) -> None:
        """Take in records other processes appended since this journal was read.

        Reads everything again when the file was replaced (compacted) or shrank.
        """
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        if self._reader is None:
            self._load()
            return
        same_file = os.fstat(self._reader.fileno()).st_ino == stat.st_ino and stat.st_size >= self.state.size
        if same_file:
            self._scan_from(self.state.size)
            return
        self._reader.close()
        self._reader = None
        self._reset()
        self._load()

    # ---- reading

    def __len__(self) -> int:
        return int((self.status != NO_RECORD).sum())

    @property
    def problems(self) -> list[JournalProblem]:
        """Damaged lines, in file order: invalid records, unknown snippet ids, a torn last line."""
        return self.state.problems + ([self.tail_problem] if self.tail_problem else [])

    @property
    def line_count(self) -> int:
        """Lines in the journal, a torn last line included."""
        return self.state.lines + (1 if self.tail_problem else 0)

    def status_of(self, position: int) -> str | None:
        return CODE_STATUS.get(int(self.status[position]))

    def has_record(self, position: int) -> bool:
        return bool(self.status[position] != NO_RECORD)

    def record_at(self, position: int) -> Annotation | None:
        """The last record for the snippet at corpus `position`, or None."""
        return self._checked_record(position)

    def _checked_record(self, position: int) -> Annotation | None:
        """The record the index places at `position`; if its bytes are not that record (an
        index that no longer matches its journal), the index is rebuilt from the journal."""
        for attempt in range(2):
            offset = int(self.offsets[position])
            if offset < 0:
                return None
            try:
                record = self._read_record(offset, int(self.lengths[position]))
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

    def rebuild(self) -> None:
        """Read the whole journal again, ignoring the saved index, and save a new index."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._reset()
        self._load(use_index=False)
        self.generation += 1

    def latest(self, snippet_id: str) -> Annotation | None:
        position = self.corpus.position(snippet_id)
        return None if position is None else self.record_at(position)

    def _read_record(self, offset: int, length: int) -> Annotation:
        return self.record_type.model_validate_json(self._pread(offset, length))

    def positions(self) -> np.ndarray:
        """Corpus positions that have a record, in corpus order."""
        return np.flatnonzero(self.status != NO_RECORD)

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

    def counts(self) -> dict[str, int]:
        """How many snippets are done, skipped, flagged, or in progress."""
        values = np.bincount(self.status[self.status != NO_RECORD].astype(np.int64), minlength=len(STATUSES) + 1)
        counts = {status: int(values[code]) for code, status in enumerate(STATUSES, start=1)}
        counts["in_progress"] = int(values[IN_PROGRESS])
        return counts

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
            lines.append((position, record_line(record), STATUS_CODES[record.status]))
        if not lines:
            return 0
        if self._writer is None:
            self._open_for_append()
        else:
            try:
                self._repair_tail()
            except SaveFailed:
                raise
            except OSError as error:
                raise SaveFailed(f"{error_reason(error)}: {self.shown_name} not saved; the file is left as it was before this save", error.errno) from None
        offset = self.state.size
        updates = []
        for position, line, status in lines:
            updates.append((position, offset, len(line), status))
            offset += len(line)
        self._append_bytes(b"".join(line for _, line, _ in lines))
        for position, line_offset, length, status in updates:
            self._set(position, line_offset, length, status)
        self.state.size = offset
        self.state.lines += len(updates)
        return len(updates)

    def needs_compaction(self) -> bool:
        """True when the journal is large and mostly superseded or damaged records."""
        return self.state.size >= COMPACT_MIN_BYTES and self.state.size > COMPACT_RATIO * max(1, self.state.live_bytes)

    def compact(self) -> dict[str, int]:
        """Rewrite the journal atomically down to the last valid record per snippet.

        Records of unknown snippets are kept (the corpus may be missing snippets for now);
        damaged lines and superseded records are dropped.
        """
        if not self.writable or self._lock is None:
            raise StoreError(f"{self.path} must be open for writing to compact it")
        before_bytes, before_lines = self.state.size, self.state.lines
        if self._writer is None:  # no file yet: nothing to compact
            return {"bytes_before": 0, "bytes_after": 0, "lines_before": 0, "lines_after": 0, "lines_dropped": 0}
        if self._rollback_to is not None:
            self._truncate(self._rollback_to)
        damaged = len(self.state.problems) - len(self.state.unknown)

        def line_at(offset: int, length: int) -> bytes:
            line = self._pread(offset, length)
            # A whole line at a line start, or the index is wrong: never copy part of a line.
            if not (line.startswith(b"{") and line.endswith(b"\n") and b"\n" not in line[:-1] and (offset == 0 or self._pread(offset - 1, 1) == b"\n")):
                raise _StaleIndex
            return line

        def chunks() -> Iterator[bytes]:
            for position in self.positions():
                yield line_at(int(self.offsets[position]), int(self.lengths[position]))
            for offset, length in self.state.unknown.values():
                yield line_at(offset, length)

        remove_stale_temps(self.path.parent, self.path.name, time.time())
        try:
            try:
                atomic_write_bytes(self.path, chunks())
            except _StaleIndex:
                self.rebuild()
                before_bytes, before_lines = self.state.size, self.state.lines
                damaged = len(self.state.problems) - len(self.state.unknown)
                atomic_write_bytes(self.path, chunks())
        except _StaleIndex:
            raise StoreError(f"{self.path}: changed while it was being compacted; try again") from None
        except OSError as error:
            raise SaveFailed(f"{error_reason(error)}: {self.shown_name} not compacted; it is left as it was", error.errno) from error
        self._writer.close()
        self._writer = None
        assert self._reader is not None
        self._reader.close()
        self._reader = None
        self._reset()
        self._load()
        self._save_index_quietly()
        self._open_for_append()
        return {
            "bytes_before": before_bytes,
            "bytes_after": self.state.size,
            "lines_before": before_lines,
            "lines_after": self.state.lines,
            "lines_dropped": max(0, damaged),
        }

    def close(self) -> None:
        """Compact if due, save the index, release the lock. Safe to call twice."""
        if self._writer is not None:
            try:
                if self._rollback_to is not None:
                    self._truncate(self._rollback_to)
                if self.needs_compaction():
                    self.compact()
            except OSError:
                pass  # e.g. a full disk: the journal is intact (compaction is atomic), only longer
            finally:
                self._writer.close()
                self._writer = None
                self._save_index_quietly()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def lock_path_for(corpus_path: Path, name: str) -> Path:
    """Where the lock of a corpus file lives: under .curate/locks/, out of the way of git."""
    return corpus_path / INDEX_DIR / "locks" / f"{name}.lock"


# ---------------------------------------------------------------- gold


class GoldStore:
    """gold.jsonl: one record per snippet, rewritten atomically (under a lock) on every change."""

    def __init__(self, corpus: "Corpus") -> None:
        self.corpus = corpus
        self.path = corpus.path / GOLD_NAME
        self.records: dict[str, GoldAnnotation] = {}
        self.problems: list[JournalProblem] = []
        self._signature: dict[str, int] | None = None
        self._read()

    def _read(self) -> None:
        self.records = {}
        self.problems = []
        self._signature = None
        if not self.path.exists():
            return
        self._signature = _file_signature(self.path)
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
                self.records[record.snippet_id] = record

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, snippet_id: str) -> bool:
        return snippet_id in self.records

    def get(self, snippet_id: str) -> GoldAnnotation | None:
        return self.records.get(snippet_id)

    def put(self, *records: GoldAnnotation) -> None:
        """Add or replace records and rewrite gold.jsonl atomically, under its lock."""
        for record in records:
            if self.corpus.position(record.snippet_id) is None:
                raise StoreError(f"snippet {record.snippet_id!r} is not in {self.corpus.path}")
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
        lock_path = lock_path_for(self.corpus.path, GOLD_NAME)
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(lock_path), timeout=10, thread_local=False)
            lock.acquire()
        except Timeout:
            raise StoreError(f"{self.path} is being written by another curate process (it holds {lock_path} for over 10 s); try again") from None
        except OSError as error:
            raise SaveFailed(_cannot_save(error, self.corpus.path, "gold"), error.errno) from None
        try:
            # Another process may have rewritten gold since we read it: merge onto its version.
            current = _file_signature(self.path) if self.path.exists() else None
            if current != self._signature:
                self._read()
            yield
        finally:
            lock.release()

    def _write(self, before: dict[str, GoldAnnotation]) -> None:
        """Rewrite gold.jsonl from `self.records`; if that fails, gold.jsonl is untouched and
        `self.records` goes back to `before`, so what callers count follows the disk."""
        missing = len(self.corpus)
        ordered = sorted(self.records.values(), key=lambda item: (p if (p := self.corpus.position(item.snippet_id)) is not None else missing, item.snippet_id))
        try:
            # Under the gold lock: a `.gold.jsonl.*.tmp` is a leftover of a killed writer.
            remove_stale_temps(self.path.parent, self.path.name, time.time())
            atomic_write_bytes(self.path, (record_line(record) for record in ordered))
        except BaseException as error:
            self.records = before
            if isinstance(error, OSError):
                raise SaveFailed(f"{error_reason(error)}: {GOLD_NAME} not saved; it is left as it was before", error.errno) from error
            raise
        self._signature = _file_signature(self.path)


# ---------------------------------------------------------------- corpus

# How snippets.jsonl lines written by `curate ingest` begin; lets a lookup read only the id.
_ID_PREFIX = b'{"id": "'
_ID_PEEK_BYTES = 256


class Corpus:
    """An opened corpus folder. Snippets are read lazily through the byte-offset index."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise StoreError(f"{self.path}: no such corpus folder")
        self.config = read_config(self.path)
        self.snippets_path = self.path / SNIPPETS_NAME
        if not self.snippets_path.exists():
            raise StoreError(f"{self.snippets_path}: not found")
        self._handle = open(self.snippets_path, "rb", buffering=0)
        signature = _file_signature(self.snippets_path)
        index = SnippetIndex.load(self.path, signature)
        if index is None:
            index = SnippetIndex.build(self.snippets_path)
            try:
                index.save(self.path, signature)
            except OSError:
                pass  # a read-only corpus still opens, just more slowly each time
        self.index = index

    @classmethod
    def open(cls, path: Path | str) -> "Corpus":
        return cls(Path(path))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "Corpus":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.index)

    @property
    def characters(self) -> int:
        """Characters in all snippet texts (kept in the index; counted once if it is missing)."""
        if self.index.characters is None:
            self.index.characters = sum(len(snippet.text) for snippet in self.iter_snippets())
        return self.index.characters

    def _read(self, start: int, length: int) -> bytes:
        # pread: no shared file position, so threads (UI workers) may read at the same time.
        data = os.pread(self._handle.fileno(), length, start)
        while len(data) < length:
            more = os.pread(self._handle.fileno(), length - len(data), start + len(data))
            if not more:
                raise StoreError(f"{self.snippets_path}: shorter than its index; was it changed after ingest?")
            data += more
        return data

    def _line(self, position: int) -> bytes:
        start = int(self.index.offsets[position])
        return self._read(start, int(self.index.offsets[position + 1]) - start)

    def snippet(self, position: int) -> Snippet:
        """Snippet at `position` (0-based, in file order), read by seeking to its offset."""
        if not 0 <= position < len(self):
            raise IndexError(f"snippet position {position} is outside 0..{len(self) - 1}")
        return Snippet.model_validate_json(self._line(position))

    def snippet_id(self, position: int) -> str:
        """The id of the snippet at `position`, reading only the start of its line when it can."""
        start = int(self.index.offsets[position])
        length = int(self.index.offsets[position + 1]) - start
        head = self._read(start, min(length, _ID_PEEK_BYTES))
        if head.startswith(_ID_PREFIX):
            close = head.find(b'"', len(_ID_PREFIX))
            if close != -1 and b"\\" not in head[len(_ID_PREFIX) : close]:
                return head[len(_ID_PREFIX) : close].decode("utf-8")
        return json.loads(self._line(position))["id"]

    def position(self, snippet_id: str) -> int | None:
        """Position of the snippet with this id, or None."""
        for candidate in self.index.candidates(snippet_id):
            if self.snippet_id(candidate) == snippet_id:
                return candidate
        return None

    def snippet_by_id(self, snippet_id: str) -> Snippet | None:
        position = self.position(snippet_id)
        return None if position is None else self.snippet(position)

    def iter_snippets(self) -> Iterator[Snippet]:
        with self.snippets_path.open("rb") as handle:
            for line in handle:
                yield Snippet.model_validate_json(line)

    # ---- journals

    @property
    def annotations_dir(self) -> Path:
        return self.path / ANNOTATIONS_DIR

    def journal_path(self, annotator: str) -> Path:
        check_annotator_name(annotator)
        return self.annotations_dir / f"{annotator}.jsonl"

    def annotators(self) -> list[str]:
        """Names of every annotator with a journal, sorted (an empty journal, which older
        versions made on opening one for writing, is nobody's)."""
        if not self.annotations_dir.is_dir():
            return []
        names = []
        for path in self.annotations_dir.glob("*.jsonl"):
            try:
                empty = path.stat().st_size == 0
            except OSError:
                continue
            if not empty and _ANNOTATOR_NAME.fullmatch(path.stem):
                names.append(path.stem)
        return sorted(names)

    def journal(self, annotator: str, *, writable: bool = False) -> Journal:
        """The annotator's journal; `writable=True` locks it against a second writer."""
        return Journal(self, self.journal_path(annotator), writable=writable)

    @property
    def suggestions_path(self) -> Path:
        return self.path / SUGGESTIONS_NAME

    def suggestions(self, *, writable: bool = False) -> Journal:
        return Journal(self, self.suggestions_path, writable=writable)

    def gold(self) -> GoldStore:
        return GoldStore(self)


_ANNOTATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")


def check_annotator_name(name: str) -> str:
    """Annotator names become file names: letters, digits, `.`, `_`, `-` only."""
    if not _ANNOTATOR_NAME.fullmatch(name):
        raise StoreError(
            f"annotator name {name!r} is not allowed: use letters, digits, '.', '_' or '-' "
            f"(at most 64, starting with a letter or digit)"
        )
    return name
