"""What every reader of other tools' files yields: one text with its spans, or the reason it cannot be read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImportedRecord:
    """One annotated text from another tool; offsets are `str` indices into `text`.

    `stories` and `boilerplate` are None when the tool has no such notion (the whole text is
    then one story without boilerplate).
    """

    where: str
    text: str | None = None
    entities: list[tuple[int, int, str]] = field(default_factory=list)
    snippet_id: str | None = None
    stories: list[tuple[int, int, bool]] | None = None
    boilerplate: list[tuple[int, int, str]] | None = None
    status: str = "done"
    note: str | None = None
    problem: str | None = None
    placed: int = 0
    """How many of the file's texts were placed onto this snippet by their tokens (0: read as is)."""


def json_lines(path: Path) -> Iterator[tuple[str, object | None, str | None]]:
    """(where, value, problem) for every non-blank line of a JSONL file."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if not raw.strip():
                continue
            try:
                yield where, json.loads(raw.decode("utf-8")), None
            except UnicodeDecodeError as error:
                yield where, None, f"not UTF-8 (byte {error.start})"
            except json.JSONDecodeError as error:
                yield where, None, f"malformed JSON: {error.msg.removesuffix(' at')} (column {error.colno})"


def curate_extras(record: dict) -> tuple[list[tuple[int, int, bool]] | None, list[tuple[int, int, str]] | None]:
    """Stories and boilerplate kept by curate's own writers under the `curate` key, if present."""
    extras = record.get("curate")
    if not isinstance(extras, dict):
        return None, None
    stories = extras.get("stories")
    boilerplate = extras.get("boilerplate")
    return (
        [(int(item["start"]), int(item["end"]), bool(item.get("truncated", False))) for item in stories] if stories else None,
        [(int(item["start"]), int(item["end"]), str(item["kind"])) for item in boilerplate] if boilerplate is not None else None,
    )


def curate_extras_of(record) -> dict:
    """The `curate` key written beside other tools' fields: stories and boilerplate of one record."""
    return {
        "stories": [{"start": item.start, "end": item.end, "truncated": item.truncated} for item in record.stories],
        "boilerplate": [{"start": item.start, "end": item.end, "kind": item.kind} for item in record.boilerplate],
    }


class SplitJsonlWriter:
    """One JSONL file per split, `OUT/<split>.jsonl`, for the per-snippet formats."""

    suffix = ".jsonl"

    def __init__(self, folder: Path, context) -> None:
        self.folder = folder
        self.context = context
        self.handles: dict[str, object] = {}

    def handle(self, split: str):
        handle = self.handles.get(split)
        if handle is None:
            from curate.export import safe_child

            handle = self.handles[split] = safe_child(self.folder, split, self.suffix).open("w", encoding="utf-8", newline="\n")
        return handle

    def write(self, split: str, value: dict) -> None:
        from curate.export import writing

        handle = self.handle(split)
        with writing(handle.name):
            handle.write(json.dumps(value, ensure_ascii=False) + "\n")

    def finish(self) -> list[Path]:
        from curate.export import writing

        for handle in self.handles.values():
            with writing(handle.name):
                handle.close()
        return sorted(path for path in self.folder.iterdir() if path.is_file())
