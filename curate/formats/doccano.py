"""doccano's sequence-labelling JSONL: `text` and `label` as `[start, end, LABEL]` triples.

Written per snippet; other keys (`snippet_id`, `split`, `curate`) become doccano metadata.
Read back: `label` or `labels` triples, or the newer `entities` objects
(`start_offset`, `end_offset`, `label`), from JSONL, a JSON array or one JSON object.

doccano's offsets are counted by its JavaScript front end, in UTF-16 code units: an emoji or
a flag's letter counts two. They are converted to and from Python `str` indices both ways; the
`curate` key (stories, boilerplate) keeps curate's own `str` offsets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.formats.interchange import (
    BadValue,
    ImportedRecord,
    SplitJsonlWriter,
    Utf16,
    curate_extras,
    curate_extras_of,
    json_records,
    label,
    offset,
    record_id,
    short,
)
from curate.model import Annotation, Snippet


class Writer(SplitJsonlWriter):
    story_rows = False

    def add(self, split: str, snippet: Snippet, record: Annotation, stories) -> None:
        units = Utf16(snippet.text)
        self.write(
            split,
            {
                "text": snippet.text,
                "label": [[units.to_units(item.start), units.to_units(item.end), item.label] for item in record.entities],
                "snippet_id": snippet.id,
                "split": split,
                "curate": curate_extras_of(record),
            },
        )


def _entities(value: dict) -> list[tuple[object, object, object]]:
    """(start, end, label) as written in the file, unchecked."""
    if "entities" in value and not ("label" in value or "labels" in value):
        items = value["entities"]
        if not isinstance(items, list):
            raise BadValue(f"'entities' must be a list, got {short(items)}")
        found = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict) or not all(key in item for key in ("start_offset", "end_offset", "label")):
                raise BadValue(f"entity {number} must be an object with start_offset, end_offset and label, got {short(item)}")
            found.append((item["start_offset"], item["end_offset"], item["label"]))
        return found
    triples = value.get("label", value.get("labels"))
    if triples is None:
        return []
    if not isinstance(triples, list):
        raise BadValue(f"'label' must be a list of [start, end, LABEL], got {short(triples)}")
    for item in triples:
        if not isinstance(item, list) or len(item) != 3:
            raise BadValue(f"a label must be [start, end, LABEL], got {short(item)}")
    return [tuple(item) for item in triples]


def read(path: Path, **_options) -> Iterator[ImportedRecord]:
    for where, value, problem in json_records(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            yield ImportedRecord(where, problem="not a doccano record: needs a string 'text'")
            continue
        text = value["text"]
        record = ImportedRecord(where, text=text, snippet_id=record_id(value.get("snippet_id")))
        units = Utf16(text)
        try:
            for number, (start, end, name) in enumerate(_entities(value), start=1):
                start, end = units.span(record, offset(start, f"label {number} start"), offset(end, f"label {number} end"))
                record.entities.append((start, end, label(name, f"label {number} name")))
            record.stories, record.boilerplate = curate_extras(value)
        except BadValue as error:
            yield ImportedRecord(where, problem=f"bad label: {error}")
            continue
        relations = value.get("relations")
        if isinstance(relations, list) and relations:
            record.not_imported["doccano relations"] = len(relations)  # curate has entities only
        yield record
