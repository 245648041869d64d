"""Label Studio's JSON export (a list of tasks, or one task per line) for text NER.

A task's text is `data.text`; its id, if any, `data.snippet_id` or a string `data.id`. Of its
`annotations` the last one is read: `labels` results give entities (`value.start`,
`value.end`, `value.labels[0]`); a cancelled annotation makes the snippet skipped. Tasks with
predictions only are reported, not imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from curate.export.interchange import ImportedRecord, json_lines


def _tasks(path: Path) -> Iterator[tuple[str, object, str | None]]:
    raw = path.read_bytes()
    if raw.lstrip()[:1] == b"[":
        try:
            tasks = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            yield f"{path}:1", None, f"not a Label Studio JSON export: {error}"
            return
        for number, task in enumerate(tasks, start=1):
            yield f"{path}[task {number}]", task, None
        return
    yield from json_lines(path)


def _entities(annotation: dict) -> list[tuple[int, int, str]]:
    entities = []
    for result in annotation.get("result") or []:
        if result.get("type") != "labels":
            continue
        value = result["value"]
        labels = value.get("labels") or []
        if len(labels) != 1:
            raise ValueError(f"a span must carry one label, got {labels!r}")
        entities.append((int(value["start"]), int(value["end"]), str(labels[0])))
    entities.sort()
    return entities


def read(path: Path) -> Iterator[ImportedRecord]:
    for where, task, problem in _tasks(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            yield ImportedRecord(where, problem="not a Label Studio task: needs data.text")
            continue
        snippet_id = data.get("snippet_id", data.get("id") if isinstance(data.get("id"), str) else None)
        annotations = task.get("annotations") or []
        if not annotations:
            yield ImportedRecord(where, problem="the task has no annotations (predictions are not imported)")
            continue
        annotation = annotations[-1]
        try:
            entities = [] if annotation.get("was_cancelled") else _entities(annotation)
        except (KeyError, TypeError, ValueError) as error:
            yield ImportedRecord(where, problem=f"bad result: {error}")
            continue
        yield ImportedRecord(
            where,
            text=data["text"],
            entities=entities,
            snippet_id=str(snippet_id) if snippet_id is not None else None,
            status="skipped" if annotation.get("was_cancelled") else "done",
        )
