"""Prodigy's NER task shape (`ner_manual`): `text`, `tokens`, `spans`, `meta`, `answer`.

Written per snippet (the whole scraped text), so Prodigy shows what the annotators saw;
story boundaries and boilerplate ride along under a `curate` key, which Prodigy keeps.
Read back: `accept` is done, `ignore` skipped, `reject` flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.export.interchange import ImportedRecord, SplitJsonlWriter, curate_extras, curate_extras_of, json_lines
from curate.model import Annotation, Snippet
from curate.text import TextModel

ANSWER_STATUS = {"accept": "done", "ignore": "skipped", "reject": "flagged"}


class Writer(SplitJsonlWriter):
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


def read(path: Path) -> Iterator[ImportedRecord]:
    for where, value, problem in json_lines(path):
        if problem:
            yield ImportedRecord(where, problem=problem)
            continue
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            yield ImportedRecord(where, problem="not a Prodigy task: needs a string 'text'")
            continue
        meta = value.get("meta") if isinstance(value.get("meta"), dict) else {}
        snippet_id = meta.get("snippet_id", meta.get("id", value.get("id")))
        answer = value.get("answer", "accept")
        if answer not in ANSWER_STATUS:
            yield ImportedRecord(where, problem=f"unknown answer {answer!r} (expected accept, ignore or reject)")
            continue
        try:
            entities = [(int(span["start"]), int(span["end"]), str(span["label"])) for span in value.get("spans") or []]
            stories, boilerplate = curate_extras(value)
        except (KeyError, TypeError, ValueError) as error:
            yield ImportedRecord(where, problem=f"bad span: {error}")
            continue
        yield ImportedRecord(
            where,
            text=value["text"],
            entities=entities,
            snippet_id=str(snippet_id) if snippet_id is not None else None,
            stories=stories,
            boilerplate=boilerplate,
            status=ANSWER_STATUS[answer],
            note="rejected in Prodigy" if answer == "reject" else None,
        )
