"""`curate agreement`: read a corpus's `done` records and compute every figure of docs/data-contract.md.

Compared are the snippets with status `done` from at least two of the chosen annotators; a
pair is compared on the snippets both did; pairs run over the sorted names, ``a`` before
``b``, and ``a`` is the reference of asymmetric figures.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from curate.agreement import compare, records
from curate.agreement.disagreement import disagreement_counts
from curate.agreement.layout import character_classes
from curate.agreement.marks import Marks, Texts, Vocabulary
from curate.agreement.memory import release_free_memory
from curate.agreement.metrics import CodeProfiles
from curate.model import Annotation, text_sha256
from curate.store import Corpus, Journal, StoreError, unreferenced_garbage

LEFT_OUT_REASON = "no done snippet that another annotator also did"
Progress = Callable[[str, int, int], None]


class AgreementError(StoreError):
    """A problem with the request (unknown annotator, too few annotators), meant for the user."""


@dataclass
class SnippetDisagreement:
    """One compared snippet's place in the review queue."""

    snippet_id: str
    position: int
    score: float
    disagreements: int
    decisions: int
    annotators: tuple[str, ...]


@dataclass
class AgreementReport:
    """Every figure of one comparison; :meth:`to_json` gives the data contract's --json object."""

    annotators: list[str]
    snippets: int
    boundary_alpha: float | None
    boundary_fleiss_kappa: float | None
    boundary_pairs: list[compare.BoundaryPair]
    entity_alpha: float | None
    entity_alpha_u: float | None
    entity_pairs: list[compare.EntityPair]
    boilerplate_alpha: float | None
    boilerplate_pairs: list[compare.BoilerplatePair]
    labels: list[str]
    kinds: list[str]
    ranking: list[SnippetDisagreement] = field(default_factory=list)
    stale: dict[str, list[str]] = field(default_factory=dict)  # annotator -> snippet ids left out
    left_out: dict[str, str] = field(default_factory=dict)  # chosen annotator not compared -> why
    unshared: list[tuple[str, str]] = field(default_factory=list)  # pairs with no snippet both did: no figures

    def to_json(self) -> dict[str, Any]:
        """The object `curate agreement DIR --json` prints (docs/data-contract.md, agreement)."""
        return {
            "annotators": list(self.annotators),
            "snippets": self.snippets,
            "boundaries": {
                "alpha": self.boundary_alpha,
                "fleiss_kappa": self.boundary_fleiss_kappa,
                "pairs": [
                    {"a": p.a, "b": p.b, "n": p.n, "pk": p.pk, "windowdiff": p.windowdiff,
                     "boundary_similarity": p.boundary_similarity, "kappa": p.kappa}
                    for p in self.boundary_pairs
                ],
            },
            "entities": {
                "alpha": self.entity_alpha,
                "alpha_u": self.entity_alpha_u,
                "pairs": [
                    {"a": p.a, "b": p.b, "n": p.n, "precision": p.precision, "recall": p.recall,
                     "f1": p.f1, "overlap_f1": p.overlap_f1, "token_kappa": p.token_kappa,
                     "per_label": {
                         label: {"precision": scores[0], "recall": scores[1], "f1": scores[2]}
                         for label, scores in p.per_label.items()
                     }}
                    for p in self.entity_pairs
                ],
            },
        }

    def confusion(self) -> np.ndarray:
        """The label confusion of overlapping spans, summed over all pairs (rows: ``a``)."""
        size = len(self.labels) + 1
        total = np.zeros((size, size), dtype=np.int64)
        for pair in self.entity_pairs:
            total[: pair.confusion.shape[0], : pair.confusion.shape[1]] += pair.confusion
        return total


@dataclass
class Comparison:
    """The compared snippets and every chosen annotator's marks on them.

    ``tokens`` and ``paragraphs`` are the profiles (:class:`CodeProfiles`, one column per
    mark) of the marks' per-token labels and paragraph kinds, worked out while reading, so
    per-token arrays of a large corpus never need to be held at once; when they are not
    given, :func:`compare_marks` works them out from the marks (which then need texts read
    with their layout).
    """

    positions: np.ndarray
    texts: Texts
    marks: list[Marks]
    labels: Vocabulary
    kinds: Vocabulary
    tokens: CodeProfiles | None = None
    paragraphs: CodeProfiles | None = None


def choose_annotators(corpus: Corpus, annotators: Sequence[str] | None) -> list[str]:
    available = corpus.annotators()
    if not annotators:
        return available
    chosen = sorted(set(annotators))
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise AgreementError(
            f"no journal for {', '.join(unknown)} in {corpus.annotations_dir}; "
            f"annotators with journals: {', '.join(available) or 'none'}"
        )
    return chosen


# Below this many compared snippets a second process costs more than it saves.
PARALLEL_MIN_SNIPPETS = 20_000
# Snippets read at once: their texts and records are Python objects only while their share is
# read (issue 19, item 5: a 1M-snippet corpus is never held as Python texts all at once).
READ_CHUNK_SNIPPETS = 50_000


class _UncheckedRecord(Exception):
    """A record of a journal read unchecked (see :func:`read_comparison`) is not valid: the
    journal is rebuilt strictly and the comparison read again."""


def read_comparison(
    corpus: Corpus,
    annotators: Sequence[str] | None = None,
    progress: Progress | None = None,
    processes: int | None = None,
    layout: bool = True,
) -> Comparison:
    """Load the texts of the snippets at least two chosen annotators did, and their records.

    Large comparisons are read by ``processes`` worker processes (default: 2 when the
    machine has them), each parsing contiguous shares of at most
    :data:`READ_CHUNK_SNIPPETS` snippets (so texts and records are Python objects one share
    at a time) whose arrays are then laid end to end. Without ``layout`` only ids and
    lengths of the texts are kept (enough for :func:`rank_comparison`).

    Records are read only from validated lines. A journal whose index a quick scan made is
    rebuilt strictly first (here, once, rather than by each reading process), unless every
    line of it is a record its index places (:meth:`Journal.checkable_by_reading`): then the
    readers validate the records they read for their content (:meth:`Journal.read_unchecked`),
    the others are validated here after, and the index is saved as checked
    (:meth:`Journal.complete_check`). Should any record not be valid, the journal is rebuilt
    strictly and everything read again, so the comparison is always the one a checked index gives.
    """
    names = choose_annotators(corpus, annotators)
    with ExitStack() as stack:
        journals = {name: stack.enter_context(corpus.journal(name)) for name in names}
        unchecked = []
        for name, journal in journals.items():
            if journal.checkable_by_reading():
                unchecked.append(name)
            elif not journal.index.checked:
                journal.rebuild()
        while True:
            try:
                comparison = _read_journals(corpus, names, journals, progress, processes, layout)
                for name in unchecked:
                    journal = journals[name]
                    if journal.index.checked:
                        continue
                    # The records the readers validated: this journal's done ones among the compared.
                    read = np.zeros(len(corpus), dtype=bool)
                    read[comparison.positions] = journal.status_mask("done")[comparison.positions]
                    if not journal.complete_check(read):
                        raise _UncheckedRecord(str(journal.path))
                break
            except _UncheckedRecord as failure:
                # That journal is rebuilt strictly (any other not yet checked stays as it is).
                failed = [name for name in unchecked if str(journals[name].path) == failure.args[0]] or list(unchecked)
                if not failed:
                    raise AssertionError("a record read unchecked from a journal whose index is checked") from failure
                for name in failed:
                    unchecked.remove(name)
                    journals[name].rebuild()
    return comparison


def _read_journals(corpus: Corpus, names: list[str], journals: dict[str, Journal], progress: Progress | None, processes: int | None, layout: bool) -> Comparison:
    """:func:`read_comparison` with the chosen annotators' journals open."""
    done = np.zeros((len(names), len(corpus)), dtype=bool)
    for row, name in enumerate(names):
        done[row] = journals[name].status_mask("done")
    positions = np.flatnonzero(done.sum(axis=0) >= 2)
    if processes is None:
        processes = min(2, os.cpu_count() or 1) if positions.size >= PARALLEL_MIN_SNIPPETS else 1
    labels = Vocabulary(corpus.config.label_names)
    kinds = Vocabulary(corpus.config.boilerplate_kinds, first_number=1)
    # Forked workers inherit the loaded modules and need no importable __main__ (spawn
    # would re-run the caller's script); they only read files and return arrays.
    if "fork" not in multiprocessing.get_all_start_methods():
        processes = 1
    chunks = max(processes, -(-positions.size // READ_CHUNK_SNIPPETS))
    if chunks <= 1 or positions.size < 2:
        if progress:
            progress("reading snippets and records", 0, 1)
        texts, marks, _, _, tokens, paragraphs = read_part(corpus, names, positions, labels, kinds, layout, journals)
        return Comparison(positions, texts, marks, labels, kinds, tokens, paragraphs)

    shares = np.array_split(positions, chunks)
    what = f"reading snippets and records ({processes} processes)" if processes > 1 else "reading snippets and records"
    if progress:
        progress(what, 0, len(shares))
    parts = []
    if processes > 1:
        if layout:
            character_classes()  # worked out once here, not once in each forked process
        # The readers use this corpus and these journals (open files, loaded indexes)
        # rather than opening them again for every share.
        _shared_reading.update(path=str(corpus.path), corpus=corpus, journals=journals)
        try:
            with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork")) as pool:
                for count, part in enumerate(pool.map(_read_part_at, [str(corpus.path)] * len(shares), [names] * len(shares), shares, [layout] * len(shares))):
                    parts.append(part)
                    if progress:
                        progress(what, count + 1, len(shares))
        finally:
            _shared_reading.clear()
    else:
        for count, share in enumerate(shares):
            parts.append(read_part(corpus, names, share, Vocabulary(labels.names), Vocabulary(kinds.names, first_number=1), layout, journals))
            if progress:
                progress(what, count + 1, len(shares))
    texts_parts = [part[0] for part in parts]
    texts = Texts.concatenate(texts_parts)
    renumbered, token_parts, paragraph_parts = [], [], []
    while parts:  # each part let go once renumbered: the whole is held about once, not thrice
        _, part_marks, label_names, kind_names, part_tokens, part_paragraphs = parts.pop(0)
        label_numbers = np.array([labels.number(name) for name in label_names], dtype=np.int64)
        kind_numbers = np.array([0, *(kinds.number(name) for name in kind_names)], dtype=np.int64)
        renumbered.append([mark.renumbered(label_numbers, kind_numbers) for mark in part_marks])
        del part_marks
        if part_tokens is not None and part_paragraphs is not None:
            # Profile digits are code + 1: token codes -1 (not done), 0 (outside), label + 1;
            # paragraph codes -1 (not done), kind numbers from 0 (NO_KIND).
            token_parts.append(part_tokens.mapped(np.concatenate(([0, 1], label_numbers + 2))))
            paragraph_parts.append(part_paragraphs.mapped(np.concatenate(([0], kind_numbers + 1))))
    marks = []
    for row in range(len(names)):
        marks.append(Marks.concatenate([own[row] for own in renumbered], texts_parts))
        for own in renumbered:
            own[row] = None  # type: ignore[call-overload]
    if not layout:
        return Comparison(positions, texts, marks, labels, kinds)
    return Comparison(positions, texts, marks, labels, kinds, CodeProfiles.merged(token_parts, len(names)), CodeProfiles.merged(paragraph_parts, len(names)))


def read_part(corpus: Corpus, names: Sequence[str], positions: np.ndarray, labels: Vocabulary, kinds: Vocabulary, layout: bool = True, journals: dict[str, Journal] | None = None):
    """Texts and marks of the snippets at ``positions``, the label and kind names used, and
    (with ``layout``) the profiles of the marks' per-token labels and paragraph kinds, whose
    per-token and per-paragraph arrays are then let go (they are not needed past this).
    ``journals``: the annotators' journals, opened by the caller (else opened here)."""
    ids, snippet_texts = records.snippet_texts(corpus, positions)
    with unreferenced_garbage():  # millions of small objects made and dropped, none in a cycle
        texts = Texts.from_texts(ids, snippet_texts) if layout else Texts.lengths_only(ids, snippet_texts)
        digests = _Digests(snippet_texts)
        marks = []
        for name in names:
            with nullcontext(journals[name]) if journals is not None else corpus.journal(name) as journal:
                indexes, decoded = _done_records(journal, positions)
                mark = Marks.from_decoded(name, texts, indexes, decoded, labels, kinds, digests)
            marks.append(mark)
        tokens = paragraphs = None
        if layout:  # per-token and per-paragraph values are cheaper on a share than on the whole
            tokens = compare.token_profiles(texts, marks, len(labels))
            paragraphs = compare.paragraph_profiles(texts, marks, len(kinds))
            for mark in marks:
                mark.forget_layout_values()
    return texts, marks, list(labels.names), list(kinds.names), tokens, paragraphs


class _Digests(Sequence[str]):
    """text_sha256 of each text, worked out when first asked (records without text_sha256,
    as older records and imports are, never need it)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.known: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[number] for number in range(*index.indices(len(self)))]
        digest = self.known.get(index)
        if digest is None:
            digest = self.known[index] = text_sha256(self.texts[index])
        return digest


# The corpus and journals of the running read_comparison, inherited by its forked reading
# processes (never pickled, never closed there).
_shared_reading: dict[str, Any] = {}


def _read_part_at(path: str, names: Sequence[str], positions: np.ndarray, layout: bool):
    """:func:`read_part` in a worker process, through the corpus and journals the parent
    opened (or, without them, opening the corpus itself); token and paragraph offsets stay
    here (the profiles of the marks' per-token labels and paragraph kinds go back)."""
    shared = dict(_shared_reading)
    with nullcontext(shared["corpus"]) if shared.get("path") == path else Corpus.open(path) as corpus:
        labels = Vocabulary(corpus.config.label_names)
        kinds = Vocabulary(corpus.config.boilerplate_kinds, first_number=1)
        texts, marks, label_names, kind_names, tokens, paragraphs = read_part(corpus, names, positions, labels, kinds, layout, shared.get("journals") if shared.get("path") == path else None)
        return (texts.without_tokens_and_paragraphs() if layout else texts), marks, label_names, kind_names, tokens, paragraphs


def _done_records(journal, positions: np.ndarray) -> tuple[np.ndarray, list[records.Record]]:
    """Snippet indexes (into ``positions``) of the journal's done records there, and the records.

    Reads the indexed lines directly: the journal index only points at lines it validated,
    or (an index a quick scan made, see :func:`read_comparison`) they are validated here.
    """
    wanted = np.flatnonzero(journal.status_mask("done")[positions])
    if journal.index.checked:
        return wanted, list(records.decode_records(journal.raw_lines(positions[wanted])))
    found = journal.read_unchecked(positions[wanted])
    if found is None:
        raise _UncheckedRecord(str(journal.path))
    return wanted, [records.record_of(record) if isinstance(record, Annotation) else record for record in found]


def compare_marks(comparison: Comparison, ranking_size: int = 10, processes: int | None = None) -> AgreementReport:
    """Every figure of the comparison, and the most disagreed snippets.

    The figures are independent of each other, so for large comparisons they are worked
    out by ``processes`` forked processes (default as :func:`read_comparison`), which
    inherit the arrays and send back only the figures: each is computed by the same code on
    the same arrays as in one process, so the report is the same.
    """
    texts = comparison.texts
    # An annotator with no done snippet among the compared ones has nothing to be compared on:
    # pairs with them would report made-up figures (F1 1.0 at n = 0), so they are left out,
    # and so is a pair of annotators who did no snippet in common.
    rows = [row for row, m in enumerate(comparison.marks) if m.done.any()]
    marks = [comparison.marks[row] for row in rows]
    left_out = {m.name: LEFT_OUT_REASON for m in comparison.marks if not m.done.any()}
    names = [m.name for m in marks]
    tokens, paragraphs = comparison.tokens, comparison.paragraphs
    if tokens is None:
        tokens = compare.token_profiles(texts, comparison.marks, len(comparison.labels))
    if paragraphs is None:
        paragraphs = compare.paragraph_profiles(texts, comparison.marks, len(comparison.kinds))
    pairs, unshared = [], []
    for a, b in combinations(rows, 2):
        if (comparison.marks[a].done & comparison.marks[b].done).any():
            pairs.append((comparison.marks[a], comparison.marks[b], tokens.joint(a, b), paragraphs.joint(a, b)))
        else:
            unshared.append((comparison.marks[a].name, comparison.marks[b].name))
    # The costliest first, so that two processes finish at about the same time.
    tasks: list[tuple[Callable, tuple]] = [
        (compare.entity_overall, (texts, marks, len(comparison.labels), tokens.of_raters(rows))),
        *((compare.entity_pair, (texts, a, b, comparison.labels, token_joint)) for a, b, token_joint, _ in pairs),
        (compare.boundary_overall, (texts, marks)),
        *((compare.boundary_pair, (texts, a, b)) for a, b, _, _ in pairs),
        (rank_comparison, (comparison, ranking_size)),
        (compare.boilerplate_alpha, (marks, len(comparison.kinds), paragraphs.of_raters(rows))),
        *((compare.boilerplate_pair, (a, b, kind_joint)) for a, b, _, kind_joint in pairs),
    ]
    if processes is None:
        processes = min(2, os.cpu_count() or 1) if len(texts) >= PARALLEL_MIN_SNIPPETS else 1
    if processes > 1:
        release_free_memory()  # the forked processes start from this one's resident memory
    results = _run_tasks(tasks, processes)
    (entity_alpha, alpha_u), entity_pairs = results[0], results[1 : 1 + len(pairs)]
    results = results[1 + len(pairs) :]
    (boundary_alpha, fleiss), boundary_pairs = results[0], results[1 : 1 + len(pairs)]
    results = results[1 + len(pairs) :]
    ranking, bp_alpha, boilerplate_pairs = results[0], results[1], results[2:]
    return AgreementReport(
        annotators=names,
        snippets=int((np.sum([mark.done for mark in marks], axis=0) >= 2).sum()) if marks else 0,
        boundary_alpha=boundary_alpha,
        boundary_fleiss_kappa=fleiss,
        boundary_pairs=boundary_pairs,
        entity_alpha=entity_alpha,
        entity_alpha_u=alpha_u,
        entity_pairs=entity_pairs,
        boilerplate_alpha=bp_alpha,
        boilerplate_pairs=boilerplate_pairs,
        labels=list(comparison.labels.names),
        kinds=list(comparison.kinds.names),
        ranking=ranking,
        stale={m.name: m.stale for m in comparison.marks if m.stale},
        left_out=left_out,
        unshared=unshared,
    )


# The tasks of the running compare_marks, inherited by its forked processes (never pickled).
_shared_tasks: list[tuple[Callable, tuple]] = []


def _run_shared_task(number: int):
    function, arguments = _shared_tasks[number]
    return function(*arguments)


def _run_tasks(tasks: list[tuple[Callable, tuple]], processes: int) -> list:
    """Each task's result, in order; with ``processes`` > 1, by forked processes."""
    if processes <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [function(*arguments) for function, arguments in tasks]
    global _shared_tasks
    _shared_tasks = tasks
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_run_shared_task, range(len(tasks))))
    finally:
        _shared_tasks = []


def rank_comparison(comparison: Comparison, limit: int | None = None) -> list[SnippetDisagreement]:
    """Compared snippets by disagreement score, highest first (ties: more disagreements
    first, then corpus order); only snippets with some disagreement when ``limit`` is set."""
    disagreed, total = disagreement_counts(comparison.texts, comparison.marks)
    scores = np.where(total > 0, disagreed / np.maximum(total, 1), 0.0)
    order = np.lexsort((comparison.positions, -disagreed, -scores))
    if limit is not None:
        order = order[disagreed[order] > 0][:limit]
    done = np.array([m.done for m in comparison.marks])
    names = [m.name for m in comparison.marks]
    return [
        SnippetDisagreement(
            comparison.texts.ids[index], int(comparison.positions[index]), float(scores[index]),
            int(disagreed[index]), int(total[index]),
            tuple(name for name, did in zip(names, done[:, index]) if did),
        )
        for index in order.tolist()
    ]


def disagreement_ranking(corpus: Corpus, annotators: Sequence[str] | None = None) -> list[SnippetDisagreement]:
    """Every snippet done by at least two of ``annotators`` (default: all), most disagreed
    first; ``score`` equals :func:`curate.agreement.snippet_disagreement` of its records."""
    return rank_comparison(read_comparison(corpus, annotators, layout=False))


def agreement(
    corpus: Corpus,
    annotators: Sequence[str] | None = None,
    *,
    ranking_size: int = 10,
    progress: Progress | None = None,
    processes: int | None = None,
) -> AgreementReport:
    """The agreement report of ``corpus`` for ``annotators`` (default: every journal);
    ``processes`` as :func:`read_comparison`."""
    comparison = read_comparison(corpus, annotators, progress, processes)
    if progress:
        progress("comparing", 0, 1)
    return compare_marks(comparison, ranking_size, processes)
