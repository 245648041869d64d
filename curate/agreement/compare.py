"""Agreement figures of docs/data-contract.md from :class:`Texts` and :class:`Marks` (no I/O).

Each function here turns marks into the inputs of :mod:`curate.agreement.metrics` (units and
decisions, token labels, spans) and returns plain dataclasses; the service assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from curate.agreement import metrics
from curate.agreement.marks import Marks, Texts, Vocabulary


def _mean_or_none(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


# ------------------------------------------------------------------ units and decisions


@dataclass
class Decisions:
    """Units of some snippets and every annotator's decision on each unit but the first."""

    snippets: np.ndarray  # snippet indexes, ascending
    n_units: np.ndarray  # per snippet
    cut_points: np.ndarray  # global offsets, one per decision
    codes: np.ndarray  # annotators x decisions: 1 story starts, 0 not, -1 not done


def decisions(texts: Texts, marks: list[Marks], snippet_mask: np.ndarray) -> Decisions:
    """Units and decisions over the snippets in ``snippet_mask``; cut points are the line
    starts plus the story starts of every annotator in ``marks`` (data contract, agreement units)."""
    snippets = np.flatnonzero(snippet_mask)
    line_cuts = texts.line_cuts[snippet_mask[texts.line_cut_snippet]]
    starts = [m.story_starts[snippet_mask[m.snippets_of(texts, "story_starts")]] for m in marks]
    cut_points = metrics.sorted_unique(np.concatenate([line_cuts, *starts]))
    owner = texts.snippet_of(cut_points)
    per_snippet = np.bincount(owner, minlength=len(texts))[snippets]
    codes = np.empty((len(marks), cut_points.size), dtype=np.int8)
    for row, (mark, own_starts) in enumerate(zip(marks, starts)):
        codes[row] = np.where(mark.done[owner], np.isin(cut_points, own_starts, assume_unique=True), -1)
    return Decisions(snippets, per_snippet + 1, cut_points, codes)


# ------------------------------------------------------------------ boundaries


@dataclass
class BoundaryPair:
    a: str
    b: str
    n: int
    pk: float | None
    windowdiff: float | None
    boundary_similarity: float | None
    kappa: float | None


def boundary_pair(texts: Texts, a: Marks, b: Marks) -> BoundaryPair:
    """Pk, WindowDiff, B (means over the pair's snippets, ``b`` against reference ``a``) and
    Cohen's kappa of the pooled decisions."""
    both = a.done & b.done
    units = decisions(texts, [a, b], both)
    n = int(both.sum())
    if n == 0:
        return BoundaryPair(a.name, b.name, 0, None, None, None, None)
    scores = metrics.segmentation_scores(units.n_units, units.codes[0] == 1, units.codes[1] == 1)
    kappa = metrics.cohen_kappa(units.codes[0], units.codes[1]) if units.codes.shape[1] else None
    return BoundaryPair(
        a.name, b.name, n,
        _mean_or_none(scores.pk), _mean_or_none(scores.windowdiff),
        float(scores.boundary_similarity.mean()), kappa,
    )


def boundary_overall(texts: Texts, marks: list[Marks]) -> tuple[float | None, float | None]:
    """Krippendorff's alpha over all decisions (missing where an annotator did not do a
    snippet) and Fleiss' kappa over the snippets every annotator did."""
    if len(marks) < 2:
        return None, None
    done = np.array([m.done for m in marks])
    compared = done.sum(axis=0) >= 2
    alpha = metrics.nominal_alpha(decisions(texts, marks, compared).codes, 2)
    everyone = done.all(axis=0)
    fleiss = None
    if everyone.any():
        fleiss = metrics.fleiss_kappa(decisions(texts, marks, everyone).codes, 2)
    return alpha, fleiss


# ------------------------------------------------------------------ entities


@dataclass
class EntityPair:
    a: str
    b: str
    n: int
    precision: float | None
    recall: float | None
    f1: float | None
    overlap_f1: float | None
    token_kappa: float | None
    per_label: dict[str, tuple[float | None, float | None, float | None]]
    confusion: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))


def _entities_in(marks: Marks, texts: Texts, snippet_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = snippet_mask[marks.snippets_of(texts, "entity_start")]
    return marks.entity_start[keep], marks.entity_end[keep], marks.entity_label[keep]


def entity_pair(texts: Texts, a: Marks, b: Marks, labels: Vocabulary, token_joint: np.ndarray) -> EntityPair:
    """Exact and overlap P/R/F1 (pooled over the pair's snippets), per label, token kappa
    (from ``token_joint``, :meth:`CodeProfiles.joint` of the pair's per-token labels),
    and the label confusion of overlapping spans."""
    both = a.done & b.done
    n = int(both.sum())
    a_start, a_end, a_label = _entities_in(a, texts, both)
    b_start, b_end, b_label = _entities_in(b, texts, both)
    matched_a, matched_b = metrics.exact_span_matches(a_start, a_end, a_label, b_start, b_end, b_label)
    matches = int(matched_a.sum())
    precision, recall, f1 = metrics.span_scores(matches, a_start.size, b_start.size)

    label_count = len(labels)
    per_label = {}
    a_counts = np.bincount(a_label, minlength=label_count)
    b_counts = np.bincount(b_label, minlength=label_count)
    match_counts = np.bincount(a_label[matched_a], minlength=label_count)
    for number in range(label_count):
        if a_counts[number] or b_counts[number]:
            per_label[labels.name(number)] = metrics.span_scores(int(match_counts[number]), int(a_counts[number]), int(b_counts[number]))

    overlapping = metrics.overlapping_pairs(a_start, a_end, b_start, b_end) if _ascending(a_start) and _ascending(b_start) else None
    overlap_matches = len(metrics.one_to_one_matching(a_start, a_end, b_start, b_end, a_label, b_label, overlapping)[0])
    overlap_f1 = metrics.span_scores(overlap_matches, a_start.size, b_start.size)[2]

    token_kappa = metrics.kappa_of_joint(token_joint) if n else None
    confusion = label_confusion(a_start, a_end, a_label, b_start, b_end, b_label, label_count, overlapping)
    return EntityPair(a.name, b.name, n, precision, recall, f1, overlap_f1, token_kappa, per_label, confusion)


def label_confusion(
    a_start: np.ndarray, a_end: np.ndarray, a_label: np.ndarray,
    b_start: np.ndarray, b_end: np.ndarray, b_label: np.ndarray,
    label_count: int,
    overlapping: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Counts of (label of ``a``, label of ``b``) over a maximum one-to-one matching of
    overlapping spans, whatever their labels; row and column ``label_count`` count spans
    the other side has nothing overlapping for. ``overlapping``: the spans'
    :func:`~curate.agreement.metrics.overlapping_pairs` when both sides are sorted already."""
    size = label_count + 1
    if overlapping is None or not (_ascending(a_start) and _ascending(b_start)):
        a_order = np.argsort(a_start, kind="stable")
        b_order = np.argsort(b_start, kind="stable")
        a_start, a_end, a_label = a_start[a_order], a_end[a_order], a_label[a_order]
        b_start, b_end, b_label = b_start[b_order], b_end[b_order], b_label[b_order]
        overlapping = None
    paired_a, paired_b = metrics.one_to_one_matching(a_start, a_end, b_start, b_end, pairs=overlapping)
    lonely_a = np.ones(a_start.size, dtype=bool)
    lonely_a[paired_a] = False
    lonely_b = np.ones(b_start.size, dtype=bool)
    lonely_b[paired_b] = False
    a_label, b_label = a_label.astype(np.int64), b_label.astype(np.int64)
    cells = np.concatenate((
        a_label[paired_a] * size + b_label[paired_b],
        a_label[lonely_a] * size + label_count,
        label_count * size + b_label[lonely_b],
    ))
    return np.bincount(cells, minlength=size * size).reshape(size, size).astype(np.int64)


def _ascending(values: np.ndarray) -> bool:
    return bool(values.size < 2 or (values[1:] >= values[:-1]).all())


def token_profiles(texts: Texts, marks: list[Marks], label_count: int) -> metrics.CodeProfiles:
    """The :class:`~curate.agreement.metrics.CodeProfiles` of the marks' per-token labels
    (:meth:`Marks.token_labels`: -1 where not done, 0 outside entities, label number + 1)."""
    return metrics.CodeProfiles.of([m.token_labels(texts) for m in marks], label_count + 1)


def paragraph_profiles(texts: Texts, marks: list[Marks], kind_count: int) -> metrics.CodeProfiles:
    """The profiles of the marks' paragraph kinds (:meth:`Marks.paragraph_kinds`)."""
    return metrics.CodeProfiles.of([m.paragraph_kinds(texts) for m in marks], kind_count + 1)


def entity_overall(texts: Texts, marks: list[Marks], label_count: int, tokens: metrics.CodeProfiles) -> tuple[float | None, float | None]:
    """Krippendorff's alpha on per-token labels (``tokens``: :func:`token_profiles` of
    ``marks``; missing where an annotator did not do the snippet) and the unitizing alpha over
    the snippets every annotator did."""
    if len(marks) < 2:
        return None, None
    alpha = metrics.alpha_of_profiles(tokens, label_count + 1)
    everyone = np.array([m.done for m in marks]).all(axis=0)
    alpha_u = None
    if everyone.any():
        lengths = texts.lengths[everyone]
        # Lay the shared snippets end to end again so the continuum has no holes.
        shift = texts.base[everyone] - np.concatenate(([0], np.cumsum(lengths)))[:-1]
        edges = np.cumsum(lengths)[:-1]
        shift_of = np.zeros(len(texts), dtype=np.int64)
        shift_of[everyone] = shift
        units = []
        for mark in marks:
            start, end, label = _entities_in(mark, texts, everyone)
            snippet = mark.snippets_of(texts, "entity_start")
            offset = shift_of[snippet[everyone[snippet]]]
            start -= offset  # start and end are this loop's own copies
            end -= offset
            units.append((start, end, label))
        alpha_u = metrics.unitizing_alpha(int(lengths.sum()), edges, units)
    return alpha, alpha_u


# ------------------------------------------------------------------ boilerplate


@dataclass
class BoilerplatePair:
    a: str
    b: str
    paragraphs: int
    agreement: float | None
    kappa: float | None


def boilerplate_pair(a: Marks, b: Marks, kind_joint: np.ndarray) -> BoilerplatePair:
    """Observed agreement and Cohen's kappa on each paragraph's boilerplate kind (or none),
    from ``kind_joint`` (:meth:`CodeProfiles.joint` of the pair's paragraph kinds)."""
    count = int(kind_joint.sum())
    if not count:
        return BoilerplatePair(a.name, b.name, 0, None, None)
    agreement = float(np.trace(kind_joint)) / count
    return BoilerplatePair(a.name, b.name, count, agreement, metrics.kappa_of_joint(kind_joint))


def boilerplate_alpha(marks: list[Marks], kind_count: int, paragraphs: metrics.CodeProfiles) -> float | None:
    """Krippendorff's alpha on paragraph kinds over all annotators (missing where not done),
    from ``paragraphs``, :func:`paragraph_profiles` of ``marks``."""
    if len(marks) < 2:
        return None
    return metrics.alpha_of_profiles(paragraphs, kind_count + 1)
