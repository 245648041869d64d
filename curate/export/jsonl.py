"""curate's own JSONL: one snippet per line with its text, stories, boilerplate, entities and split.

Reads the same shape back, and also plain annotation records (DESIGN.md) whose `snippet_id`
names a snippet already in the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.export.interchange import ImportedRecord, SplitJsonlWriter, json_lines
from curate.export.rows import snippet_row
from curate.model import Annotation, Snippet


class Writer(SplitJsonlWriter):
    def add(self, split: str, snippet: Snippet, record: Annotation, stories) -> None:
        row = snippet_row(snippet, record)
        row["split"] = split
        self.write(split, row)


def read(path: Path) -> Iterator[ImportedRecord]:
    for where, value, problem in json_lines(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        if not isinstance(value, dict):
            yield ImportedRecord(where, problem="a line must be a JSON object")
            continue
        try:
            snippet_id = value.get("id", value.get("snippet_id"))
            text = value.get("text")
            if text is None and snippet_id is None:
                raise ValueError("needs a 'text' or an 'id'/'snippet_id'")
            stories = value.get("stories")
            boilerplate = value.get("boilerplate")
            yield ImportedRecord(
                where,
                text=text,
                snippet_id=str(snippet_id) if snippet_id is not None else None,
                entities=[(int(item["start"]), int(item["end"]), str(item["label"])) for item in value.get("entities") or []],
                stories=[(int(item["start"]), int(item["end"]), bool(item.get("truncated", False))) for item in stories] if stories else None,
                boilerplate=[(int(item["start"]), int(item["end"]), str(item["kind"])) for item in boilerplate] if boilerplate is not None else None,
                status=value.get("status") or "done",
                note=value.get("note"),
            )
        except (KeyError, TypeError, ValueError) as error:
            yield ImportedRecord(where, problem=f"not a curate record: {_reason(error)}")


def _reason(error: Exception) -> str:
    return f"missing field {error}" if isinstance(error, KeyError) else str(error)
