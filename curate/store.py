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

import hashlib
import json
import os
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
_TAIL_CHECK_BYTES = 4096


class StoreError(Exception):
    """A problem with the corpus folder, with a message meant for the user."""


class JournalLocked(StoreError):
    """Another process holds a journal open for writing."""


# ---------------------------------------------------------------- files

def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# mkstemp makes files private (0600); corpus files are shared like any other file.
_FILE_MODE = _default_file_mode()


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to `path` through a temporary file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
        fsync_directory(path.parent)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def record_line(record: Annotation | Snippet) -> bytes:
    """One JSONL line for a record, with None fields left out only where the model allows."""
    return record.model_dump_json().encode("utf-8") + b"\n"


def id_hash(snippet_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(snippet_id.encode("utf-8"), digest_size=8).digest(), "little")


def _file_signature(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


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
    data = config.model_dump()
    atomic_write_bytes(directory / CONFIG_NAME, [tomli_w.dumps(data).encode("utf-8")])


def _first_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(problems)


def validation_message(error: ValidationError) -> str:
    """A one-line reason from a pydantic error, for `file:line: reason` reports."""
    return _first_error(error)


# ---------------------------------------------------------------- snippets


class SnippetIndex:
    """Byte offsets of every line of snippets.jsonl and a hash table from id to position."""

    def __init__(self, offsets: np.ndarray, hashes: np.ndarray, positions: np.ndarray) -> None:
        self.offsets = offsets
        self.hashes = hashes
        self.positions = positions

    @classmethod
    def build(cls, snippets_path: Path) -> "SnippetIndex":
        offsets = [0]
        hashes = []
        with snippets_path.open("rb") as handle:
            position = 0
            for line in handle:
                position += len(line)
                if not line.strip():
                    raise StoreError(f"{snippets_path}:{len(offsets)}: blank line in snippets file")
                offsets.append(position)
                hashes.append(id_hash(_snippet_id_of_line(line, snippets_path, len(offsets) - 1)))
        return cls.from_lists(offsets, hashes)

    @classmethod
    def from_lists(cls, offsets: list[int], hashes: list[int]) -> "SnippetIndex":
        hash_array = np.array(hashes, dtype=np.uint64)
        order = np.argsort(hash_array, kind="stable")
        return cls(np.array(offsets, dtype=np.int64), hash_array[order], order.astype(np.int64))

    def save(self, directory: Path, signature: dict[str, int]) -> None:
        index_dir = directory / INDEX_DIR
        index_dir.mkdir(exist_ok=True)
        for name, array in (("offsets", self.offsets), ("hashes", self.hashes), ("positions", self.positions)):
            atomic_write_bytes(index_dir / f"snippets.{name}.npy", [_npy_bytes(array)])
        atomic_write_bytes(index_dir / "snippets.json", [json.dumps(signature).encode()])

    @classmethod
    def load(cls, directory: Path, signature: dict[str, int]) -> "SnippetIndex | None":
        index_dir = directory / INDEX_DIR
        try:
            saved = json.loads((index_dir / "snippets.json").read_text())
            if saved != signature:
                return None
            arrays = [np.load(index_dir / f"snippets.{name}.npy", mmap_mode="r") for name in ("offsets", "hashes", "positions")]
        except (OSError, ValueError):
            return None
        return cls(*arrays)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def candidates(self, snippet_id: str) -> Iterator[int]:
        target = np.uint64(id_hash(snippet_id))
        index = int(np.searchsorted(self.hashes, target))
        while index < len(self.hashes) and self.hashes[index] == target:
            yield int(self.positions[index])
            index += 1


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array))
    return buffer.getvalue()


def _snippet_id_of_line(line: bytes, path: Path, line_number: int) -> str:
    try:
        snippet_id = json.loads(line)["id"]
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{path}:{line_number}: not a snippet record; run `curate validate {path}`") from None
    return snippet_id


# ---------------------------------------------------------------- journals


@dataclass
class JournalProblem:
    line: int
    reason: str
    torn: bool = False


@dataclass
class _JournalState:
    size: int = 0
    lines: int = 0
    live_bytes: int = 0
    problems: list[JournalProblem] = field(default_factory=list)
    # Records whose snippet id is not in the corpus: id -> (offset, length).
    unknown: dict[str, tuple[int, int]] = field(default_factory=dict)


class Journal:
    """An append-only JSONL file of annotation records; the last valid record per snippet wins.

    Opened read-only by default; `writable=True` takes the journal's lock (refusing a second
    writer) and allows :meth:`append`.
    """

    def __init__(self, corpus: "Corpus", path: Path, *, writable: bool = False, record_type: type[Annotation] = Annotation) -> None:
        self.corpus = corpus
        self.path = path
        self.writable = writable
        self.record_type = record_type
        self._lock: FileLock | None = None
        self._fd: int | None = None
        count = len(corpus)
        self.offsets = np.full(count, -1, dtype=np.int64)
        self.lengths = np.zeros(count, dtype=np.int64)
        self.status = np.full(count, NO_RECORD, dtype=np.int8)
        self.state = _JournalState()
        if writable:
            self._acquire()
        try:
            self._load()
            if writable:
                self._open_for_append()
                if self.needs_compaction():
                    self.compact()
        except BaseException:
            self.close()
            raise

    # ---- opening

    @property
    def _index_base(self) -> Path:
        relative = self.path.relative_to(self.corpus.path)
        return self.corpus.path / INDEX_DIR / "journals" / str(relative).replace(os.sep, "__")

    def _acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path) + ".lock", timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            self._lock = None
            raise JournalLocked(
                f"{self.path} is open for writing in another curate process; "
                f"close that one first (lock file {self.path}.lock)"
            ) from None

    def _load(self) -> None:
        if not self.path.exists():
            return
        if not self._load_index():
            self.offsets.fill(-1)
            self.lengths.fill(0)
            self.status.fill(NO_RECORD)
            self.state = _JournalState()
        size_before = self.state.size
        self._scan_from(self.state.size)
        if self.state.size - size_before > (1 << 20) or not self._index_exists():
            self.save_index()

    def _index_exists(self) -> bool:
        return self._index_base.with_suffix(".json").exists()

    def _tail_hash(self, size: int) -> str:
        with self.path.open("rb") as handle:
            start = max(0, size - _TAIL_CHECK_BYTES)
            handle.seek(start)
            return hashlib.sha256(handle.read(size - start)).hexdigest()

    def _load_index(self) -> bool:
        base = self._index_base
        try:
            meta = json.loads(base.with_suffix(".json").read_text())
            if meta["snippets"] != len(self.corpus) or meta["size"] > self.path.stat().st_size:
                return False
            if meta["tail"] != self._tail_hash(meta["size"]):
                return False
            arrays = np.load(base.with_suffix(".npz"))
            self.offsets = arrays["offsets"].copy()
            self.lengths = arrays["lengths"].copy()
            self.status = arrays["status"].copy()
        except (OSError, ValueError, KeyError):
            return False
        self.state = _JournalState(
            size=meta["size"],
            lines=meta["lines"],
            live_bytes=meta["live_bytes"],
            problems=[JournalProblem(**problem) for problem in meta["problems"]],
            unknown={key: tuple(value) for key, value in meta["unknown"].items()},
        )
        return True

    def save_index(self) -> None:
        base = self._index_base
        base.parent.mkdir(parents=True, exist_ok=True)
        import io

        buffer = io.BytesIO()
        np.savez(buffer, offsets=self.offsets, lengths=self.lengths, status=self.status)
        atomic_write_bytes(base.with_suffix(".npz"), [buffer.getvalue()])
        meta = {
            "snippets": len(self.corpus),
            "size": self.state.size,
            "tail": self._tail_hash(self.state.size) if self.path.exists() else "",
            "lines": self.state.lines,
            "live_bytes": self.state.live_bytes,
            "problems": [problem.__dict__ for problem in self.state.problems],
            "unknown": self.state.unknown,
        }
        atomic_write_bytes(base.with_suffix(".json"), [json.dumps(meta).encode()])

    def _scan_from(self, start: int) -> None:
        """Read the journal from byte `start`, updating the per-snippet last records."""
        with self.path.open("rb") as handle:
            handle.seek(start)
            offset = start
            for line in handle:
                self.state.lines += 1
                self._take_line(line, offset, self.state.lines)
                offset += len(line)
        self.state.size = offset

    def _take_line(self, line: bytes, offset: int, line_number: int) -> None:
        if not line.strip():
            return
        try:
            record = self.record_type.model_validate_json(line)
        except ValidationError as error:
            torn = not line.endswith(b"\n")
            reason = "torn last line (an interrupted write); skipped" if torn else validation_message(error)
            self.state.problems.append(JournalProblem(line_number, reason, torn))
            return
        position = self.corpus.position(record.snippet_id)
        if position is None:
            self.state.problems.append(JournalProblem(line_number, f"unknown snippet id {record.snippet_id!r}"))
            self.state.unknown[record.snippet_id] = (offset, len(line))
            return
        self.state.live_bytes += len(line) - int(self.lengths[position])
        self.offsets[position] = offset
        self.lengths[position] = len(line)
        self.status[position] = STATUS_CODES[record.status]

    def _open_for_append(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        if size:
            with self.path.open("rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    # Terminate a torn last line so the next record starts on its own line.
                    os.write(self._fd, b"\n")
                    os.fsync(self._fd)
                    self.state.size = size + 1
                    self.state.lines += 0  # the torn line was counted when scanned
        else:
            fsync_directory(self.path.parent)

    # ---- reading

    def __len__(self) -> int:
        return int((self.status != NO_RECORD).sum())

    @property
    def problems(self) -> list[JournalProblem]:
        return list(self.state.problems)

    def status_of(self, position: int) -> str | None:
        return CODE_STATUS.get(int(self.status[position]))

    def has_record(self, position: int) -> bool:
        return bool(self.status[position] != NO_RECORD)

    def record_at(self, position: int) -> Annotation | None:
        offset = int(self.offsets[position])
        if offset < 0:
            return None
        return self._read_record(offset, int(self.lengths[position]))

    def latest(self, snippet_id: str) -> Annotation | None:
        position = self.corpus.position(snippet_id)
        return None if position is None else self.record_at(position)

    def _read_record(self, offset: int, length: int) -> Annotation:
        with self.path.open("rb") as handle:
            handle.seek(offset)
            return self.record_type.model_validate_json(handle.read(length))

    def positions(self) -> np.ndarray:
        """Corpus positions that have a record, in corpus order."""
        return np.flatnonzero(self.status != NO_RECORD)

    def records(self) -> Iterator[Annotation]:
        """The last record of every snippet, in corpus order (one open file, sorted reads)."""
        with self.path.open("rb") as handle:
            for position in self.positions():
                handle.seek(int(self.offsets[position]))
                yield self.record_type.model_validate_json(handle.read(int(self.lengths[position])))

    def counts(self) -> dict[str, int]:
        """How many snippets are done, skipped, flagged, or in progress."""
        values = np.bincount(self.status[self.status != NO_RECORD].astype(np.int64), minlength=len(STATUSES) + 1)
        counts = {status: int(values[code]) for code, status in enumerate(STATUSES, start=1)}
        counts["in_progress"] = int(values[IN_PROGRESS])
        return counts

    # ---- writing

    def append(self, record: Annotation) -> None:
        """Append one record and fsync before returning."""
        if self._fd is None:
            raise StoreError(f"{self.path} is not open for writing")
        position = self.corpus.position(record.snippet_id)
        if position is None:
            raise StoreError(f"snippet {record.snippet_id!r} is not in {self.corpus.path}")
        line = record_line(record)
        offset = self.state.size
        written = os.write(self._fd, line)
        while written < len(line):
            written += os.write(self._fd, line[written:])
        os.fsync(self._fd)
        self.state.size += len(line)
        self.state.lines += 1
        self.state.live_bytes += len(line) - int(self.lengths[position])
        self.offsets[position] = offset
        self.lengths[position] = len(line)
        self.status[position] = STATUS_CODES[record.status]

    def append_many(self, records: Iterable[Annotation]) -> int:
        """Append records in one write and one fsync (for batch writers such as `suggest`)."""
        if self._fd is None:
            raise StoreError(f"{self.path} is not open for writing")
        chunk = bytearray()
        updates = []
        offset = self.state.size
        for record in records:
            position = self.corpus.position(record.snippet_id)
            if position is None:
                raise StoreError(f"snippet {record.snippet_id!r} is not in {self.corpus.path}")
            line = record_line(record)
            updates.append((position, offset + len(chunk), len(line), STATUS_CODES[record.status]))
            chunk += line
        if not chunk:
            return 0
        view = memoryview(chunk)
        written = 0
        while written < len(chunk):
            written += os.write(self._fd, view[written:])
        os.fsync(self._fd)
        for position, line_offset, length, status in updates:
            self.state.live_bytes += length - int(self.lengths[position])
            self.offsets[position] = line_offset
            self.lengths[position] = length
            self.status[position] = status
        self.state.size += len(chunk)
        self.state.lines += len(updates)
        return len(updates)

    def needs_compaction(self) -> bool:
        return self.state.size >= COMPACT_MIN_BYTES and self.state.size > COMPACT_RATIO * max(1, self.state.live_bytes)

    def compact(self) -> dict[str, int]:
        """Rewrite the journal atomically down to the last valid record per snippet."""
        if self._lock is None:
            raise StoreError(f"{self.path} must be open for writing to compact it")
        before = self.state.size
        dropped = len(self.state.problems)

        def chunks() -> Iterator[bytes]:
            with self.path.open("rb") as handle:
                for position in self.positions():
                    handle.seek(int(self.offsets[position]))
                    yield handle.read(int(self.lengths[position]))
                for offset, length in self.state.unknown.values():
                    handle.seek(offset)
                    yield handle.read(length)

        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        atomic_write_bytes(self.path, chunks())
        self.offsets.fill(-1)
        self.lengths.fill(0)
        self.status.fill(NO_RECORD)
        self.state = _JournalState()
        self._scan_from(0)
        self.save_index()
        self._open_for_append()
        return {"bytes_before": before, "bytes_after": self.state.size, "lines_dropped": dropped}

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            try:
                self.save_index()
            except OSError:
                pass  # the index is derived; it is rebuilt next time
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ---------------------------------------------------------------- gold


class GoldStore:
    """gold.jsonl: one record per snippet, rewritten atomically on every change."""

    def __init__(self, corpus: "Corpus") -> None:
        self.corpus = corpus
        self.path = corpus.path / GOLD_NAME
        self.records: dict[str, GoldAnnotation] = {}
        self.problems: list[JournalProblem] = []
        if self.path.exists():
            with self.path.open("rb") as handle:
                for line_number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = GoldAnnotation.model_validate_json(line)
                    except ValidationError as error:
                        self.problems.append(JournalProblem(line_number, validation_message(error), not line.endswith(b"\n")))
                        continue
                    self.records[record.snippet_id] = record

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, snippet_id: str) -> bool:
        return snippet_id in self.records

    def get(self, snippet_id: str) -> GoldAnnotation | None:
        return self.records.get(snippet_id)

    def put(self, *records: GoldAnnotation) -> None:
        """Add or replace records and rewrite gold.jsonl atomically, under its lock."""
        with FileLock(str(self.path) + ".lock", timeout=10):
            for record in records:
                if self.corpus.position(record.snippet_id) is None:
                    raise StoreError(f"snippet {record.snippet_id!r} is not in {self.corpus.path}")
                self.records[record.snippet_id] = record
            ordered = sorted(self.records.values(), key=lambda item: self.corpus.position(item.snippet_id) or 0)
            atomic_write_bytes(self.path, (record_line(record) for record in ordered))


# ---------------------------------------------------------------- corpus


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
        signature = _file_signature(self.snippets_path)
        index = SnippetIndex.load(self.path, signature)
        if index is None:
            index = SnippetIndex.build(self.snippets_path)
            try:
                index.save(self.path, signature)
            except OSError:
                pass  # a read-only corpus still opens, just more slowly each time
        self.index = index
        self._handle = self.snippets_path.open("rb")

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

    def _line(self, position: int) -> bytes:
        start = int(self.index.offsets[position])
        end = int(self.index.offsets[position + 1])
        self._handle.seek(start)
        return self._handle.read(end - start)

    def snippet(self, position: int) -> Snippet:
        """Snippet at `position` (0-based, in file order), read by seeking to its offset."""
        if not 0 <= position < len(self):
            raise IndexError(f"snippet position {position} is outside 0..{len(self) - 1}")
        return Snippet.model_validate_json(self._line(position))

    def position(self, snippet_id: str) -> int | None:
        """Position of the snippet with this id, or None."""
        for candidate in self.index.candidates(snippet_id):
            if json.loads(self._line(candidate))["id"] == snippet_id:
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
        """Names of every annotator with a journal, sorted."""
        if not self.annotations_dir.is_dir():
            return []
        return sorted(path.stem for path in self.annotations_dir.glob("*.jsonl"))

    def journal(self, annotator: str, *, writable: bool = False) -> Journal:
        return Journal(self, self.journal_path(annotator), writable=writable)

    def suggestions(self, *, writable: bool = False) -> Journal:
        return Journal(self, self.path / SUGGESTIONS_NAME, writable=writable)

    def gold(self) -> GoldStore:
        return GoldStore(self)


def check_annotator_name(name: str) -> str:
    """Annotator names become file names: letters, digits, `.`, `_`, `-` only."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", name):
        raise StoreError(
            f"annotator name {name!r} is not allowed: use letters, digits, '.', '_' or '-' "
            f"(at most 64, starting with a letter or digit)"
        )
    return name
