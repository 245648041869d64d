"""`curate ingest`: .txt files, folders of them, JSONL, parquet and saved HF datasets into a corpus.

Input is streamed. Every problem is collected as `file:line: reason`; unless
`skip_invalid`, any problem refuses the whole ingest and nothing is written. Output goes to
a temporary file first and is renamed into place only when the ingest succeeds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.model import CorpusConfig, default_labels
from curate.store import (
    CONFIG_NAME,
    SNIPPETS_NAME,
    Corpus,
    SnippetIndex,
    StoreError,
    _FILE_MODE,
    _file_signature,
    fsync_directory,
    id_hash,
    read_config,
    write_config,
)


@dataclass
class SourceRecord:
    """One candidate snippet, or the reason it cannot be one."""

    where: str
    snippet_id: str | None = None
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


@dataclass
class IngestReport:
    added: int = 0
    skipped: list[str] = field(default_factory=list)
    corpus: Path | None = None
    refused: bool = False


class IngestError(StoreError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _decode(raw: bytes, where: str) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return None, f"{where}: invalid UTF-8 at byte {error.start}"


def read_text_file(path: Path, snippet_id: str) -> Iterator[SourceRecord]:
    where = f"{path}:1"
    text, problem = _decode(path.read_bytes(), where)
    if problem:
        yield SourceRecord(where, snippet_id, problem=problem.split(": ", 1)[1])
        return
    yield SourceRecord(where, snippet_id, text, {"source": str(path)})


def read_text_folder(folder: Path) -> Iterator[SourceRecord]:
    for path in sorted(folder.rglob("*.txt")):
        if path.is_file():
            snippet_id = path.relative_to(folder).with_suffix("").as_posix()
            yield from read_text_file(path, snippet_id)


def read_jsonl(path: Path, text_field: str, id_field: str) -> Iterator[SourceRecord]:
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            where = f"{path}:{line_number}"
            if not raw.strip():
                continue
            line, problem = _decode(raw, where)
            if problem:
                yield SourceRecord(where, problem=problem.split(": ", 1)[1])
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                yield SourceRecord(where, problem=f"malformed JSON ({error.msg} at column {error.colno})")
                continue
            if not isinstance(data, dict):
                yield SourceRecord(where, problem="a line must be a JSON object")
                continue
            yield _record_from_mapping(data, where, text_field, id_field, f"{path.stem}-{line_number:06d}")


def _record_from_mapping(data: dict, where: str, text_field: str, id_field: str, default_id: str) -> SourceRecord:
    text = data.get(text_field)
    if not isinstance(text, str):
        return SourceRecord(where, problem=f"no string field {text_field!r}")
    snippet_id = data.get(id_field, default_id)
    if isinstance(snippet_id, int) and not isinstance(snippet_id, bool):
        snippet_id = str(snippet_id)
    if not isinstance(snippet_id, str) or not snippet_id:
        return SourceRecord(where, problem=f"field {id_field!r} must be a non-empty string")
    meta = data.get("meta")
    if meta is None:
        meta = {key: value for key, value in data.items() if key not in (text_field, id_field)}
    if not isinstance(meta, dict):
        return SourceRecord(where, snippet_id, problem="field 'meta' must be an object")
    return SourceRecord(where, snippet_id, text, meta)


def read_table(path: Path, text_field: str, id_field: str) -> Iterator[SourceRecord]:
    """A parquet file or a folder saved with `Dataset.save_to_disk` / `DatasetDict.save_to_disk`."""
    if path.is_file():
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        row = 0
        for batch in parquet.iter_batches(batch_size=8192):
            for data in batch.to_pylist():
                row += 1
                yield _table_record(data, f"{path}:{row}", text_field, id_field, f"{path.stem}-{row:06d}")
        return
    import datasets

    loaded = datasets.load_from_disk(str(path))
    parts = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    for split, dataset in parts:
        label = f"{path}[{split}]" if split else str(path)
        prefix = f"{path.name}-{split}" if split else path.name
        for row, data in enumerate(dataset, start=1):
            yield _table_record(data, f"{label}:{row}", text_field, id_field, f"{prefix}-{row:06d}")


def _table_record(data: dict, where: str, text_field: str, id_field: str, default_id: str) -> SourceRecord:
    if text_field not in data:
        return SourceRecord(where, problem=f"no column {text_field!r} (use --text-field)")
    data = {key: value for key, value in data.items() if _json_safe(value)}
    return _record_from_mapping(data, where, text_field, id_field, default_id)


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_hf_dataset_folder(path: Path) -> bool:
    return (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() or (path / "state.json").exists()


def sources(paths: list[Path], text_field: str = "text", id_field: str = "id") -> Iterator[SourceRecord]:
    """Every candidate record of every input path, in order."""
    for path in paths:
        if not path.exists():
            yield SourceRecord(f"{path}:0", problem="no such file or folder")
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
            yield SourceRecord(f"{path}:0", problem="unknown input type (expected .txt, a folder, .jsonl, .parquet or a saved HF dataset)")


def _existing_ids(corpus_dir: Path) -> Iterator[str]:
    with (corpus_dir / SNIPPETS_NAME).open("rb") as handle:
        for line in handle:
            yield json.loads(line)["id"]


def ingest(
    paths: list[Path],
    corpus_dir: Path,
    *,
    labels: list[str] | None = None,
    text_field: str = "text",
    id_field: str = "id",
    skip_invalid: bool = False,
    on_record: Callable[[int], None] | None = None,
) -> IngestReport:
    """Add snippets from `paths` to the corpus at `corpus_dir`, creating it if needed."""
    corpus_dir = Path(corpus_dir)
    existing = (corpus_dir / SNIPPETS_NAME).exists()
    if existing:
        config = read_config(corpus_dir)
        if labels and labels != config.label_names:
            raise StoreError(f"{corpus_dir / CONFIG_NAME}: the corpus already has labels {config.label_names}; edit corpus.toml to change them")
    else:
        try:
            config = CorpusConfig(name=corpus_dir.name or "corpus", labels=default_labels(labels) if labels else default_labels())
        except ValueError as error:
            raise StoreError(f"--labels: {error}") from None
    seen: set[str] = set(_existing_ids(corpus_dir)) if existing else set()
    problems: list[str] = []
    report = IngestReport(corpus=corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".snippets.", suffix=".tmp", dir=corpus_dir)
    os.fchmod(fd, _FILE_MODE)
    offsets: list[int] = []
    hashes: list[int] = []
    try:
        with os.fdopen(fd, "wb") as out:
            position = 0
            if existing:
                with (corpus_dir / SNIPPETS_NAME).open("rb") as old:
                    for line in old:
                        offsets.append(position)
                        hashes.append(id_hash(json.loads(line)["id"]))
                        out.write(line)
                        position += len(line)
            encoder = json.JSONEncoder(ensure_ascii=False)
            for count, record in enumerate(sources(paths, text_field, id_field), start=1):
                if on_record is not None:
                    on_record(count)
                reason = record.problem
                if reason is None and not record.text.strip():
                    reason = "empty text"
                if reason is None and record.snippet_id in seen:
                    reason = f"duplicate id {record.snippet_id!r}"
                if reason is not None:
                    problems.append(f"{record.where}: {reason}")
                    continue
                seen.add(record.snippet_id)
                line = encoder.encode({"id": record.snippet_id, "text": record.text, "meta": record.meta}).encode("utf-8") + b"\n"
                offsets.append(position)
                hashes.append(id_hash(record.snippet_id))
                out.write(line)
                position += len(line)
                report.added += 1
            offsets.append(position)
            out.flush()
            os.fsync(out.fileno())
        if problems and not skip_invalid:
            raise IngestError(problems)
        if not offsets[:-1]:
            raise IngestError(problems + ["nothing to ingest: no valid snippets"])
        os.replace(temp_name, corpus_dir / SNIPPETS_NAME)
        fsync_directory(corpus_dir)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        if not existing and not any(corpus_dir.iterdir()):
            corpus_dir.rmdir()
        raise
    if not existing:
        write_config(corpus_dir, config)
    SnippetIndex.from_lists(offsets, hashes).save(corpus_dir, _file_signature(corpus_dir / SNIPPETS_NAME))
    report.skipped = problems
    return report

