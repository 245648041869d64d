"""`curate import`: other tools' annotations become one annotator's journal, to compare and review.

Each imported text is matched to a snippet by id (when the file carries one and the texts
agree) or by exact text; texts the corpus does not have are ingested as new snippets (a new
corpus is created when DIR does not exist yet). Entities are snapped outward to curate's
token edges, since other tools cut tokens differently. Every problem is collected as
`file:line: reason` first; if there is any, nothing is written.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import tempfile
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from curate.export import IMPORT_FORMATS
from curate.export.interchange import ImportedRecord
from curate.model import Annotation, BoilerplateRange, Entity, Story, default_labels, text_sha256, utc_now
from curate.store import SNIPPETS_NAME, Corpus, StoreError, check_annotator_name, validation_message
from curate.text import TextModel


class ImportRefused(StoreError):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class ImportReport:
    records: int = 0
    matched_by_id: int = 0
    matched_by_text: int = 0
    ingested: int = 0
    snapped: list[str] = field(default_factory=list)
    journal: Path | None = None


def parse_label_map(value: str | None) -> dict[str, str]:
    """`PER=PERSON,LOC=GPE` as a mapping from the file's labels to the corpus's."""
    mapping = {}
    for pair in (value or "").split(","):
        if not pair.strip():
            continue
        source, separator, target = pair.partition("=")
        if not separator or not source.strip() or not target.strip():
            raise ValueError(f"--map-labels: {pair!r} is not FROM=TO")
        mapping[source.strip()] = target.strip()
    return mapping


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def snap_entities(text: str, entities: list[tuple[int, int, str]], model: TextModel | None = None) -> tuple[list[tuple[int, int, str]], int]:
    """Entities grown outward to token edges; also how many moved. Entities over no token are dropped."""
    model = model or TextModel(text)
    tokens = model.tokens
    starts = model.token_starts
    ends = [end for _, end in tokens]
    snapped = []
    moved = 0
    for start, end, label in entities:
        first = bisect_right(ends, start)  # first token ending after start
        last = bisect_left(starts, end) - 1  # last token starting before end
        if first > last:
            moved += 1
            continue
        new = (tokens[first][0], tokens[last][1], label)
        moved += new[:2] != (start, end)
        snapped.append(new)
    return snapped, moved


def _check_spans(record: ImportedRecord, length: int) -> str | None:
    spans = [(start, end) for start, end, _ in record.entities] + [(start, end) for start, end, _ in record.boilerplate or []]
    spans += [(start, end) for start, end, _ in record.stories or []]
    for start, end in spans:
        if not 0 <= start < end <= length:
            return f"span [{start},{end}) does not fit a text of {length} characters"
    return None


def import_annotations(
    file: Path | str,
    fmt: str,
    corpus_dir: Path | str,
    annotator: str,
    *,
    label_map: dict[str, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Read `file` in format `fmt` into `corpus_dir`'s journal for `annotator`."""
    if fmt not in IMPORT_FORMATS:
        raise StoreError(f"--format {fmt!r}: choose one of {', '.join(IMPORT_FORMATS)}")
    check_annotator_name(annotator)
    file, corpus_dir = Path(file), Path(corpus_dir)
    if not file.exists():
        raise StoreError(f"{file}: no such file or folder")
    label_map = label_map or {}
    reader = importlib.import_module(f"curate.export.{fmt}")
    problems: list[str] = []
    records: list[ImportedRecord] = []
    for record in reader.read(file):
        if record.problem:
            problems.append(f"{record.where}: {record.problem}")
            continue
        record.entities = sorted((start, end, label_map.get(label, label)) for start, end, label in record.entities)
        records.append(record)
    if not records and not problems:
        problems.append(f"{file}: no annotated texts found")

    corpus = Corpus.open(corpus_dir) if (corpus_dir / SNIPPETS_NAME).exists() else None
    report = ImportReport(records=len(records))
    try:
        labels = _labels(corpus, records, file, problems)
        targets = _match(corpus, records, file, report, problems)
        annotations = []
        for count, (record, (snippet_id, text, _)) in enumerate(zip(records, targets), start=1):
            if snippet_id is None:
                continue
            annotation = _annotation(record, snippet_id, text, annotator, report, problems)
            if annotation is not None:
                annotations.append(annotation)
            if on_progress is not None:
                on_progress(count)
        if problems:
            raise ImportRefused(problems)
        if corpus is not None:
            corpus.journal(annotator, writable=True).close()  # refuse now if someone is annotating under this name
    finally:
        if corpus is not None:
            corpus.close()

    new_snippets = {snippet_id: text for snippet_id, text, new in targets if new}
    if new_snippets:
        _ingest_texts(new_snippets, corpus_dir, file, None if corpus is not None else labels)
        report.ingested = len(new_snippets)
    with Corpus.open(corpus_dir) as opened, opened.journal(annotator, writable=True) as journal:
        journal.append_many(annotations)
        report.journal = journal.path
    return report


def _labels(corpus: Corpus | None, records: list[ImportedRecord], file: Path, problems: list[str]) -> list[str]:
    seen: list[str] = []
    for record in records:
        for _, _, label in record.entities:
            if label not in seen:
                seen.append(label)
    if corpus is not None:
        known = set(corpus.config.label_names)
        unknown = [label for label in seen if label not in known]
        if unknown:
            problems.append(
                f"{file}: label(s) {', '.join(unknown)} are not in {corpus.path / 'corpus.toml'} "
                f"({', '.join(corpus.config.label_names)}); map them with --map-labels FROM=TO,..."
            )
        return corpus.config.label_names
    if len(seen) > 9:
        problems.append(f"{file}: {len(seen)} labels ({', '.join(seen)}) do not fit keys 1-9; map some together with --map-labels")
        return seen
    try:
        default_labels(seen)
    except ValueError as error:
        problems.append(f"{file}: {error}")
    return seen or [label.name for label in default_labels()]


def _match(corpus: Corpus | None, records: list[ImportedRecord], file: Path, report: ImportReport, problems: list[str]) -> list[tuple[str | None, str | None, bool]]:
    """(snippet id, text, new) per record: an existing snippet, a new one to ingest, or (None, None, False)."""
    by_text: dict[bytes, str] | None = None
    new_by_text: dict[bytes, str] = {}
    taken: set[str] = set()
    targets: list[tuple[str | None, str | None, bool]] = []
    counter = 0
    for record in records:
        snippet = corpus.snippet_by_id(record.snippet_id) if corpus is not None and record.snippet_id else None
        if snippet is not None and (record.text is None or record.text == snippet.text):
            report.matched_by_id += 1
            targets.append((snippet.id, snippet.text, False))
            continue
        if record.text is None:
            problems.append(f"{record.where}: no text, and no snippet with id {record.snippet_id!r} in the corpus")
            targets.append((None, None, False))
            continue
        key = _text_key(record.text)
        if corpus is not None and by_text is None:
            by_text = {_text_key(item.text): item.id for item in corpus.iter_snippets()}
        if by_text and key in by_text:
            report.matched_by_text += 1
            targets.append((by_text[key], record.text, False))
            continue
        if key in new_by_text:
            targets.append((new_by_text[key], record.text, False))
            continue
        if not record.text.strip():
            problems.append(f"{record.where}: empty text")
            targets.append((None, None, False))
            continue
        snippet_id = record.snippet_id
        if snippet_id is None or snippet_id in taken or (corpus is not None and corpus.position(snippet_id) is not None):
            while True:
                counter += 1
                snippet_id = f"{file.stem}-{counter:06d}"
                if snippet_id not in taken and (corpus is None or corpus.position(snippet_id) is None):
                    break
        taken.add(snippet_id)
        new_by_text[key] = snippet_id
        targets.append((snippet_id, record.text, True))
    return targets


def _annotation(record: ImportedRecord, snippet_id: str, text: str, annotator: str, report: ImportReport, problems: list[str]) -> Annotation | None:
    problem = _check_spans(record, len(text))
    if problem:
        problems.append(f"{record.where}: {problem}")
        return None
    entities, moved = snap_entities(text, record.entities)
    if moved:
        report.snapped.append(f"{record.where}: {moved} entit{'y' if moved == 1 else 'ies'} moved to token edges")
    stories = record.stories or [(0, len(text), False)]
    try:
        return Annotation(
            snippet_id=snippet_id,
            annotator=annotator,
            text_sha256=text_sha256(text),
            stories=[Story(start=start, end=end, truncated=truncated) for start, end, truncated in stories],
            boilerplate=[BoilerplateRange(start=start, end=end, kind=kind) for start, end, kind in record.boilerplate or []],
            entities=[Entity(start=start, end=end, label=label) for start, end, label in entities],
            status=record.status if record.status in ("done", "skipped", "flagged") else "done",
            note=record.note,
            updated_at=utc_now(),
        )
    except ValidationError as error:
        problems.append(f"{record.where}: {validation_message(error)}")
        return None


def _ingest_texts(texts: dict[str, str], corpus_dir: Path, file: Path, labels: list[str] | None) -> None:
    from curate.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="curate-import-") as folder:
        source = Path(folder) / f"{file.stem}.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for snippet_id, text in texts.items():
                handle.write(json.dumps({"id": snippet_id, "text": text, "meta": {"imported_from": file.name}}, ensure_ascii=False) + "\n")
        ingest([source], corpus_dir, labels=labels)
