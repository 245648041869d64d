"""doccano's sequence-labelling JSONL: `text` and `label` as `[start, end, LABEL]` triples.

Written per snippet; other keys (`snippet_id`, `split`, `curate`) become doccano metadata.
Read back: `label` or `labels` triples, or the newer `entities` objects
(`start_offset`, `end_offset`, `label`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.export.interchange import ImportedRecord, SplitJsonlWriter, curate_extras, curate_extras_of, json_lines
from curate.model import Annotation, Snippet


class Writer(SplitJsonlWriter):
    def add(self, split: str, snippet: Snippet, record: Annotation, stories) -> None:
        self.write(
            split,
            {
                "text": snippet.text,
                "label": [[item.start, item.end, item.label] for item in record.entities],
                "snippet_id": snippet.id,
                "split": split,
                "curate": curate_extras_of(record),
            },
        )


def _entities(value: dict) -> list[tuple[int, int, str]]:
    if isinstance(value.get("entities"), list):
        return [(int(item["start_offset"]), int(item["end_offset"]), str(item["label"])) for item in value["entities"]]
    triples = value.get("label", value.get("labels")) or []
    entities = []
    for item in triples:
        if not isinstance(item, (list, tuple)) or len(item) != 3:
            raise ValueError(f"a label must be [start, end, LABEL], got {item!r}")
        entities.append((int(item[0]), int(item[1]), str(item[2])))
    return entities


def read(path: Path) -> Iterator[ImportedRecord]:
    for where, value, problem in json_lines(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            yield ImportedRecord(where, problem="not a doccano record: needs a string 'text'")
            continue
        try:
            entities = _entities(value)
            stories, boilerplate = curate_extras(value)
        except (KeyError, TypeError, ValueError) as error:
            yield ImportedRecord(where, problem=f"bad label: {error}")
            continue
        snippet_id = value.get("snippet_id")
        yield ImportedRecord(
            where,
            text=value["text"],
            entities=entities,
            snippet_id=str(snippet_id) if snippet_id is not None else None,
            stories=stories,
            boilerplate=boilerplate,
        )
