"""`curate validate`: check a snippets or annotation JSONL file, every problem as `file:line: reason`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from curate.model import Annotation, GoldAnnotation, Snippet, annotation_problems
from curate.store import Corpus, validation_message
from curate.text import TextModel


def detect_kind(path: Path) -> str:
    """'snippets' or 'annotations', from the first JSON object in the file."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if isinstance(data, dict):
                return "annotations" if "snippet_id" in data else "snippets"
    return "snippets"


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield line_number, raw


def validate_file(path: Path, corpus: Corpus | None = None) -> Iterator[str]:
    """Yield every problem of the file at `path` as `file:line: reason`."""
    kind = detect_kind(path)
    seen: dict[str, int] = {}
    record_type = Snippet if kind == "snippets" else Annotation
    for line_number, raw in _lines(path):
        where = f"{path}:{line_number}"
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield f"{where}: invalid UTF-8 at byte {error.start}"
            continue
        if not raw.endswith(b"\n"):
            try:
                json.loads(raw)
            except ValueError:
                yield f"{where}: torn last line (an interrupted write)"
                continue
        try:
            data = json.loads(raw)
        except ValueError as error:
            yield f"{where}: malformed JSON ({error})"
            continue
        if kind == "annotations" and isinstance(data, dict) and ("adjudicator" in data or "sources" in data):
            record_type = GoldAnnotation
        try:
            record = record_type.model_validate(data)
        except ValidationError as error:
            yield f"{where}: {validation_message(error)}"
            continue
        if kind == "snippets":
            if record.id in seen:
                yield f"{where}: duplicate id {record.id!r} (first on line {seen[record.id]})"
            seen.setdefault(record.id, line_number)
            continue
        if corpus is not None:
            snippet = corpus.snippet_by_id(record.snippet_id)
            if snippet is None:
                yield f"{where}: snippet {record.snippet_id!r} is not in the corpus {corpus.path}"
                continue
            model = TextModel(snippet.text)
            for problem in annotation_problems(record, snippet.text, corpus.config, model.token_edges):
                yield f"{where}: {problem}"
