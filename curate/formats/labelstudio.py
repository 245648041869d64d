"""Label Studio's JSON for text NER: tasks as a JSON array, one task object, or one task per line.

A task's text is `data.text`; its id, if any, `data.snippet_id` or a string `data.id`. Of its
`annotations` (`completions` in old exports) the last one is read: `labels` results give
entities (`value.start`, `value.end`, `value.labels[0]`); a cancelled annotation makes the
snippet skipped. Tasks with predictions only are reported, not imported.

Label Studio's offsets are counted by its JavaScript front end, in UTF-16 code units (an emoji
counts two). They are converted to Python `str` indices on import and back on export. When a
result carries its `text` and only the unconverted offsets give that text (a file written by a
tool that counts code points), the unconverted offsets are taken.

Written (`export --format labelstudio`) as one JSON array of tasks per split, `OUT/<split>.json`,
each with one annotation; stories and boilerplate ride along under a `curate` key in `str` offsets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from curate.formats.base import Writer as BaseWriter
from curate.formats.base import safe_child
from curate.formats.interchange import BadValue, ImportedRecord, Utf16, curate_extras, curate_extras_of, json_records, label, offset, record_id, short
from curate.model import Annotation, Snippet


class Writer(BaseWriter):
    def __init__(self, folder: Path, context) -> None:
        super().__init__(folder, context)
        self.tasks: dict[str, list[dict]] = {}

    story_rows = False

    def add(self, split: str, snippet: Snippet, record: Annotation, stories) -> None:
        text = snippet.text
        units = Utf16(text)
        result = [
            {
                "id": f"e{number}",
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
                "value": {"start": units.to_units(item.start), "end": units.to_units(item.end), "text": text[item.start : item.end], "labels": [item.label]},
            }
            for number, item in enumerate(record.entities, start=1)
        ]
        self.tasks.setdefault(split, []).append(
            {
                "data": {"text": text, "snippet_id": snippet.id, "split": split},
                "annotations": [{"result": result, "was_cancelled": record.status == "skipped"}],
                "curate": curate_extras_of(record),
            }
        )

    def finish(self) -> list[Path]:
        for split, tasks in self.tasks.items():
            with safe_child(self.folder, split, ".json").open("w", encoding="utf-8", newline="\n") as handle:
                json.dump(tasks, handle, ensure_ascii=False, indent=1)
                handle.write("\n")
        return self.written()


# Label Studio's result types other than the text spans curate imports (`labels`): what a
# project's other controls (a choice, a text area, a relation between spans...) save.
OTHER_TYPES = {
    "choices", "textarea", "relation", "rating", "number", "datetime", "taxonomy", "pairwise", "ranker",
    "hypertextlabels", "paragraphlabels", "rectanglelabels", "rectangle", "polygonlabels", "polygon",
    "keypointlabels", "keypoint", "brushlabels", "brush", "ellipselabels", "ellipse", "timeserieslabels",
    "videorectangle", "audiolabels",
}
_SPAN_KEYS = ("start", "end", "labels")


def _other_result(number: int, kind: object, value: object, record: ImportedRecord) -> None:
    """A result that is not a text span: counted as not imported when its type is one Label
    Studio has; BadValue when it has no type, or an unknown one while it carries a span's keys
    (imported as nothing, it would make a finished record without its entities)."""
    span_like = isinstance(value, dict) and any(key in value for key in _SPAN_KEYS)
    if not isinstance(kind, str) or not kind:
        keys = f" though its value has {', '.join(key for key in _SPAN_KEYS if key in value)}" if span_like else ""
        raise BadValue(f"result {number} has no 'type'{keys} (a text span is type 'labels')")
    if kind not in OTHER_TYPES and span_like:
        raise BadValue(f"result {number} has type {short(kind)}, which is not a Label Studio type curate knows, with a span's start, end or labels (a text span is type 'labels')")
    shown = f"Label Studio '{kind}' results"
    record.not_imported[shown] = record.not_imported.get(shown, 0) + 1


def _entities(annotation: dict, text: str, record: ImportedRecord) -> list[tuple[int, int, str]]:
    results = annotation.get("result")
    if results is None:
        return []
    if not isinstance(results, list):
        raise BadValue(f"'result' must be a list, got {short(results)}")
    units = Utf16(text)
    entities = []
    for number, result in enumerate(results, start=1):
        if not isinstance(result, dict):
            raise BadValue(f"result {number} must be an object, got {short(result)}")
        kind = result.get("type")
        value = result.get("value")
        if kind != "labels":
            _other_result(number, kind, value, record)
            continue
        if not isinstance(value, dict):
            raise BadValue(f"result {number}: 'value' must be an object with start, end and labels, got {short(value)}")
        for key in ("start", "end", "labels"):
            if key not in value:
                raise BadValue(f"result {number}: 'value' has no {key!r}")
        labels = value["labels"]
        if not isinstance(labels, list) or len(labels) != 1:
            raise BadValue(f"result {number}: a span must carry one label, got {short(labels)}")
        name = label(labels[0], f"result {number} label")
        start, end = offset(value["start"], f"result {number} start"), offset(value["end"], f"result {number} end")
        try:
            converted = units.to_index(start), units.to_index(end)
        except BadValue:
            converted = None
        quoted = value.get("text")
        if isinstance(quoted, str) and (converted is None or text[converted[0] : converted[1]] != quoted) and text[start:end] == quoted:
            converted = (start, end)  # this file counted code points, as its span text shows
        if converted is None:
            converted = units.span(record, start, end)  # raises the surrogate-pair reason
        if converted != (start, end):
            record.file_offsets[converted] = (start, end)
        entities.append((*converted, name))
    entities.sort()
    return entities


def read(path: Path, **_options) -> Iterator[ImportedRecord]:
    for where, task, problem in json_records(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            yield ImportedRecord(where, problem="not a Label Studio task: needs data.text")
            continue
        text = data["text"]
        snippet_id = record_id(data.get("snippet_id")) or (data.get("id") if isinstance(data.get("id"), str) and data.get("id") else None)
        annotations = task.get("annotations", task.get("completions"))
        if annotations is None or annotations == []:
            yield ImportedRecord(where, problem="the task has no annotations (predictions are not imported)")
            continue
        if not isinstance(annotations, list):
            yield ImportedRecord(where, problem=f"bad task: 'annotations' must be a list, got {short(annotations)}")
            continue
        annotation = annotations[-1]
        if not isinstance(annotation, dict):
            yield ImportedRecord(where, problem=f"bad task: an annotation must be an object, got {short(annotation)}")
            continue
        cancelled = annotation.get("was_cancelled") is True
        record = ImportedRecord(where, text=text, snippet_id=snippet_id, status="skipped" if cancelled else "done")
        try:
            record.entities = [] if cancelled else _entities(annotation, text, record)
            record.stories, record.boilerplate = curate_extras(task)
        except BadValue as error:
            yield ImportedRecord(where, problem=f"bad result: {error}")
            continue
        yield record
