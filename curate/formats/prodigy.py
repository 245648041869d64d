"""Prodigy's NER task shape (`ner_manual`): `text`, `tokens`, `spans`, `meta`, `answer`.

Written per snippet (the whole scraped text), so Prodigy shows what the annotators saw;
story boundaries and boilerplate ride along under a `curate` key, which Prodigy keeps.
Read back: `accept` is done, `ignore` skipped, `reject` flagged. Binary answers (`ner.teach`:
accept or reject one suggested span) are not complete annotations: they are refused, or merged
per text into an in-progress record with `binary="merge"` (`--binary merge`). Offsets are
Python `str` indices (Prodigy is Python), and must be integers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.formats.interchange import (
    BadValue,
    ImportedRecord,
    SplitJsonlWriter,
    curate_extras,
    curate_extras_of,
    json_lines,
    label,
    offset,
    record_id,
    short,
)
from curate.model import Annotation, Snippet
from curate.text import TextModel

ANSWER_STATUS = {"accept": "done", "ignore": "skipped", "reject": "flagged"}


class Writer(SplitJsonlWriter):
    story_rows = False

    def add(self, split: str, snippet: Snippet, record: Annotation, stories) -> None:
        text = snippet.text
        tokens = TextModel(text).tokens
        token_index = {start: index for index, (start, _) in enumerate(tokens)}
        token_end_index = {end: index for index, (_, end) in enumerate(tokens)}
        task_tokens = []
        for index, (start, end) in enumerate(tokens):
            following = tokens[index + 1][0] if index + 1 < len(tokens) else len(text)
            task_tokens.append({"text": text[start:end], "start": start, "end": end, "id": index, "ws": following > end and text[end] == " "})
        spans = [
            {"start": item.start, "end": item.end, "label": item.label, "token_start": token_index.get(item.start), "token_end": token_end_index.get(item.end)}
            for item in record.entities
        ]
        self.write(
            split,
            {
                "text": text,
                "tokens": task_tokens,
                "spans": spans,
                "meta": {"snippet_id": snippet.id, "split": split},
                "answer": "accept" if record.status in ("done", None) else "ignore",
                "_view_id": "ner_manual",
                "curate": curate_extras_of(record),
            },
        )


MANUAL_VIEWS = ("ner_manual", "spans_manual", "blocks")
BINARY_VIEWS = ("ner", "binary")
BINARY_MODES = ("refuse", "merge")


def is_binary(task: dict) -> bool:
    """Whether a task is a binary answer (`ner.teach`, `ner.correct`'s accept/reject of one model
    candidate) rather than a manual annotation of the whole text: its view is `ner` (not
    `ner_manual`), or, in files without a view id, it has no tokens and its spans are a model's
    scored candidates or carry their own answers."""
    view = task.get("_view_id")
    if view in MANUAL_VIEWS:
        return False
    if view in BINARY_VIEWS or task.get("_is_binary") is True:
        return True
    spans = task.get("spans")
    if view is None and "tokens" not in task and isinstance(spans, list) and spans:
        return all(isinstance(span, dict) and any(key in span for key in ("score", "rank", "answer")) for span in spans)
    return False


def _spans(value: dict) -> list[tuple[int, int, str, str | None]]:
    """(start, end, label, the span's own answer) per span; BadValue if a span cannot be read."""
    spans = value.get("spans")
    if spans is None:
        return []
    if not isinstance(spans, list):
        raise BadValue(f"'spans' must be a list, got {short(spans)}")
    found = []
    for number, span in enumerate(spans, start=1):
        if not isinstance(span, dict):
            raise BadValue(f"span {number} must be an object, got {short(span)}")
        for key in ("start", "end", "label"):
            if key not in span:
                raise BadValue(f"span {number} has no {key!r}")
        answer = span.get("answer")
        found.append((offset(span["start"], f"span {number} start"), offset(span["end"], f"span {number} end"), label(span["label"], f"span {number} label"), answer if isinstance(answer, str) else None))
    return found


def _note_conflict(answers: dict, record: ImportedRecord, text: str, span: tuple[int, int, str], said: str, where: str) -> None:
    """Remember the first answer on a span of a text; note a later one that contradicts it
    (accepted one time, rejected another): the span is kept, as every accepted span is."""
    first = answers.setdefault((text, *span), (said, where))
    if "accept" in (said, first[0]) and said != first[0]:
        start, end, name = span
        line = first[1].rpartition(":")[2]
        record.notes.append(
            f"{where}: {short(text[start:end], 30)} [{start},{end}) {name} was {_PAST[said]} here but {_PAST[first[0]]} on line {line}; kept, as every accepted span is"
        )


_PAST = {"accept": "accepted", "reject": "rejected", "ignore": "ignored"}


def read(path: Path, *, binary: str = "refuse", **_options) -> Iterator[ImportedRecord]:
    """Prodigy tasks; binary answers are refused, or with `binary="merge"` merged per text into
    one in-progress record (accepted spans kept, rejected and ignored ones dropped)."""
    merged: dict[str, ImportedRecord] = {}
    answers: dict[tuple[str, int, int, str], tuple[str, str]] = {}  # (text, span): the first answer and its line
    for where, value, problem in json_lines(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            yield ImportedRecord(where, problem="not a Prodigy task: needs a string 'text'")
            continue
        text = value["text"]
        meta = value.get("meta") if isinstance(value.get("meta"), dict) else {}
        snippet_id = record_id(meta.get("snippet_id", meta.get("id", value.get("id"))))
        answer = value.get("answer", "accept")
        if not isinstance(answer, str) or answer not in ANSWER_STATUS:
            yield ImportedRecord(where, problem=f"unknown answer {short(answer)} (expected accept, ignore or reject)")
            continue
        try:
            spans = _spans(value)
            stories, boilerplate = curate_extras(value)
        except BadValue as error:
            yield ImportedRecord(where, problem=f"bad span: {error}")
            continue
        if is_binary(value):
            if binary != "merge":
                yield ImportedRecord(
                    where,
                    problem="a binary answer (ner.teach: accept/reject of one suggested span) is not a complete "
                    "annotation of the text; pass --binary merge to gather the accepted spans per text into an "
                    "in-progress record",
                )
                continue
            record = merged.get(text)
            if record is None:
                record = merged[text] = ImportedRecord(where, text=text, snippet_id=snippet_id, status="in progress", note="merged from Prodigy binary answers")
            for start, end, name, own in spans:
                said = own or answer
                if said == "accept" and (start, end, name) not in record.entities:
                    record.entities.append((start, end, name))
                _note_conflict(answers, record, text, (start, end, name), said, where)
            continue
        yield ImportedRecord(
            where,
            text=text,
            entities=[(start, end, name) for start, end, name, _ in spans],
            snippet_id=snippet_id,
            stories=stories,
            boilerplate=boilerplate,
            status=ANSWER_STATUS[answer],
            note="rejected in Prodigy" if answer == "reject" else None,
        )
    yield from merged.values()
