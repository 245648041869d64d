"""`curate validate`: check a snippets or annotation JSONL file, every problem as `file:line: reason`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from curate.model import Annotation, BoilerplateRange, Entity, GoldAnnotation, Snippet, Story, annotation_problems, error_location
from curate.model import validation_reason as validation_message
from curate.store import Corpus, CorpusLayout, line_problem
from curate.text import TextModel

_TEXT_MODEL_CACHE = 64


def detect_kind(path: Path) -> str:
    """'snippets' or 'annotations', from the first JSON object in the file."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                data = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(data, dict):
                return "annotations" if "snippet_id" in data else "snippets"
    return "snippets"


def validate_file(path: Path, corpus: Corpus | None = None) -> Iterator[str]:
    """Yield every problem of the file at `path` as `file:line: reason`.

    Snippets: the record shape, empty texts, duplicate ids. Annotations (journals,
    suggestions, gold): the record rules of docs/data-contract.md; with `corpus`, also that the snippet
    exists, the stories cover its text, labels and boilerplate kinds are the corpus's and
    entities lie on token edges. A gold file may hold one record per snippet.
    """
    kind = detect_kind(path)
    first_line: dict[str, int] = {}
    one_per_snippet = CorpusLayout.is_gold(path)
    models: dict[str, TextModel] = {}
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{line_number}"
            data, problem = _parse(raw)
            if problem is not None:
                yield f"{where}: {problem}"
                continue
            record_type: type[BaseModel] = Snippet
            if kind == "annotations":
                gold = "adjudicator" in data or "sources" in data
                record_type = GoldAnnotation if gold else Annotation
            try:
                record = record_type.model_validate(data)
            except ValidationError as error:
                if record_type is Snippet:
                    yield f"{where}: {validation_message(error)}"
                    continue
                # Every problem of the line: the field errors, every broken record rule, and the
                # corpus checks (labels, kinds, snippet, length) on whatever parts are well formed.
                yield from (f"{where}: {problem}" for problem in _record_problems(error, data))
                if corpus is not None:
                    yield from (f"{where}: {problem}" for problem in _lenient_corpus_problems(data, corpus, models))
                continue
            if isinstance(record, Snippet):
                if record.id in first_line:
                    yield f"{where}: duplicate id {record.id!r} (first on line {first_line[record.id]})"
                first_line.setdefault(record.id, line_number)
                continue
            if one_per_snippet or isinstance(record, GoldAnnotation):
                if record.snippet_id in first_line:
                    yield f"{where}: second record for snippet {record.snippet_id!r} (first on line {first_line[record.snippet_id]}); gold holds one per snippet"
                first_line.setdefault(record.snippet_id, line_number)
            if corpus is not None:
                yield from (f"{where}: {problem}" for problem in _corpus_problems(record, corpus, models))


def _parse(raw: bytes) -> tuple[dict | None, str | None]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError alike; nested too deeply
        reason, torn = line_problem(raw)
        if torn and not raw.endswith(b"\n"):
            reason = "torn last line (an interrupted write)"
        return None, reason
    if not isinstance(data, dict):
        return None, "a line must be a JSON object"
    return data, None


def _corpus_problems(record: Annotation, corpus: Corpus, models: dict[str, TextModel]) -> list[str]:
    snippet = corpus.snippet_by_id(record.snippet_id)
    if snippet is None:
        return [f"snippet {record.snippet_id!r} is not in the corpus {corpus.path}"]
    model = models.get(record.snippet_id)
    if model is None:
        if len(models) >= _TEXT_MODEL_CACHE:
            models.clear()
        model = models[record.snippet_id] = TextModel(snippet.text)
    return annotation_problems(record, snippet.text, corpus.config, model.token_edges)


def _record_problems(error: ValidationError, data: dict) -> list[str]:
    """The field errors of `error` as one reason, and each broken record rule (`Annotation._structure`
    stops at the first) as its own."""
    field_errors = [item for item in error.errors() if item["loc"]]
    problems = []
    if field_errors:
        problems.append("; ".join(f"{error_location(item['loc'])}: {' '.join(item['msg'].removeprefix('Value error, ').split())}" for item in field_errors))
    if len(field_errors) < len(error.errors()):  # the record rules ran, so every part is well formed
        problems += _structure_problems(data) or [validation_message(error)]
    return problems


def _valid_items(items: object, model: type[BaseModel]) -> list:
    if not isinstance(items, list):
        return []
    valid = []
    for item in items:
        try:
            valid.append(model.model_validate(item))
        except ValidationError:
            continue
    return valid


def _structure_problems(data: dict) -> list[str]:
    """Every broken rule of the data contract's record shape (stories contiguous from 0; entities and boilerplate
    sorted, not overlapping, each inside one story), each as its own reason."""
    stories = _valid_items(data.get("stories"), Story)
    entities = _valid_items(data.get("entities"), Entity)
    boilerplate = _valid_items(data.get("boilerplate"), BoilerplateRange)
    problems = []
    if stories and stories[0].start != 0:
        problems.append(f"the first story must start at 0, not {stories[0].start}")
    for before, after in zip(stories, stories[1:]):
        if after.start != before.end:
            problems.append(f"stories must be ordered and contiguous: one ends at {before.end}, the next starts at {after.start}")
    for name, items in (("entities", entities), ("boilerplate ranges", boilerplate)):
        for before, after in zip(items, items[1:]):
            if after.start < before.end:
                problems.append(f"{name} must be sorted and must not overlap: [{before.start},{before.end}) and [{after.start},{after.end})")
    for item in (*entities, *boilerplate):
        if stories and not any(story.start <= item.start and item.end <= story.end for story in stories):
            problems.append(f"[{item.start},{item.end}) must lie inside one story")
    return problems


def _lenient_corpus_problems(data: dict, corpus: Corpus, models: dict[str, TextModel]) -> list[str]:
    """The corpus checks of a record that failed the record rules, on its well-formed parts."""
    snippet_id = data.get("snippet_id")
    if not isinstance(snippet_id, str) or not snippet_id or not _is_unicode(snippet_id):
        return []  # already a field error of the line (a lone surrogate is not a valid string)
    stories = _valid_items(data.get("stories"), Story)
    snippet = corpus.snippet_by_id(snippet_id)
    if snippet is None:
        return [f"snippet {snippet_id!r} is not in the corpus {corpus.path}"]
    sha = data.get("text_sha256")
    record = Annotation.model_construct(
        snippet_id=snippet_id,
        text_sha256=sha if isinstance(sha, str) else None,
        stories=stories or [Story(start=0, end=len(snippet.text))],
        entities=_valid_items(data.get("entities"), Entity),
        boilerplate=_valid_items(data.get("boilerplate"), BoilerplateRange),
    )
    return _corpus_problems(record, corpus, models)


def _is_unicode(text: str) -> bool:
    """False for a str holding a lone surrogate (JSON allows "\\ud800"; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
