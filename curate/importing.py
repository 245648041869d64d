"""`curate import`: other tools' annotations become one annotator's journal, to compare and review.

Each imported text is matched to a snippet by id (when the file carries one and the texts
agree), by exact text, or else by its tokens: a text whose token sequence is found in a
snippet's tokens (with gaps, where boilerplate was cut out) is mapped back onto that snippet,
so stories exported one by one (CoNLL, which also loses line breaks) come back onto their
snippet as one record with its story boundaries. Texts that match nothing are refused,
unless `add_snippets` is set: then they are ingested as new snippets (a new corpus is created
when DIR does not exist yet). Entities are snapped outward to curate's token edges, since
other tools cut tokens differently. Every problem is collected as `file:line: reason` first
(sorted by file and line); if there is any, nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from curate.formats import IMPORT_FORMATS, Format
from curate.formats import get as get_format
from curate.formats.interchange import ImportedRecord, short
from curate.model import (
    STATUSES,
    Annotation,
    BoilerplateRange,
    CorpusConfig,
    Entity,
    LabelSpec,
    Story,
    annotation_problems,
    default_labels,
    text_sha256,
    utc_now,
)
from curate.store import Corpus, CorpusLayout, StoreError, check_annotator_name, validation_message
from curate.text import TextModel, text_tokens


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
    matched_by_tokens: int = 0
    """Texts (CoNLL documents, say) placed on a snippet by their tokens."""
    token_snippets: int = 0
    """Snippets those texts were placed on (several stories of one snippet make one record)."""
    ingested: int = 0
    snapped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """`file:line: reason` of every record left out with `skip_invalid`."""
    not_imported: dict[str, int] = field(default_factory=dict)
    """What the file holds that curate has no place for (brat relations, events...), by kind, with counts."""
    notes: list[str] = field(default_factory=list)
    """`file:line: ...` of what a reader settled on its own (a span accepted and rejected in Prodigy, say)."""
    duplicates: int = 0
    """Records that repeat an earlier record of the file exactly (same snippet, same annotation): merged into it."""
    journal: Path | None = None


class _Problems:
    """Problems as `file:line: reason`. A record's problem refuses the import, or with `skip` leaves
    that record out (reported); problems of the whole file always refuse."""

    def __init__(self, skip: bool) -> None:
        self.skip = skip
        self.refusing: list[str] = []
        self.skipped: list[str] = []
        self.bad: set[int] = set()

    def add(self, message: str, record: ImportedRecord | None = None) -> None:
        if record is not None:
            self.bad.add(id(record))
        (self.skipped if record is not None and self.skip else self.refusing).append(message)

    def good(self, records: list[ImportedRecord]) -> list[ImportedRecord]:
        return [record for record in records if id(record) not in self.bad]


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def snap_entities(text: str, entities: list[tuple[int, int, str]], model: TextModel | None = None) -> tuple[list[tuple[int, int, str]], int]:
    """Entities grown outward to token edges; also how many moved. Entities over no token are dropped."""
    snapped = _snap(text, entities, model)
    return [new for _, new in snapped if new is not None], sum(1 for old, new in snapped if new is None or new[:2] != old[:2])


def _snap(text: str, entities: list[tuple[int, int, str]], model: TextModel | None = None) -> list[tuple[tuple[int, int, str], tuple[int, int, str] | None]]:
    """(entity, the entity grown outward to curate's token edges, or None over no token) per entity."""
    model = model or TextModel(text)
    tokens = model.tokens
    starts = model.token_starts
    ends = [end for _, end in tokens]
    snapped = []
    for start, end, label in entities:
        first = bisect_right(ends, start)  # first token ending after start
        last = bisect_left(starts, end) - 1  # last token starting before end
        snapped.append(((start, end, label), None if first > last else (tokens[first][0], tokens[last][1], label)))
    return snapped


def _quoted(text: str, start: int, end: int) -> str:
    return short(text[start:end], 30)


def _check_spans(record: ImportedRecord, length: int) -> str | None:
    spans = [(start, end) for start, end, _ in record.entities] + [(start, end) for start, end, _ in record.boilerplate or []]
    spans += [(start, end) for start, end, _ in record.stories or []]
    for start, end in spans:
        if not 0 <= start < end <= length:
            return f"span {record.shown(start, end)} does not fit a text of {length} characters"
    return None


def _unicode_problem(record: ImportedRecord) -> str | None:
    """A lone surrogate (JSON's `\\ud800` escape) in any string of the record: not Unicode text, it cannot be saved."""
    strings = {"text": record.text, "id": record.snippet_id, "note": record.note if isinstance(record.note, str) else None}
    strings.update((f"label {number}", label) for number, (_, _, label) in enumerate(record.entities, start=1))
    strings.update((f"boilerplate kind {number}", kind) for number, (_, _, kind) in enumerate(record.boilerplate or [], start=1))
    for name, value in strings.items():
        found = _SURROGATE.search(value) if value is not None else None
        if found:
            return f"the {name} holds a lone surrogate (\\u{ord(found.group()):04x}), which is not Unicode text"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _overlap(record: ImportedRecord) -> str | None:
    """The first two of the file's entities that overlap, in the file's own offsets."""
    for (start, end, label), (next_start, next_end, next_label) in zip(record.entities, record.entities[1:]):
        if next_start < end:
            return (
                f"entities {record.shown(start, end)} {label} and {record.shown(next_start, next_end)} {next_label} "
                f"overlap; curate's entities are flat (one per token)"
            )
    return None


def import_annotations(
    file: Path | str,
    fmt: str,
    corpus_dir: Path | str,
    annotator: str,
    *,
    label_map: dict[str, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
    add_snippets: bool = False,
    skip_invalid: bool = False,
    doc_per: str | None = None,
    binary: str = "refuse",
    brat_triggers: bool = False,
) -> ImportReport:
    """Read `file` in format `fmt` into `corpus_dir`'s journal for `annotator`.

    Texts that match no snippet are refused (one `file:line` problem each) unless
    `add_snippets`, which ingests them as new snippets (and creates the corpus if needed).
    With `skip_invalid`, records with a problem are left out (listed in the report's `skipped`)
    and the rest imported. `doc_per` (CoNLL: docstart, sentence or blank-lines), `binary`
    (Prodigy binary answers: refuse or merge) and `brat_triggers` go to the format's reader.

    The steps: check the request, read the file's records, plan the journal's records (match
    every text to a snippet, refusing on any problem), then write them.
    """
    entry = _check_request(fmt, annotator, doc_per, binary)
    file, corpus_dir = Path(file), Path(corpus_dir)
    _check_file(file)
    problems = _Problems(skip_invalid)
    report = ImportReport()
    options = {"doc_per": doc_per, "binary": binary, "triggers": brat_triggers}
    records = _read_records(entry, file, options, label_map or {}, problems, report)
    plan = _plan(file, corpus_dir, annotator, records, problems, report, add_snippets, on_progress)
    _save(plan, file, corpus_dir, annotator, report)
    return report


def _check_request(fmt: str, annotator: str, doc_per: str | None, binary: str) -> Format:
    """The format to read; StoreError when an option or the annotator's name cannot be taken."""
    entry = get_format(fmt, reads=True)
    if entry is None:
        raise StoreError(f"--format {fmt!r}: choose one of {', '.join(IMPORT_FORMATS)}")
    if binary not in ("refuse", "merge"):
        raise StoreError(f"--binary {binary!r}: choose refuse or merge")
    if doc_per is not None and doc_per not in ("docstart", "sentence", "blank-lines"):
        raise StoreError(f"--doc-per {doc_per!r}: choose docstart, sentence or blank-lines")
    check_annotator_name(annotator)
    return entry


def _check_file(file: Path) -> None:
    if not file.exists():
        raise StoreError(f"{file}: no such file or folder")
    if not file.is_dir() and not file.is_file():
        raise StoreError(f"{file}: not a regular file")


def _read_records(
    entry: Format, file: Path, options: dict, label_map: dict[str, str], problems: _Problems, report: ImportReport
) -> list[ImportedRecord]:
    """The file's readable records with their labels mapped; each unreadable one becomes a problem."""
    records: list[ImportedRecord] = []
    try:
        for record in entry.read(file, **options):
            for kind, count in record.not_imported.items():
                report.not_imported[kind] = report.not_imported.get(kind, 0) + count
            report.notes += record.notes
            if record.problem:
                problems.add(f"{record.where}: {record.problem}", record)
                continue
            record.entities = sorted((start, end, label_map.get(label, label)) for start, end, label in record.entities)
            span_problem = _unicode_problem(record) or (_check_spans(record, len(record.text)) if record.text is not None else None) or _overlap(record)
            if span_problem:
                problems.add(f"{record.where}: {span_problem}", record)
                continue
            records.append(record)
    except OSError as error:
        raise StoreError(f"{file}: cannot be read: {error.strerror or error}") from None
    if not records and not problems.refusing and not problems.skipped:
        problems.add(f"{file}: no annotated texts found")
    return records


@dataclass
class _Plan:
    """What an import writes: the journal's records, and the texts to ingest as new snippets first."""

    annotations: list[Annotation]
    new_snippets: dict[str, str]
    """snippet id -> text of the snippets the corpus lacks."""
    labels: list[str] | None
    """The labels of the corpus to create (None when the corpus exists)."""


def _plan(
    file: Path,
    corpus_dir: Path,
    annotator: str,
    records: list[ImportedRecord],
    problems: _Problems,
    report: ImportReport,
    add_snippets: bool,
    on_progress: Callable[[int], None] | None,
) -> _Plan:
    """Match every record to a snippet and make its annotation; ImportRefused on any problem that refuses."""
    corpus = Corpus.open(corpus_dir) if CorpusLayout(corpus_dir).snippets.exists() else None
    try:
        if corpus is None and not add_snippets:
            raise ImportRefused(
                sorted_problems(problems.refusing)
                + [f"{corpus_dir}: no corpus there; pass --add-snippets to create it from the file's texts (or give an existing --corpus)"]
            )
        labels = _labels(corpus, records, file, problems)
        records = problems.good(records)
        config = corpus.config if corpus is not None else _new_config(labels)
        if corpus is not None:
            records = _place_by_tokens(corpus, records, report)
        targets = _match(corpus, records, file, report, problems, add_snippets)
        annotations, used = _annotations(records, targets, annotator, report, problems, config, on_progress)
        if problems.refusing:
            raise ImportRefused(sorted_problems(problems.refusing))
        report.records = len(annotations)
        report.skipped = sorted_problems(problems.skipped)
        if not annotations:
            raise ImportRefused(report.skipped + [f"{file}: nothing left to import ({len(report.skipped)} record(s) skipped)"])
        if corpus is not None:
            corpus.journal(annotator, writable=True).close()  # refuse now if someone is annotating under this name
    finally:
        if corpus is not None:
            corpus.close()
    new_snippets = {snippet_id: text for snippet_id, text, new in targets if new and snippet_id in used}
    return _Plan(annotations, new_snippets, None if corpus is not None else labels)


def _annotations(
    records: list[ImportedRecord],
    targets: list[tuple[str | None, str | None, bool]],
    annotator: str,
    report: ImportReport,
    problems: _Problems,
    config: CorpusConfig | None,
    on_progress: Callable[[int], None] | None,
) -> tuple[list[Annotation], set[str]]:
    """The annotation of every matched record without a problem, and the snippet ids they are on.

    Two records of the file on one snippet (the same text twice) would replace each other in
    the journal: one that repeats the first exactly is merged into it (counted in the report);
    one that differs is a problem (with --skip-invalid the first is kept)."""
    annotations = []
    first: dict[str, tuple[ImportedRecord, Annotation]] = {}
    for count, (record, (snippet_id, text, _)) in enumerate(zip(records, targets), start=1):
        if snippet_id is None or id(record) in problems.bad:
            continue
        annotation = _annotation(record, snippet_id, text, annotator, report, problems, config)
        if annotation is not None:
            if snippet_id not in first:
                first[snippet_id] = (record, annotation)
                annotations.append(annotation)
            else:
                _duplicate(record, annotation, *first[snippet_id], text, report, problems)
        if on_progress is not None:
            on_progress(count)
    return annotations, set(first)


_COMPARED = ("stories", "boilerplate", "entities", "status", "note")


def _duplicate(
    record: ImportedRecord, annotation: Annotation, first_record: ImportedRecord, first: Annotation, text: str, report: ImportReport, problems: _Problems
) -> None:
    """A second record on the snippet of `first`: merged when it says the same, else a problem."""
    differ = [name for name in _COMPARED if getattr(annotation, name) != getattr(first, name)]
    if not differ:
        report.duplicates += 1
        return
    file, _, line = first_record.where.rpartition(":")
    earlier = f"line {line}" if line.isdigit() and record.where.rpartition(":")[0] == file else first_record.where
    same = "text" if record.text is not None and record.text == first_record.text else "snippet"
    what = "different " + ", ".join(differ)
    if differ[0] == "entities":
        def shown(entities) -> str:
            return "; ".join(f"{_quoted(text, item.start, item.end)} {item.label}" for item in entities[:3]) + (" ..." if len(entities) > 3 else "") or "none"

        here = [item for item in annotation.entities if item not in first.entities]
        there = [item for item in first.entities if item not in annotation.entities]
        what += f": {shown(here)} here, {shown(there)} on {earlier}"
    kept = f"{earlier}'s is kept" if problems.skip else f"--skip-invalid keeps {earlier}'s"
    problems.add(f"{record.where}: same {same} as {earlier} with different annotations ({what}); {kept}", record)


def _save(plan: _Plan, file: Path, corpus_dir: Path, annotator: str, report: ImportReport) -> None:
    """Ingest the new snippets (creating the corpus if there is none), then append the journal's records."""
    if plan.new_snippets:
        _ingest_texts(plan.new_snippets, corpus_dir, file, plan.labels)
        report.ingested = len(plan.new_snippets)
    with Corpus.open(corpus_dir) as opened, opened.journal(annotator, writable=True) as journal:
        journal.append_many(plan.annotations)
        report.journal = journal.path


def _new_config(labels: list[str]) -> CorpusConfig | None:
    """The config a corpus created from the file's labels will have (None if they cannot make one;
    that is already a problem of the file)."""
    try:
        return CorpusConfig(name="import", labels=default_labels(labels))
    except (ValidationError, ValueError):
        return None


def _labels(corpus: Corpus | None, records: list[ImportedRecord], file: Path, problems: _Problems) -> list[str]:
    if corpus is not None:
        known = set(corpus.config.label_names)
        for record in records:
            unknown = list(dict.fromkeys(label for _, _, label in record.entities if label not in known))
            if unknown:
                problems.add(
                    f"{record.where}: label(s) {', '.join(unknown)} are not in {corpus.layout.config} "
                    f"({', '.join(corpus.config.label_names)}); map them with --map-labels FROM=TO,...",
                    record,
                )
        return corpus.config.label_names
    seen: list[str] = []
    for record in records:
        bad = list(dict.fromkeys(label for _, _, label in record.entities if _label_problem(label)))
        if bad:
            problems.add(f"{record.where}: {_label_problem(bad[0])}; rename it with --map-labels FROM=TO", record)
            continue
        for _, _, label in record.entities:
            if label not in seen:
                seen.append(label)
    if len(seen) > 9:
        problems.add(f"{file}: {len(seen)} labels ({', '.join(seen)}) do not fit keys 1-9; map some together with --map-labels")
        return seen
    return seen or [label.name for label in default_labels()]


def _label_problem(label: str) -> str | None:
    """Why `label` cannot be a label of a new corpus (one line), or None."""
    try:
        LabelSpec(name=label, key="1", colour="#000000")
    except ValidationError:
        return f"label {short(label)} cannot be a corpus label: use a letter first, then letters, digits, '_' or '-' (at most 64)"
    return None


def _match(
    corpus: Corpus | None, records: list[ImportedRecord], file: Path, report: ImportReport, problems: _Problems, add_snippets: bool
) -> list[tuple[str | None, str | None, bool]]:
    """(snippet id, text, new) per record: an existing snippet, a new one to ingest, or (None, None, False)."""
    by_text: dict[bytes, str] | None = None
    new_by_text: dict[bytes, str] = {}
    taken: set[str] = set()
    targets: list[tuple[str | None, str | None, bool]] = []
    counter = 0
    for record in records:
        snippet = corpus.snippet_by_id(record.snippet_id) if corpus is not None and record.snippet_id else None
        if snippet is not None and (record.text is None or record.text == snippet.text):
            if not record.placed:
                report.matched_by_id += 1
            targets.append((snippet.id, snippet.text, False))
            continue
        if record.text is None:
            problems.add(f"{record.where}: no text, and no snippet with id {record.snippet_id!r} in the corpus", record)
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
            problems.add(f"{record.where}: empty text (only whitespace)", record)
            targets.append((None, None, False))
            continue
        if not add_snippets:
            problems.add(
                f"{record.where}: no snippet in {corpus.path if corpus is not None else 'the corpus'} has this "
                f"{'id or ' if record.snippet_id else ''}text ({_preview(record.text)}); "
                f"pass --add-snippets to add it as a new snippet",
                record,
            )
            targets.append((None, None, False))
            continue
        snippet_id = record.snippet_id
        if snippet_id is None or snippet_id in taken or check_snippet_id(snippet_id) or (corpus is not None and corpus.position(snippet_id) is not None):
            while True:
                counter += 1
                snippet_id = f"{file.stem}-{counter:06d}"
                if snippet_id not in taken and (corpus is None or corpus.position(snippet_id) is None):
                    break
        taken.add(snippet_id)
        new_by_text[key] = snippet_id
        targets.append((snippet_id, record.text, True))
    return targets


def check_snippet_id(snippet_id: str) -> str | None:
    """Why an id from another tool's file is not kept for a new snippet (None when it is kept)."""
    if not snippet_id.strip() or len(snippet_id) > 200 or any(not character.isprintable() for character in snippet_id):
        return "not a printable id of at most 200 characters"
    return None


def _annotation(
    record: ImportedRecord, snippet_id: str, text: str, annotator: str, report: ImportReport, problems: _Problems, config: CorpusConfig | None
) -> Annotation | None:
    problem = _check_spans(record, len(text))
    if problem:
        problems.add(f"{record.where}: {problem}", record)
        return None
    model = TextModel(text)
    snapped = _snap(text, record.entities, model)
    moves = []
    for (start, end, label), new in snapped:
        if new is None:
            moves.append((start, f"{_quoted(text, start, end)} {record.shown(start, end)} {label} covers no token and was dropped"))
        elif new[:2] != (start, end):
            moves.append((start, f"{_quoted(text, start, end)} {record.shown(start, end)} → {_quoted(text, new[0], new[1])} [{new[0]},{new[1]})"))
    kept = [(old, new) for old, new in snapped if new is not None]
    for (old, new), (next_old, next_new) in zip(kept, kept[1:]):
        if next_new[0] < new[1]:
            shared_start, shared_end = next_new[0], min(new[1], next_new[1])
            where_clause = (
                f"fall inside one curate token {_quoted(text, new[0], new[1])} [{new[0]},{new[1]})"
                if new[:2] == next_new[:2]
                else f"both reach into the curate token(s) {_quoted(text, shared_start, shared_end)} [{shared_start},{shared_end})"
            )
            problems.add(
                f"{record.where_at(old[0])}: entities {_quoted(text, old[0], old[1])} {record.shown(old[0], old[1])} {old[2]} and "
                f"{_quoted(text, next_old[0], next_old[1])} {record.shown(next_old[0], next_old[1])} {next_old[2]} {where_clause}; "
                f"an entity is whole curate tokens, so they would overlap",
                record,
            )
            return None
    by_line: dict[str, list[str]] = {}  # one note per line of the file (a CoNLL text spans many)
    for start, move in moves:
        by_line.setdefault(record.where_at(start), []).append(move)
    for where, shown in by_line.items():
        count = len(shown)
        report.snapped.append(f"{where}: {count} entit{'y' if count == 1 else 'ies'} moved to token edges: {'; '.join(shown)}")
    entities = [new for _, new in kept]
    stories = record.stories or [(0, len(text), False)]
    status = record.status if record.status in STATUSES else None if record.status == "in progress" else "done"
    try:
        annotation = Annotation(
            snippet_id=snippet_id,
            annotator=annotator,
            text_sha256=text_sha256(text),
            stories=[Story(start=start, end=end, truncated=truncated) for start, end, truncated in stories],
            boilerplate=[BoilerplateRange(start=start, end=end, kind=kind) for start, end, kind in record.boilerplate or []],
            entities=[Entity(start=start, end=end, label=label) for start, end, label in entities],
            status=status,
            note=record.note if isinstance(record.note, str) else None,
            updated_at=utc_now(),
        )
    except ValidationError as error:
        problems.add(f"{record.where}: {validation_message(error)}", record)
        return None
    # What `curate validate --corpus` checks, so no import writes a record it rejects.
    rejected = annotation_problems(annotation, text, config, model.token_edges)
    if rejected:
        problems.add(f"{record.where}: {rejected[0]}", record)
        return None
    return annotation


def _ingest_texts(texts: dict[str, str], corpus_dir: Path, file: Path, labels: list[str] | None) -> None:
    from curate.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="curate-import-") as folder:
        source = Path(folder) / f"{file.stem}.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for snippet_id, text in texts.items():
                handle.write(json.dumps({"id": snippet_id, "text": text, "meta": {"imported_from": file.name}}, ensure_ascii=False) + "\n")
        ingest([source], corpus_dir, labels=labels)


# ---------------------------------------------------------------- problems in line order

_WHERE = re.compile(r"^(.+?)(?::(\d+)|\[task (\d+)\]): ")  # FILE:LINE, or FILE[task N] (a Label Studio JSON array)


def _problem_order(problem: str) -> tuple[str, int]:
    match = _WHERE.match(problem)
    if match is None:
        return problem.split(": ", 1)[0], 0
    return match.group(1), int(match.group(2) or match.group(3))


def sorted_problems(problems: list[str]) -> list[str]:
    """`file:line: reason` problems by file, then line (problems of the whole file first)."""
    return sorted(problems, key=_problem_order)


def _preview(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")


# ---------------------------------------------------------------- matching by tokens

_KEY_TOKENS = 3
_CANDIDATES_PER_KEY = 200
_UNPLACED = 1 << 40
_MAX_PROBES = 2000


@dataclass
class _Placement:
    index: int
    record: ImportedRecord
    position: int
    token_map: list[int]
    """Per token of the record's text, the index of the same token in the snippet."""


def _align(words: list[str], strings: list[str], start: int) -> list[int] | None:
    """Indexes in `strings` of `words` found from `start` on, in order, allowing gaps (cut-out boilerplate)
    between them; a gap resumes only where the next three words (or all that are left) follow one another."""
    found = []
    index = 0
    position = start
    count = len(strings)
    while index < len(words):
        if position < count and strings[position] == words[index]:
            found.append(position)
            index += 1
            position += 1
            continue
        if index == 0:
            return None
        span = min(_KEY_TOKENS, len(words) - index)
        target = words[index : index + span]
        position += 1
        while position <= count - span and not (strings[position] == target[0] and strings[position : position + span] == target):
            position += 1
        if position > count - span:
            return None
    return found


_Pending = tuple[int, list[tuple[int, int]], list[str]]
"""A text still to place: its index among the records, its tokens and their strings."""


def _place_by_tokens(corpus: Corpus, records: list[ImportedRecord], report: ImportReport) -> list[ImportedRecord]:
    """`records` with every text that matches no snippet by id or exact text, but whose tokens are found in
    a snippet, placed onto that snippet; texts placed on one snippet (its stories) become one record."""
    pending = _unmatched_texts(corpus, records)
    if not pending:
        return records
    placer = _TokenPlacer(corpus, pending)
    placements = placer.placements(records)
    if not placements:
        return records
    return _merge_placements(corpus, records, placements, placer.snippet_tokens, report)


def _unmatched_texts(corpus: Corpus, records: list[ImportedRecord]) -> list[_Pending]:
    """The records whose text matches no snippet by id or exact text, with their tokens (none without tokens)."""
    by_text: set[bytes] | None = None
    pending: list[_Pending] = []
    for index, record in enumerate(records):
        if record.text is None or not record.text.strip():
            continue
        if record.snippet_id:
            snippet = corpus.snippet_by_id(record.snippet_id)
            if snippet is not None and snippet.text == record.text:
                continue
        if by_text is None:
            by_text = {_text_key(item.text) for item in corpus.iter_snippets()}
        if _text_key(record.text) in by_text:
            continue
        tokens = text_tokens(record.text)
        if tokens:
            pending.append((index, tokens, [record.text[start:end] for start, end in tokens]))
    return pending


def _saved_positions(corpus: Corpus) -> set[int]:
    """Positions of the snippets with a saved record (any journal, or gold)."""
    positions: set[int] = set()
    for name in corpus.annotators():
        with corpus.journal(name) as journal:
            positions.update(int(position) for position in journal.positions())
    positions.update(position for position in map(corpus.position, corpus.gold().records) if position is not None)
    return positions


class _TokenPlacer:
    """Finds where the pending texts' tokens are in the corpus's snippets and chooses one snippet per run of texts.

    A run of texts that follow one another in one snippet are that snippet's stories. Texts
    are cut into runs, each placed on one snippet, at the least cost (a dynamic programme over
    the texts in file order): a run on a snippet with a saved record (where an export comes
    from) costs the snippet tokens it leaves uncovered, on any other snippet all its tokens.
    So a story also found in another snippet (syndicated, quoted, a page of teasers) goes where
    its neighbours and its saved record are. Ties go to the longer run, then the earlier snippet.
    A run must cover at least half of the snippet's content (see `content`).
    """

    def __init__(self, corpus: Corpus, pending: list[_Pending]) -> None:
        self.corpus = corpus
        self.pending = pending
        self.saved_positions = _saved_positions(corpus)  # snippets with a saved record: candidates even past the cap
        self.hits: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        """The first words of a text -> (snippet position, token index) where they are found."""
        self.snippet_tokens: dict[int, tuple[str, list[tuple[int, int]], list[str]]] = {}
        """Per snippet holding some hit: its text, tokens and token strings."""
        self.taken: dict[int, list[tuple[int, int]]] = {}  # snippet position -> token ranges already placed
        self.content_counts: dict[int, int] = {}
        self._find_hits()

    def _find_hits(self) -> None:
        """Every place a text's first words are found; only snippets holding the longest of some
        text's first words are cut into tokens."""
        wanted = {tuple(words[:_KEY_TOKENS]) for _, _, words in self.pending}
        firsts = {key[0] for key in wanted}
        lengths = sorted({len(key) for key in wanted})
        probes = {max(words[:_KEY_TOKENS], key=len) for _, _, words in self.pending}
        probe = re.compile("|".join(map(re.escape, sorted(probes, key=len, reverse=True)))) if len(probes) <= _MAX_PROBES else None
        for position, snippet in enumerate(self.corpus.iter_snippets()):
            if probe is not None and probe.search(snippet.text) is None:
                continue
            tokens = text_tokens(snippet.text)
            strings = [snippet.text[start:end] for start, end in tokens]
            hit = False
            for at, string in enumerate(strings):
                if string not in firsts:
                    continue
                for length in lengths:
                    key = tuple(strings[at : at + length])
                    if len(key) == length and key in wanted:
                        listed = self.hits.setdefault(key, [])
                        if len(listed) < _CANDIDATES_PER_KEY or position in self.saved_positions:
                            listed.append((position, at))
                            hit = True
            if hit:
                self.snippet_tokens[position] = (snippet.text, tokens, strings)

    def free(self, position: int, found: list[int]) -> bool:
        return not any(found[0] <= used_last and used_first <= found[-1] for used_first, used_last in self.taken.get(position, []))

    def place(self, words: list[str], position: int, after: int) -> list[int] | None:
        """The first placement of `words` in the snippet at `position`, from token `after` on."""
        for hit_position, at in self.hits.get(tuple(words[:_KEY_TOKENS]), []):
            if hit_position == position and at >= after:
                found = _align(words, self.snippet_tokens[position][2], at)
                if found is not None and self.free(position, found):
                    return found
        return None

    def runs(self, number: int) -> list[tuple[int, list[list[int]]]]:
        """Per snippet where text `number` is found: (snippet position, the longest run of texts from it placed there)."""
        pending = self.pending
        options = []
        seen_positions: set[int] = set()
        for position, at in self.hits.get(tuple(pending[number][2][:_KEY_TOKENS]), []):
            if position in seen_positions:
                continue
            found = self.place(pending[number][2], position, at)
            if found is None:
                continue
            seen_positions.add(position)
            chain = [found]
            while number + len(chain) < len(pending):
                following = self.place(pending[number + len(chain)][2], position, chain[-1][-1] + 1)
                if following is None:
                    break
                chain.append(following)
            options.append((position, chain))
        return options

    def content(self, position: int, gold_records: dict[str, Annotation], journals: list) -> int:
        """The snippet's tokens outside boilerplate (by the saved record that marks the least), which a
        run must cover at least half of: a short text found inside a long snippet is not its annotation."""
        if position not in self.content_counts:
            text, tokens, _ = self.snippet_tokens[position]
            counts = [len(tokens)]
            if position in self.saved_positions:
                snippet_id = self.corpus.snippet_id(position)
                saved = [gold_records[snippet_id]] if snippet_id in gold_records else []
                saved += [record for record in (journal.record_at(position) for journal in journals) if record is not None]
                for record in saved:
                    if record.text_length == len(text):
                        ranges = [(item.start, item.end) for item in record.boilerplate]
                        counts.append(sum(1 for start, end in tokens if not any(low <= start and end <= high for low, high in ranges)))
            self.content_counts[position] = min(counts)
        return self.content_counts[position]

    def best_runs(self) -> list[tuple[tuple[int, int, int], int, int, list[list[int]]]]:
        """Per text, the cheapest choice from it on: (cost key, snippet position or -1, texts in the run, their placements)."""
        runs = [self.runs(number) for number in range(len(self.pending))]
        gold_records = self.corpus.gold().records
        journals = [self.corpus.journal(name) for name in self.corpus.annotators()]
        count = len(self.pending)
        best: list = [None] * (count + 1)
        cost = [0] * (count + 1)
        try:
            for number in range(count - 1, -1, -1):
                choice = ((_UNPLACED + cost[number + 1], 0, 0), -1, 1, [])  # any placement beats none
                for position, chain in runs[number]:
                    length = len(self.snippet_tokens[position][2])
                    has_record = position in self.saved_positions
                    covered = 0
                    for size in range(1, len(chain) + 1):
                        covered += len(chain[size - 1])
                        if 2 * covered < self.content(position, gold_records, journals):
                            continue
                        key = ((length - covered if has_record else length) + cost[number + size], -size, position)
                        if key < choice[0]:
                            choice = (key, position, size, chain[:size])
                best[number] = choice
                cost[number] = choice[0][0]
        finally:
            for journal in journals:
                journal.close()
        return best

    def placements(self, records: list[ImportedRecord]) -> dict[int, _Placement]:
        """The chosen placement of every text placed, by its index among `records`."""
        best = self.best_runs()
        placements: dict[int, _Placement] = {}
        number = 0
        while number < len(self.pending):
            _, position, size, chain = best[number]
            for offset, found in enumerate(chain):
                index = self.pending[number + offset][0]
                if self.free(position, found):
                    self.taken.setdefault(position, []).append((found[0], found[-1]))
                    placements[index] = _Placement(index, records[index], position, found)
            number += size
        return placements


def _merge_placements(
    corpus: Corpus,
    records: list[ImportedRecord],
    placements: dict[int, _Placement],
    snippet_tokens: dict[int, tuple[str, list[tuple[int, int]], list[str]]],
    report: ImportReport,
) -> list[ImportedRecord]:
    """`records` with the texts placed on one snippet replaced by one record for it, where the first of them was."""
    groups: dict[int, list[_Placement]] = {}
    for placement in placements.values():
        groups.setdefault(placement.position, []).append(placement)
    merged: dict[int, ImportedRecord] = {}
    gold = corpus.gold().records
    journals = [corpus.journal(name) for name in corpus.annotators()]
    try:
        for position, group in groups.items():
            group.sort(key=lambda item: item.token_map[0])
            text, tokens, _ = snippet_tokens[position]
            snippet_id = corpus.snippet_id(position)
            references = _reference_records(gold, journals, snippet_id, text)
            merged[min(item.index for item in group)] = _merged_record(snippet_id, text, tokens, group, references, report)
    finally:
        for journal in journals:
            journal.close()
    report.matched_by_tokens += len(placements)
    report.token_snippets += len(groups)
    result = []
    for index, record in enumerate(records):
        if index in merged:
            result.append(merged[index])
        elif index not in placements:
            result.append(record)
    return result


def _reference_records(gold: dict[str, Annotation], journals: list, snippet_id: str, text: str) -> list[Annotation]:
    """Records already saved for the snippet (gold first), whose boilerplate and story starts can fill what the file lost."""
    found: list[Annotation] = [gold[snippet_id]] if snippet_id in gold else []
    for journal in journals:
        record = journal.latest(snippet_id)
        if record is not None:
            found.append(record)
    digest = text_sha256(text)
    return [record for record in found if record.text_length == len(text) and record.text_sha256 in (None, digest)]


def _merged_record(
    snippet_id: str, text: str, tokens: list[tuple[int, int]], group: list[_Placement], references: list[Annotation], report: ImportReport
) -> ImportedRecord:
    """One record for a snippet from the texts placed on it: one story per text, entities mapped back."""
    matched = sorted(index for item in group for index in item.token_map)
    matched_set = set(matched)
    covered = [(tokens[item.token_map[0]][0], tokens[item.token_map[-1]][1]) for item in group]

    # Boilerplate: the saved record whose boilerplate ranges, all outside the placed tokens, cover most of the gaps.
    gaps = [index for index in range(len(tokens)) if index not in matched_set]
    best_boilerplate: list[tuple[int, int, str]] = []
    best_stories: list[tuple[int, int, bool]] = []
    best_score = -1
    for reference in references:
        ranges = [
            (item.start, item.end, item.kind)
            for item in reference.boilerplate
            if not any(item.start < tokens[index][1] and tokens[index][0] < item.end for index in matched)
        ]
        score = sum(1 for index in gaps if any(start <= tokens[index][0] and tokens[index][1] <= end for start, end, _ in ranges))
        if score > best_score:
            best_score, best_boilerplate = score, ranges
            best_stories = [(story.start, story.end, story.truncated) for story in reference.stories]

    # Story starts: between one text and the next, a saved record's story start there, else the start of the next text's line.
    starts = [0]
    for (_, before_end), (after_start, _) in zip(covered, covered[1:]):
        known = [start for start, _, _ in best_stories[1:] if before_end <= start <= after_start]
        if known:
            starts.append(known[0])
            continue
        line_start = text.rfind("\n", before_end, after_start) + 1
        starts.append(line_start if line_start > 0 and not text[line_start:after_start].strip() else after_start)
    ends = starts[1:] + [len(text)]
    truncated = {(start, end): flag for start, end, flag in best_stories}  # CoNLL has no truncation flag; a saved record may
    stories = [(start, end, truncated.get((start, end), False)) for start, end in zip(starts, ends) if end > start]
    boilerplate = [
        item for item in best_boilerplate
        if any(start <= item[0] and item[1] <= end for start, end, _ in stories)
    ]

    entities: list[tuple[int, int, str]] = []
    for item in group:
        record_tokens = text_tokens(item.record.text)
        by_start = {start: number for number, (start, _) in enumerate(record_tokens)}
        by_end = {end: number for number, (_, end) in enumerate(record_tokens)}
        for start, end, label in item.record.entities:
            first, last = by_start.get(start), by_end.get(end)
            if first is None or last is None:  # not on the text's token edges: take the tokens it touches
                first = next((number for number, (_, token_end) in enumerate(record_tokens) if token_end > start), None)
                last = next((number for number in range(len(record_tokens) - 1, -1, -1) if record_tokens[number][0] < end), None)
                if first is None or last is None or first > last:
                    continue
            entities.append((tokens[item.token_map[first]][0], tokens[item.token_map[last]][1], label))

    left = sum(1 for index in gaps if not any(start <= tokens[index][0] and tokens[index][1] <= end for start, end, _ in boilerplate))
    if left:
        report.snapped.append(
            f"{group[0].record.where}: {left} token(s) of snippet {snippet_id!r} are not in the file and not known boilerplate; "
            f"they are left as story text"
        )
    return ImportedRecord(
        group[0].record.where,
        text=text,
        entities=sorted(entities),
        snippet_id=snippet_id,
        stories=stories,
        boilerplate=boilerplate,
        status=group[0].record.status,
        note=group[0].record.note,
        placed=len(group),
    )
