"""curate's own JSONL: one snippet per line with its text, stories, boilerplate, entities and split.

Reads the same shape back, and also plain annotation records (docs/data-contract.md) whose `snippet_id`
names a snippet already in the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.export.rows import snippet_row
from curate.formats.interchange import BadValue, ImportedRecord, SplitJsonlWriter, json_lines, label, offset, record_id, short, spans_of
from curate.model import Annotation, Snippet


class Writer(SplitJsonlWriter):
    story_rows = False

    def add(self, split: str, snippet: Snippet, record: Annotation, stories) -> None:
        row = snippet_row(snippet, record)
        row["split"] = split
        self.write(split, row)


def read(path: Path, **_options) -> Iterator[ImportedRecord]:
    for where, value, problem in json_lines(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        if not isinstance(value, dict):
            yield ImportedRecord(where, problem="a line must be a JSON object")
            continue
        try:
            snippet_id = record_id(value.get("id", value.get("snippet_id")))
            text = value.get("text")
            if text is not None and not isinstance(text, str):
                raise BadValue(f"'text' must be a string, got {short(text)}")
            if text is None and snippet_id is None:
                raise ValueError("needs a 'text' or an 'id'/'snippet_id' (a string)")
            entities = value.get("entities") or []
            if not isinstance(entities, list) or not all(isinstance(item, dict) for item in entities):
                raise BadValue(f"'entities' must be a list of objects, got {short(entities)}")
            yield ImportedRecord(
                where,
                text=text,
                snippet_id=snippet_id,
                entities=[(offset(item["start"], "entity start"), offset(item["end"], "entity end"), label(item["label"])) for item in entities],
                stories=spans_of(value.get("stories"), "stories"),
                boilerplate=spans_of(value.get("boilerplate"), "boilerplate"),
                status=value.get("status") or "done",
                note=value.get("note"),
            )
        except (KeyError, TypeError, ValueError) as error:
            yield ImportedRecord(where, problem=f"not a curate record: {_reason(error)}")


def _reason(error: Exception) -> str:
    return f"missing field {error}" if isinstance(error, KeyError) else str(error)
