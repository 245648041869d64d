"""`curate ingest`: .txt files, folders of them, JSONL, parquet and saved HF datasets into a corpus.

Input is streamed. Every problem is collected as `file:line: reason` (for parquet and HF
datasets the "line" is the 1-based row). Unless `skip_invalid`, any problem refuses the whole
ingest and nothing is written: snippets go to a temporary file that is renamed into place
only when the ingest succeeds, and a corpus folder the ingest created is removed again.

JSONL lines that already have the snippet shape (`{"id": "...", "text": ..., "meta": {...}}`,
as `curate` itself writes them) are copied byte for byte instead of being encoded again,
which keeps large ingests close to the speed of `datasets.Dataset.from_json`.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import math
import mmap
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from curate.model import CorpusConfig, default_labels, validation_reason
from curate.store import (
    FILE_MODE,
    CorpusLayout,
    SaveFailed,
    SnippetIndex,
    StoreError,
    ensure_gitignore,
    error_reason,
    file_signature,
    fsync_directory,
    id_hash,
    read_config,
    write_config,
)

# Lines starting like this (json.dumps' default separators, `id` first) may be copied as they are.
_SNIPPET_LINE_PREFIX = b'{"id": "'
_SNIPPET_KEYS = frozenset(("id", "text", "meta"))
_PROGRESS_EVERY = 4096
_WRITE_BATCH = 1024


@dataclass(slots=True)
class SourceRecord:
    """One candidate snippet from `file` at `line` (1-based; 0 for the file as a whole),
    or the reason it cannot be one.

    `copy` is set when the input line can be written to snippets.jsonl unchanged.
    """

    file: str
    line: int
    snippet_id: str | None = None
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    copy: bytes | None = None
    id_missing: tuple[str, ...] | None = None
    """For a JSON object or table row without the id field: its fields (the id became FILE-LINE)."""
    has_id: bool | None = None
    """For a JSON object or table row: whether it has the id field (None for text files)."""

    @property
    def where(self) -> str:
        """`file:line`, or just `file` for a problem with the file as a whole."""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class IngestReport:
    added: int = 0
    skipped: list[str] = field(default_factory=list)
    corpus: Path | None = None
    refused: bool = False
    notes: list[str] = field(default_factory=list)
    """Warnings about what was ingested, e.g. records without the `--id-field` that got FILE-LINE ids."""


class IngestError(StoreError):
    """The ingest was refused; `problems` lists every `file:line: reason`."""

    def __init__(self, problems: list[str], skippable: bool = True) -> None:
        self.problems = problems
        self.skippable = skippable
        """Whether `skip_invalid` would have ingested the rest."""
        super().__init__("\n".join(problems))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def read_text_file(path: Path, snippet_id: str) -> Iterator[SourceRecord]:
    """One snippet from one file, its text exactly as the file's bytes decode."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        yield SourceRecord(str(path), line, snippet_id, problem=f"invalid UTF-8 (byte {error.start}, column {column})")
        return
    yield SourceRecord(str(path), 1, snippet_id, text, {"source": str(path)})


def read_text_folder(folder: Path) -> Iterator[SourceRecord]:
    """Every .txt file under `folder`, recursively, sorted by path; ids are relative paths."""
    for path in sorted(folder.rglob("*.txt")):
        if path.is_file():
            snippet_id = path.relative_to(folder).with_suffix("").as_posix()
            yield from read_text_file(path, snippet_id)


def read_jsonl(path: Path, text_field: str = "text", id_field: str = "id") -> Iterator[SourceRecord]:
    """One candidate per non-blank line; ids default to `STEM-LINE`."""
    stem = path.stem
    name = str(path)
    copyable_fields = text_field == "text" and id_field == "id"
    raw_decode = _decoder.raw_decode
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if raw.isspace():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield SourceRecord(name, line_number, problem=f"invalid UTF-8 (byte {error.start} of the line)")
                continue
            try:
                try:
                    data, end = raw_decode(line)
                    if end != len(line) and not line[end:].isspace():
                        raise json.JSONDecodeError("Extra data", line, end)
                except json.JSONDecodeError:
                    data = _decoder.decode(line)  # leading whitespace, or to get the real error
            except json.JSONDecodeError as error:
                yield SourceRecord(name, line_number, problem=f"malformed JSON: {error.msg.removesuffix(' at')} (column {error.colno})")
                continue
            except ValueError as error:
                yield SourceRecord(name, line_number, problem=f"malformed JSON: {error}")
                continue
            except RecursionError:
                yield SourceRecord(name, line_number, problem="JSON nested too deeply to read (arrays and objects inside one another)")
                continue
            if type(data) is not dict:
                yield SourceRecord(name, line_number, problem="a line must be a JSON object")
                continue
            record = _record_from_mapping(data, name, line_number, text_field, id_field, stem)
            if record.problem is None and copyable_fields and raw.startswith(_SNIPPET_LINE_PREFIX) and len(data) == 3 and type(data.get("meta")) is dict:
                if b"\\ud" in raw or b"\\uD" in raw:
                    if _has_lone_surrogate(record):
                        record.problem = "text or meta holds a lone surrogate (\\ud800-\\udfff escape), which is not valid Unicode"
                        yield record
                        continue
                record.copy = raw if raw.endswith(b"}\n") else raw.rstrip() + b"\n"
            yield record


def _has_lone_surrogate(record: SourceRecord) -> bool:
    try:
        json.dumps([record.snippet_id, record.text, record.meta], ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _record_from_mapping(data: dict, file: str, number: int, text_field: str, id_field: str, stem: str) -> SourceRecord:
    text = data.get(text_field)
    if type(text) is not str:
        return SourceRecord(file, number, problem=f"no string field {text_field!r}")
    snippet_id = data.get(id_field)
    id_missing = None
    if snippet_id is None:
        snippet_id = f"{stem}-{number:06d}"
        id_missing = tuple(data)
    elif type(snippet_id) is int:
        snippet_id = str(snippet_id)
    if type(snippet_id) is not str or not snippet_id:
        return SourceRecord(file, number, problem=f"field {id_field!r} must be a non-empty string or an integer")
    meta = data.get("meta")
    if meta is not None and type(meta) is not dict:
        return SourceRecord(file, number, snippet_id, problem="field 'meta' must be an object")
    if meta is None or len(data) > 3 or id_field not in data:
        # Fields other than the id and text are kept in meta (meta's own keys win).
        extra = {key: value for key, value in data.items() if key != text_field and key != id_field and key != "meta"}
        meta = extra | meta if meta else extra
    record = SourceRecord(file, number, snippet_id, text, meta)
    record.id_missing = id_missing
    record.has_id = id_missing is None
    return record


def read_table(path: Path, text_field: str = "text", id_field: str = "id") -> Iterator[SourceRecord]:
    """A parquet file or a folder saved with `Dataset.save_to_disk` / `DatasetDict.save_to_disk`."""
    if path.is_file():
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as error:  # pyarrow raises several types for a damaged file
            yield SourceRecord(str(path), 0, problem=f"not a readable parquet file ({error})")
            return
        columns = parquet.schema_arrow.names
        if text_field not in columns:
            yield SourceRecord(str(path), 0, problem=f"no column {text_field!r} (columns: {', '.join(columns)}); use --text-field")
            return
        row = 0
        for batch in parquet.iter_batches(batch_size=4096):
            for data in batch.to_pylist():
                row += 1
                yield _table_record(data, str(path), row, text_field, id_field, path.stem)
        return
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as error:  # datasets raises several types for a damaged folder
        yield SourceRecord(str(path), 0, problem=f"not a readable saved Hugging Face dataset ({error})")
        return
    parts = list(loaded.items()) if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    for split, dataset in parts:
        label = f"{path}[{split}]" if split else str(path)
        prefix = f"{path.name}-{split}" if split else path.name
        if text_field not in dataset.column_names:
            yield SourceRecord(label, 0, problem=f"no column {text_field!r} (columns: {', '.join(dataset.column_names)}); use --text-field")
            continue
        row = 0
        for batch in dataset.iter(batch_size=4096):
            names = list(batch)
            for values in zip(*(batch[name] for name in names)):
                row += 1
                yield _table_record(dict(zip(names, values)), label, row, text_field, id_field, prefix)


def _table_record(data: dict, file: str, row: int, text_field: str, id_field: str, prefix: str) -> SourceRecord:
    for key, value in data.items():
        if key == text_field:
            continue
        if _non_finite(value):
            # NaN and Infinity are not JSON: reported like a NaN in a JSONL line, never kept as "nan".
            return SourceRecord(file, row, problem=f"column {key!r} holds NaN or Infinity, which is not valid JSON")
        if not _json_safe(value):
            data[key] = str(value)  # dates, bytes and the like: kept readable in meta
    return _record_from_mapping(data, file, row, text_field, id_field, prefix)


def _non_finite(value: Any) -> bool:
    """True if `value` is, or holds (in lists and dicts), a float that is NaN or infinite."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(item) for item in value)
    return False


def _json_safe(value: Any) -> bool:
    if value is None or type(value) in (str, int, bool):
        return True
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _is_hf_dataset_folder(path: Path) -> bool:
    return any((path / name).exists() for name in ("dataset_info.json", "dataset_dict.json", "state.json"))


def sources(paths: list[Path], text_field: str = "text", id_field: str = "id") -> Iterator[SourceRecord]:
    """Every candidate record of every input path, in order."""
    for path in paths:
        path = Path(path)
        if not path.exists():
            yield SourceRecord(str(path), 0, problem="no such file or folder")
        elif path.is_dir():
            if _is_hf_dataset_folder(path):
                yield from read_table(path, text_field, id_field)
            else:
                yield from read_text_folder(path)
        elif path.suffix == ".txt":
            yield from read_text_file(path, path.stem)
        elif path.suffix in (".jsonl", ".ndjson"):
            yield from read_jsonl(path, text_field, id_field)
        elif path.suffix == ".parquet":
            yield from read_table(path, text_field, id_field)
        else:
            yield SourceRecord(str(path), 0, problem="unknown input type (expected .txt, a folder, .jsonl, .parquet or a saved HF dataset)")


def ingest(
    paths: list[Path],
    corpus_dir: Path,
    *,
    labels: list[str] | None = None,
    text_field: str = "text",
    id_field: str = "id",
    skip_invalid: bool = False,
    skip_duplicates: bool = False,
    on_record: Callable[[int], None] | None = None,
) -> IngestReport:
    """Add snippets from `paths` to the corpus at `corpus_dir`, creating it if needed.

    Raises :class:`IngestError` listing every problem (and writes nothing) when any input is
    bad and `skip_invalid` is false; with `skip_invalid` the report lists what was skipped.
    `on_record(count)` is called every few thousand records, for a progress bar.
    With `skip_duplicates`, a snippet whose text equals (exactly) one already in the corpus or
    earlier in the input is left out and listed in the report's `skipped` with both ids.
    """
    corpus_dir = Path(corpus_dir)
    config, existing = _corpus_config(corpus_dir, labels)
    try:
        return _write_corpus(paths, corpus_dir, config, existing, text_field=text_field, id_field=id_field, skip_invalid=skip_invalid, skip_duplicates=skip_duplicates, on_record=on_record)
    except StoreError:
        raise
    except OSError as error:
        if error.filename is not None and not Path(os.fsdecode(error.filename)).resolve().is_relative_to(corpus_dir.resolve()):
            raise  # an input that cannot be read, not a failed save
        raise _save_failed(error, corpus_dir) from None


def _save_failed(error: OSError, corpus_dir: Path) -> SaveFailed:
    """A failed write of the new snippets.jsonl, in the store's words (the corpus is as it was)."""
    shown = CorpusLayout(corpus_dir).snippets.name
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return SaveFailed(f"{corpus_dir} is read-only: cannot save {shown} there", error.errno)
    return SaveFailed(f"{error_reason(error)}: {shown} not saved in {corpus_dir}; the corpus is left as it was", error.errno)


def _write_corpus(paths, corpus_dir: Path, config: CorpusConfig, existing: bool, *, text_field, id_field, skip_invalid, skip_duplicates=False, on_record) -> IngestReport:
    created_dirs = _missing_folders(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".snippets.", suffix=".tmp", dir=corpus_dir)
    wrote_config = wrote_gitignore = False
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), FILE_MODE)
            writer = _SnippetWriter(out, CorpusLayout(corpus_dir).snippets if existing else None, on_record, skip_duplicates)
            for path in paths:
                writer.add(Path(path), text_field, id_field)
            writer.finish()
        report = _judge(writer, paths, corpus_dir, id_field=id_field, skip_invalid=skip_invalid, existing=existing)
        if existing and report.added == 0:
            os.unlink(temp_name)
            return report
        if not existing:
            # Before the snippets: a folder with snippets.jsonl always has its corpus.toml.
            write_config(corpus_dir, config)
            wrote_config = True
            # And its .gitignore, so a folder shared by `curate sync` keeps .curate/ and models/ local.
            wrote_gitignore = ensure_gitignore(corpus_dir)
        os.replace(temp_name, CorpusLayout(corpus_dir).snippets)
        fsync_directory(corpus_dir)
    except BaseException:
        if wrote_gitignore:
            CorpusLayout(corpus_dir).gitignore.unlink(missing_ok=True)
        _roll_back(corpus_dir, temp_name, wrote_config, created_dirs)
        raise
    _save_index(corpus_dir, writer)
    return report


def _corpus_config(corpus_dir: Path, labels: list[str] | None) -> tuple[CorpusConfig, bool]:
    """The config of the corpus at `corpus_dir` and True, or the config a new corpus gets and False."""
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise StoreError(f"{corpus_dir}: exists and is not a folder")
    if CorpusLayout(corpus_dir).snippets.exists():
        config = read_config(corpus_dir)
        if labels and labels != config.label_names:
            raise StoreError(f"{CorpusLayout(corpus_dir).config}: the corpus already has labels {config.label_names}; edit corpus.toml to change them")
        return config, True
    try:
        return CorpusConfig(name=corpus_dir.resolve().name or "corpus", labels=default_labels(labels) if labels else default_labels()), False
    except ValidationError as error:  # a ValueError too, but pydantic's text runs over lines
        raise StoreError(f"--labels: {validation_reason(error)}") from None
    except ValueError as error:
        raise StoreError(f"--labels: {error}") from None


class _SnippetWriter:
    """The new snippets.jsonl as it is written: the corpus's own snippets first, then every
    input's, each file taken whole when it can be (:func:`_fast_jsonl`), else record by record.

    It keeps what the index needs (line ends, id hashes, characters), the ids seen so far (for
    duplicates), every problem found, and the counts behind the report.
    """

    def __init__(self, out: Any, existing: Path | None, on_record: Callable[[int], None] | None, skip_duplicates: bool = False) -> None:
        self.out = out
        self.on_record = on_record
        self.texts: dict[bytes, str] | None = {} if skip_duplicates else None
        """With `skip_duplicates`: the sha256 of every text kept so far (the whole digest, so equal
        digests mean equal texts) and the id of the snippet that has it."""
        self.duplicates: list[str] = []
        """`file:line: reason` of every snippet left out because its text was already kept."""
        self.offsets, self.hashes, self.characters, self.seen = _copy_existing(existing, out, self.texts) if existing else ([0], [], 0, {})
        self.position = self.offsets[-1]
        # Line ends and id hashes come as Python lists (line by line) and as numpy arrays
        # (files taken whole); they are joined in file order by `index`.
        self.offset_parts: list[Any] = []
        self.hash_parts: list[Any] = []
        self.fast_files: list[_FastFile] = []
        self.taken_whole: list[_FastFile] = []
        """Files taken whole whose ids have not joined `seen` yet."""
        self.batch: list[bytes] = []
        self.encoder = json.JSONEncoder(ensure_ascii=False)
        self.count = 0
        """Records read, good or bad."""
        self.added = 0
        self.problems: list[str] = []
        self.id_missing = self.id_present = 0
        self.first_missing: SourceRecord | None = None

    def add(self, path: Path, text_field: str, id_field: str) -> None:
        """Every record of the input at `path`."""
        for fast in self.taken_whole:  # their ids join `seen` only when another input needs them
            self.seen.update(dict.fromkeys(fast.ids, fast))
        self.taken_whole.clear()
        if self.texts is None and path.suffix in (".jsonl", ".ndjson") and text_field == "text" and id_field == "id" and path.is_file():
            self._write_batch()
            if self._take_whole(path):
                return
        self._add_records(path, text_field, id_field)

    def _take_whole(self, path: Path) -> bool:
        """Copy the JSONL file at `path` in bulk, if every line of it is a good snippet line."""
        fast = _fast_jsonl(path, self.out, self.seen)
        if fast is None:
            return False
        self.offset_parts += [np.asarray(self.offsets[1:] if not self.offset_parts else self.offsets, dtype=np.int64), fast.line_ends + self.position]
        self.hash_parts += [np.asarray(self.hashes, dtype=np.uint64), fast.hashes]
        self.offsets, self.hashes = [], []
        self.taken_whole.append(fast)
        self.fast_files.append(fast)
        self.position += int(fast.line_ends[-1])
        self.characters += fast.characters
        self.count += len(fast.ids)
        self.added += len(fast.ids)
        if self.on_record is not None:
            self.on_record(self.count)
        return True

    def _add_records(self, path: Path, text_field: str, id_field: str) -> None:
        """Check, encode (or copy) and write the input's records one by one, in batches."""
        out, seen, offsets, hashes, batch, problems, on_record = self.out, self.seen, self.offsets, self.hashes, self.batch, self.problems, self.on_record
        encoder, texts = self.encoder, self.texts
        position, characters, count, added = self.position, self.characters, self.count, self.added
        for record in sources([path], text_field, id_field):
            count += 1
            if record.has_id is False:
                self.id_missing += 1
                self.first_missing = self.first_missing or record
            elif record.has_id:
                self.id_present += 1
            if on_record is not None and count % _PROGRESS_EVERY == 0:
                on_record(count)
            reason = _record_problem(record, seen)
            if reason is not None:
                problems.append(f"{record.where}: {reason}")
                continue
            line = record.copy
            if line is None:
                try:
                    line = encoder.encode({"id": record.snippet_id, "text": record.text, "meta": record.meta}).encode("utf-8") + b"\n"
                except UnicodeEncodeError:
                    problems.append(f"{record.where}: text or meta holds a lone surrogate, which is not valid Unicode")
                    continue
            seen[record.snippet_id] = (record.file, record.line)  # a left-out snippet's id still counts as used
            if texts is not None:
                digest = hashlib.sha256(record.text.encode("utf-8", "surrogatepass")).digest()
                kept = texts.get(digest)
                if kept is None:
                    texts[digest] = record.snippet_id
                else:
                    self.duplicates.append(f"{record.where}: id {record.snippet_id!r} has the same text as {kept!r}")
                    continue
            position += len(line)
            offsets.append(position)
            hashes.append(id_hash(record.snippet_id))
            characters += len(record.text)
            batch.append(line)
            if len(batch) >= _WRITE_BATCH:
                out.write(b"".join(batch))
                batch.clear()
            added += 1
        self.position, self.characters, self.count, self.added = position, characters, count, added

    def _write_batch(self) -> None:
        self.out.write(b"".join(self.batch))
        self.batch.clear()

    def finish(self) -> None:
        """Write what is left and fsync the file."""
        self._write_batch()
        if self.on_record is not None:
            self.on_record(self.count)
        self.out.flush()
        os.fsync(self.out.fileno())

    def index(self) -> SnippetIndex:
        """The index of the file written."""
        offsets, hashes = self.offsets, self.hashes
        if self.offset_parts:
            offsets = np.concatenate([np.zeros(1, dtype=np.int64), *self.offset_parts, np.asarray(offsets, dtype=np.int64)])
            hashes = np.concatenate([*self.hash_parts, np.asarray(hashes, dtype=np.uint64)])
        whole = self.fast_files[0] if len(self.fast_files) == 1 and len(self.fast_files[0].hashes) == len(hashes) else None
        return SnippetIndex.from_lists(offsets, hashes, self.characters, order=whole.order if whole else None)


def _record_problem(record: SourceRecord, seen: dict) -> str | None:
    """Why `record` cannot be a snippet (its reader's reason, an empty text, a duplicate id), or None."""
    if record.problem is not None:
        return record.problem
    if not record.text or record.text.isspace():
        return "empty text"
    first = seen.get(record.snippet_id)
    if first is not None:
        return f"duplicate id {record.snippet_id!r} (first at {_location(first, record.snippet_id)})"
    return None


def _judge(writer: _SnippetWriter, paths: list[Path], corpus_dir: Path, *, id_field: str, skip_invalid: bool, existing: bool) -> IngestReport:
    """The report of a written ingest, or :class:`IngestError` when it is refused: a problem
    without `skip_invalid`, nothing to ingest into a new corpus, or an `--id-field` no record has."""
    report = IngestReport(added=writer.added, corpus=corpus_dir)
    if id_field != "id" and writer.id_missing:
        first_missing = writer.first_missing
        fields = ", ".join(first_missing.id_missing) or "none"
        if not writer.id_present:
            raise IngestError(
                [f"{first_missing.where}: --id-field {id_field!r}: no record has this field (fields of this one: {fields}); "
                 f"give the right field name, or leave --id-field out to number snippets FILE-LINE"],
                skippable=False,
            )
        report.notes.append(
            f"--id-field {id_field!r}: {writer.id_missing} record(s) lack the field and got FILE-LINE ids "
            f"(first: {first_missing.where}, fields: {fields})"
        )
    problems = writer.problems
    if problems and not skip_invalid:
        raise IngestError(problems)
    if report.added == 0 and not existing:
        raise IngestError(problems + [f"{', '.join(map(str, paths))}: nothing to ingest: no valid snippets"])
    report.skipped = problems + writer.duplicates
    return report


def _roll_back(corpus_dir: Path, temp_name: str, wrote_config: bool, created_dirs: list[Path]) -> None:
    """Undo a refused or failed ingest: the temporary file, a new corpus's config, new folders."""
    if os.path.exists(temp_name):
        os.unlink(temp_name)
    if wrote_config:
        CorpusLayout(corpus_dir).config.unlink(missing_ok=True)
    for folder in created_dirs:
        try:
            folder.rmdir()
        except OSError:
            break


def _save_index(corpus_dir: Path, writer: _SnippetWriter) -> None:
    try:
        writer.index().save(corpus_dir, file_signature(CorpusLayout(corpus_dir).snippets))
    except OSError:
        pass  # the index is derived; opening the corpus rebuilds it


@dataclass
class _FastFile:
    """A JSONL file taken whole by :func:`_fast_jsonl`: its ids, line ends and characters."""

    file: str
    ids: list[str]
    line_ends: np.ndarray
    characters: int
    hashes: np.ndarray
    order: np.ndarray


def _location(first: tuple[str, int] | _FastFile, snippet_id: str) -> str:
    if isinstance(first, _FastFile):
        return f"{first.file}:{first.ids.index(snippet_id) + 1}"
    return f"{first[0]}:{first[1]}"


_SCAN_BYTES = 64 << 20


def _fast_jsonl(path: Path, out: Any, seen: dict) -> _FastFile | None:
    """Take a JSONL file whose every line already has curate's snippet shape in bulk.

    pyarrow's parser checks the JSON while a second thread checks the bytes with numpy (one
    record per line, each line starting `{"id": "`, no control characters); the file is
    then copied to `out` unchanged. Returns None, with nothing written, whenever any line
    needs the careful line-by-line path (which also names the problem): a bad or odd line,
    NaN, an empty id or text, a duplicate id.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    size = path.stat().st_size
    if size == 0:
        return None
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    raw = np.frombuffer(mapped, dtype=np.uint8)
    if raw[-1] != 10:
        return None
    with ThreadPoolExecutor(max_workers=1) as pool:
        # numpy and pyarrow release the GIL: the byte scan runs beside the parse.
        scanned = pool.submit(_line_ends, raw)
        schema = pa.schema([("id", pa.string()), ("text", pa.string())])
        ids, characters, rows = [], 0, 0
        try:
            reader = pj.open_json(
                path,
                read_options=pj.ReadOptions(block_size=1 << 20),
                parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
            )
            for batch in reader:
                if batch.schema.names != ["id", "text", "meta"] or not pa.types.is_struct(batch.schema.field("meta").type):
                    return None
                if batch.column(0).null_count or batch.column(1).null_count or batch.column(2).null_count:
                    return None
                if _has_non_finite(batch.column(2)):
                    return None  # pyarrow reads NaN and Infinity, which are not JSON
                characters += pc.sum(pc.utf8_length(batch.column(1))).as_py() or 0
                ids.append(batch.column(0))
                rows += batch.num_rows
        except (pa.ArrowException, UnicodeDecodeError, ValueError):
            return None
        line_ends = scanned.result()
    if line_ends is None or rows != len(line_ends):
        return None
    line_starts = np.concatenate(([0], line_ends[:-1]))
    first_row = 0
    for id_array in ids:
        count = len(id_array)
        text_starts = _text_starts(raw, line_starts[first_row : first_row + count], id_array)
        if text_starts is None or _has_blank_text(raw, text_starts, line_starts[first_row : first_row + count], line_ends[first_row : first_row + count]):
            return None
        first_row += count
    id_list = pa.chunked_array(ids, type=pa.string()).to_pylist()
    hashes = np.fromiter(map(id_hash, id_list), dtype=np.uint64, count=rows)
    order = np.argsort(hashes, kind="stable")
    if _has_duplicate(id_list, hashes, order):
        return None
    if seen and not seen.keys().isdisjoint(id_list):
        return None
    _copy_file(path, out)
    return _FastFile(str(path), id_list, line_ends, characters, hashes, order)


def _line_ends(raw: np.ndarray) -> np.ndarray | None:
    """Offsets just past every newline, if no line holds another control character and
    every line starts like curate's snippet lines; None otherwise."""
    ends = []
    for start in range(0, len(raw), _SCAN_BYTES):
        chunk = raw[start : start + _SCAN_BYTES]
        control = np.flatnonzero(chunk < 32)
        if control.size and (chunk[control] != 10).any():
            return None  # tabs, CRs, raw control characters: let the careful path judge
        ends.append(control + (start + 1))
    line_ends = np.concatenate(ends)
    line_starts = np.concatenate(([0], line_ends[:-1]))
    if (line_ends - line_starts < len(_SNIPPET_LINE_PREFIX) + len(_TEXT_KEY)).any():
        return None
    for column, expected in enumerate(_SNIPPET_LINE_PREFIX):
        if (raw[line_starts + column] != expected).any():
            return None
    return line_ends


_TEXT_KEY = np.frombuffer(b'", "text": "', dtype=np.uint8)


def _text_starts(raw: np.ndarray, line_starts: np.ndarray, ids: Any) -> np.ndarray | None:
    """Where each line's text value begins, if every line reads `{"id": "ID", "text": "`
    with a non-empty id written as its plain UTF-8 bytes; None otherwise."""
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset : ids.offset + len(ids) + 1]
    id_lengths = np.diff(offsets)
    if len(id_lengths) and id_lengths.min() == 0:
        return None  # an empty id
    key_starts = line_starts + len(_SNIPPET_LINE_PREFIX) + id_lengths
    if len(key_starts) and key_starts[-1] + len(_TEXT_KEY) >= len(raw):
        return None
    for column, expected in enumerate(_TEXT_KEY):
        if (raw[key_starts + column] != expected).any():
            return None
    return key_starts + len(_TEXT_KEY)


def _has_blank_text(raw: np.ndarray, text_starts: np.ndarray, line_starts: np.ndarray, line_ends: np.ndarray) -> bool:
    """True if a text is empty or only whitespace (as str.isspace() counts it).

    A text whose first character is not whitespace is not blank: that is decided on the raw
    bytes for every line at once; only lines whose text starts with a space, a quote (the
    empty text), an escape or a non-ASCII space are parsed one by one.
    """
    lead, second, third = raw[text_starts], raw[text_starts + 1], raw[text_starts + 2]
    unsure = (
        (lead <= 0x20) | (lead == 0x22) | (lead == 0x5C)
        | ((lead == 0xC2) & ((second == 0x85) | (second == 0xA0)))  # U+0085, U+00A0
        | ((lead == 0xE1) & (second == 0x9A) & (third == 0x80))  # U+1680
        | ((lead == 0xE2) & (second == 0x80) & ((third <= 0x8A) | (third == 0xA8) | (third == 0xA9) | (third == 0xAF)))  # U+2000-U+200A, U+2028, U+2029, U+202F
        | ((lead == 0xE2) & (second == 0x81) & (third == 0x9F))  # U+205F
        | ((lead == 0xE3) & (second == 0x80) & (third == 0x80))  # U+3000
    )
    for row in np.flatnonzero(unsure):
        text = json.loads(raw[line_starts[row] : line_ends[row]].tobytes())["text"]
        if not text or text.isspace():
            return True
    return False


def _has_duplicate(ids: list[str], hashes: np.ndarray, order: np.ndarray) -> bool:
    """True if an id repeats; only ids whose hashes are equal are compared (`order` sorts `hashes`)."""
    ordered = hashes[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    groups: dict[int, set[str]] = {}
    for index in np.union1d(same, same + 1):
        group = groups.setdefault(int(ordered[index]), set())
        snippet_id = ids[order[index]]
        if snippet_id in group:
            return True
        group.add(snippet_id)
    return False


def _has_non_finite(array: Any) -> bool:
    """True if a float anywhere inside `array` (structs and lists included) is NaN or infinite."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_floating(kind):
        return bool(pc.any(pc.invert(pc.is_finite(array))).as_py())
    if pa.types.is_struct(kind):
        return any(_has_non_finite(array.field(index)) for index in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _has_non_finite(pc.list_flatten(array))
    return False


def _copy_file(path: Path, out: Any) -> None:
    """Append the file at `path` to `out`, in the kernel where it can."""
    out.flush()
    start = out.seek(0, os.SEEK_END)
    with path.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        copied = 0
        try:
            while copied < size:
                step = os.copy_file_range(source.fileno(), out.fileno(), size - copied)
                if step == 0:
                    break
                copied += step
        except OSError:
            copied = -1  # not supported between these files: copy through user space
        if copied != size:
            source.seek(0)
            out.seek(start)
            out.truncate()
            shutil.copyfileobj(source, out, 1 << 24)
    out.seek(0, os.SEEK_END)


def _missing_folders(folder: Path) -> list[Path]:
    """The folders `mkdir(parents=True)` would create, deepest first (removed again on refusal)."""
    missing = []
    folder = folder.absolute()
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _copy_existing(snippets_path: Path, out: Any, texts: dict[bytes, str] | None = None) -> tuple[list[int], list[int], int, dict[str, tuple[str, int]]]:
    """Copy the corpus's snippets into the new file, collecting offsets, id hashes and ids
    (and, given `texts`, the sha256 of each text with its snippet's id, the first one kept)."""
    offsets = [0]
    hashes: list[int] = []
    characters = 0
    seen: dict[str, tuple[str, int]] = {}
    position = 0
    with snippets_path.open("rb") as old:
        for line_number, line in enumerate(old, start=1):
            data = json.loads(line)
            seen[data["id"]] = (str(snippets_path), line_number)
            hashes.append(id_hash(data["id"]))
            characters += len(data["text"])
            if texts is not None:
                texts.setdefault(hashlib.sha256(data["text"].encode("utf-8", "surrogatepass")).digest(), data["id"])
            out.write(line)
            position += len(line)
            offsets.append(position)
    return offsets, hashes, characters, seen
