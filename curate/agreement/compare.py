"""Agreement figures of docs/data-contract.md from :class:`Texts` and :class:`Marks` (no I/O).

Each function here turns marks into the inputs of :mod:`curate.agreement.metrics` (units and
decisions, token labels, spans) and returns plain dataclasses; the service assembles them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from curate.agreement import metrics
from curate.agreement.marks import Marks, Texts, Vocabulary

# Snippets compared at once by the pairwise and boundary figures: their copies of the marks
# are as large as a share of this many snippets, not as the whole comparison (issue 19, item 5).
CHUNK_SNIPPETS = 50_000


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
    line_cuts = texts.line_cuts[snippet_mask[texts.line_cut_snippet]]
    starts = [m.story_starts[snippet_mask[m.snippets_of(texts, "story_starts")]] for m in marks]
    return _decisions_of(texts, marks, snippet_mask, line_cuts, starts, 0, len(texts))


def _decisions_of(texts: Texts, marks: list[Marks], snippet_mask: np.ndarray, line_cuts: np.ndarray, starts: list[np.ndarray], low: int, high: int) -> Decisions:
    """The decisions of the snippets ``low:high`` in ``snippet_mask``, from their line cuts and each mark's story starts."""
    snippets = low + np.flatnonzero(snippet_mask[low:high])
    cut_points = metrics.sorted_unique(np.concatenate([line_cuts, *starts]))
    owner = texts.snippet_of(cut_points)
    per_snippet = np.bincount(owner - low, minlength=high - low)[snippets - low]
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


def boundary_pair(texts: Texts, a: Marks, b: Marks, chunk_snippets: int | None = None) -> BoundaryPair:
    """Pk, WindowDiff, B (means over the pair's snippets, ``b`` against reference ``a``) and
    Cohen's kappa of the pooled decisions; worked out share by share of snippets (as
    :func:`decision_shares`), the same figures as in one piece."""
    both = a.done & b.done
    n = int(both.sum())
    if n == 0:
        return BoundaryPair(a.name, b.name, 0, None, None, None, None)
    pk, windowdiff, similarity = [], [], []
    joint = None
    for units in decision_shares(texts, [a, b], both, chunk_snippets):
        scores = metrics.segmentation_scores(units.n_units, units.codes[0] == 1, units.codes[1] == 1)
        pk.append(scores.pk)
        windowdiff.append(scores.windowdiff)
        similarity.append(scores.boundary_similarity)
        if units.codes.shape[1]:
            share = metrics.joint_counts(units.codes[0], units.codes[1])
            joint = share if joint is None else _padded_table_sum(joint, share)
    kappa = metrics.kappa_of_joint(joint) if joint is not None else None
    return BoundaryPair(
        a.name, b.name, n,
        _mean_or_none(np.concatenate(pk)), _mean_or_none(np.concatenate(windowdiff)),
        float(np.concatenate(similarity).mean()), kappa,
    )


def _padded_table_sum(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    size = max(first.shape[0], second.shape[0])
    total = np.zeros((size, size), dtype=np.int64)
    total[: first.shape[0], : first.shape[1]] += first
    total[: second.shape[0], : second.shape[1]] += second
    return total


def boundary_overall(texts: Texts, marks: list[Marks], chunk_snippets: int | None = None) -> tuple[float | None, float | None]:
    """Krippendorff's alpha over all decisions (missing where an annotator did not do a
    snippet) and Fleiss' kappa over the snippets every annotator did (share by share of
    snippets, as :func:`decision_shares`)."""
    if len(marks) < 2:
        return None, None
    done = np.array([m.done for m in marks])
    compared = done.sum(axis=0) >= 2
    profiles = [metrics.CodeProfiles.of(units.codes, 2) for units in decision_shares(texts, marks, compared, chunk_snippets) if units.codes.size]
    alpha = metrics.alpha_of_profiles(metrics.CodeProfiles.merged(profiles, len(marks)), 2) if profiles else None
    everyone = done.all(axis=0)
    fleiss = None
    if everyone.any():
        squares, totals, units_count = 0, np.zeros(2, dtype=np.int64), 0
        for units in decision_shares(texts, marks, everyone, chunk_snippets):
            if units.codes.shape[1]:
                share_squares, share_totals = metrics.fleiss_counts(units.codes, 2)
                squares += share_squares
                totals += share_totals
                units_count += units.codes.shape[1]
        fleiss = metrics.fleiss_kappa_of_counts(squares, totals, units_count, len(marks))
    return alpha, fleiss


def decision_shares(texts: Texts, marks: list[Marks], snippet_mask: np.ndarray, chunk_snippets: int | None = None) -> Iterator[Decisions]:
    """:func:`decisions` share by share of ``chunk_snippets`` (default :data:`CHUNK_SNIPPETS`)
    snippets, shares with no snippet left out: laid end to end, the shares' arrays are the
    whole's (a share's cut points and units are its own snippets'). In one piece when line
    cuts or story starts are not in snippet order or a story start lies outside its snippet."""
    size = max(1, chunk_snippets or CHUNK_SNIPPETS)
    snippets = len(texts)
    cuts = _decision_cuts(texts, marks, size) if snippets > size else None
    if cuts is None:
        if snippet_mask.any():
            yield decisions(texts, marks, snippet_mask)
        return
    bounds, line_at, start_at = cuts
    for share, (low, high) in enumerate(zip(bounds, bounds[1:])):
        if not snippet_mask[low:high].any():
            continue
        lines = slice(line_at[share], line_at[share + 1])
        line_cuts = texts.line_cuts[lines]
        line_cuts = line_cuts[snippet_mask[texts.snippet_of(line_cuts)]]
        starts = []
        for mark, at in zip(marks, start_at):
            own = slice(at[share], at[share + 1])
            starts.append(mark.story_starts[own][snippet_mask[mark.snippets_of(texts, "story_starts")[own]]])
        yield _decisions_of(texts, marks, snippet_mask, line_cuts, starts, low, high)


def _decision_cuts(texts: Texts, marks: list[Marks], size: int) -> tuple[list[int], list[int], list[list[int]]] | None:
    """Share bounds (snippets), and where each share's line cuts and each mark's story starts
    begin; None when the shares cannot be cut apart (see :func:`decision_shares`)."""
    if not _ascending(texts.line_cuts):
        return None
    snippets = len(texts)
    bounds = [*range(0, snippets, size), snippets]
    offsets = np.concatenate((texts.base, [texts.total_length]))[bounds]
    line_at = np.searchsorted(texts.line_cuts, offsets).tolist()
    start_at = []
    for mark in marks:
        own_snippet = mark.snippets_of(texts, "story_starts")
        if not _ascending(own_snippet):
            return None
        at = np.searchsorted(own_snippet, bounds).tolist()
        for low, high, first, stop in zip(offsets.tolist(), offsets[1:].tolist(), at, at[1:]):
            own = mark.story_starts[first:stop]
            if own.size and (int(own.min()) < low or int(own.max()) >= high):
                return None
        start_at.append(at)
    return bounds, line_at, start_at


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


def _entities_in(marks: Marks, texts: Texts, snippet_mask: np.ndarray, first: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end and label of the entities ``first:stop`` of ``marks`` in the snippets of ``snippet_mask``."""
    window = slice(first, stop)
    keep = snippet_mask[marks.snippets_of(texts, "entity_start")[window]]
    return marks.entity_start[window][keep], marks.entity_end[window][keep], marks.entity_label[window][keep]


def entity_pair(texts: Texts, a: Marks, b: Marks, labels: Vocabulary, token_joint: np.ndarray, chunk_snippets: int | None = None) -> EntityPair:
    """Exact and overlap P/R/F1 (pooled over the pair's snippets), per label, token kappa
    (from ``token_joint``, :meth:`CodeProfiles.joint` of the pair's per-token labels),
    and the label confusion of overlapping spans.

    Spans of one snippet only ever meet spans of the same snippet, so when both sides are
    flat (sorted, non-empty, not overlapping) and inside their snippets, the counts are
    added up share by share of ``chunk_snippets`` (default :data:`CHUNK_SNIPPETS`)
    snippets; otherwise the pair is compared in one piece. The counts, and so the figures,
    are the same either way."""
    both = a.done & b.done
    n = int(both.sum())
    label_count = len(labels)
    shares = _span_shares(texts, a, b, max(1, chunk_snippets or CHUNK_SNIPPETS))
    if shares is None:
        counts = _entity_counts(*_entities_in(a, texts, both), *_entities_in(b, texts, both), label_count)
    else:
        counts = None
        for (a_first, a_stop), (b_first, b_stop) in shares:
            share = _entity_counts(
                *_entities_in(a, texts, both, a_first, a_stop), *_entities_in(b, texts, both, b_first, b_stop), label_count,
            )
            counts = share if counts is None else counts.plus(share)
        assert counts is not None
    precision, recall, f1 = metrics.span_scores(counts.matches, counts.a_total, counts.b_total)
    per_label = {}
    for number in range(label_count):
        if counts.a_counts[number] or counts.b_counts[number]:
            per_label[labels.name(number)] = metrics.span_scores(int(counts.match_counts[number]), int(counts.a_counts[number]), int(counts.b_counts[number]))
    overlap_f1 = metrics.span_scores(counts.overlap_matches, counts.a_total, counts.b_total)[2]
    token_kappa = metrics.kappa_of_joint(token_joint) if n else None
    return EntityPair(a.name, b.name, n, precision, recall, f1, overlap_f1, token_kappa, per_label, counts.confusion)


@dataclass
class _EntityCounts:
    """The counts :func:`entity_pair` works its figures out from (they add up over snippets)."""

    a_total: int
    b_total: int
    matches: int
    overlap_matches: int
    a_counts: np.ndarray  # per label
    b_counts: np.ndarray
    match_counts: np.ndarray
    confusion: np.ndarray

    def plus(self, other: "_EntityCounts") -> "_EntityCounts":
        return _EntityCounts(
            self.a_total + other.a_total, self.b_total + other.b_total,
            self.matches + other.matches, self.overlap_matches + other.overlap_matches,
            _padded_sum(self.a_counts, other.a_counts), _padded_sum(self.b_counts, other.b_counts),
            _padded_sum(self.match_counts, other.match_counts), self.confusion + other.confusion,
        )


def _padded_sum(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    total = np.zeros(max(first.size, second.size), dtype=np.int64)
    total[: first.size] += first
    total[: second.size] += second
    return total


def _entity_counts(
    a_start: np.ndarray, a_end: np.ndarray, a_label: np.ndarray,
    b_start: np.ndarray, b_end: np.ndarray, b_label: np.ndarray,
    label_count: int,
) -> _EntityCounts:
    matched_a, _ = metrics.exact_span_matches(a_start, a_end, a_label, b_start, b_end, b_label)
    overlapping = metrics.overlapping_pairs(a_start, a_end, b_start, b_end) if _ascending(a_start) and _ascending(b_start) else None
    overlap_matches = len(metrics.one_to_one_matching(a_start, a_end, b_start, b_end, a_label, b_label, overlapping)[0])
    return _EntityCounts(
        int(a_start.size), int(b_start.size), int(matched_a.sum()), overlap_matches,
        np.bincount(a_label, minlength=label_count), np.bincount(b_label, minlength=label_count),
        np.bincount(a_label[matched_a], minlength=label_count),
        label_confusion(a_start, a_end, a_label, b_start, b_end, b_label, label_count, overlapping),
    )


def _span_shares(texts: Texts, a: Marks, b: Marks, size: int) -> list[tuple[tuple[int, int], tuple[int, int]]] | None:
    """For each share of ``size`` snippets, the slice of ``a``'s and of ``b``'s entities in
    it; None (compare in one piece) when there is only one share, or when the spans of a side
    are not flat or not in order of their snippets, or a share's spans leave its snippets."""
    snippets = len(texts)
    if snippets <= size or not (_flat(a.entity_start, a.entity_end) and _flat(b.entity_start, b.entity_end)):
        return None
    a_snippet, b_snippet = a.snippets_of(texts, "entity_start"), b.snippets_of(texts, "entity_start")
    if not (_ascending(a_snippet) and _ascending(b_snippet)):
        return None
    bounds = np.array([*range(0, snippets, size), snippets])
    edges = np.concatenate((texts.base, [texts.base[-1] + texts.lengths[-1]]))[bounds].tolist()
    cuts = []
    for mark, snippet in ((a, a_snippet), (b, b_snippet)):
        at = np.searchsorted(snippet, bounds).tolist()
        for low, high, first, stop in zip(edges, edges[1:], at, at[1:]):
            if first < stop and (int(mark.entity_start[first]) < low or int(mark.entity_end[stop - 1]) > high):
                return None
        cuts.append(list(zip(at, at[1:])))
    return list(zip(*cuts))


def _flat(start: np.ndarray, end: np.ndarray) -> bool:
    """Every span non-empty and none before the end of the one before it."""
    return bool((end > start).all() and (start[1:] >= end[:-1]).all())


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
        alpha_u = _unitizing_alpha(texts, marks, everyone, shift_of, int(lengths.sum()), edges)
    return alpha, alpha_u


def _unitizing_alpha(texts: Texts, marks: list[Marks], snippet_mask: np.ndarray, shift_of: np.ndarray, length: int, edges: np.ndarray) -> float | None:
    """:func:`metrics.unitizing_alpha` of the marks' entities in the snippets of
    ``snippet_mask``, each moved back by its snippet's ``shift_of``; the units of one label
    are taken out at a time (all labels' copies at once were some 2 GB for 1M snippets)."""
    if len(marks) < 2 or length <= 0:
        return None
    kept = [snippet_mask[mark.snippets_of(texts, "entity_start")] for mark in marks]
    present = [_present(mark.entity_label[keep]) for mark, keep in zip(marks, kept)]
    categories = metrics.sorted_unique(np.concatenate(present)) if present else np.zeros(0, dtype=np.int64)

    def units_of(category: int) -> list[tuple[np.ndarray, np.ndarray]]:
        units = []
        for mark, keep in zip(marks, kept):
            chosen = np.flatnonzero(keep & (mark.entity_label == category))
            offset = shift_of[mark.snippets_of(texts, "entity_start")[chosen]]
            units.append(metrics.sorted_units(mark.entity_start[chosen] - offset, mark.entity_end[chosen] - offset))
        return units

    return metrics.alpha_of_disagreements(metrics.unitizing_disagreements_by_category(length, edges, len(marks), categories.tolist(), units_of))


def _present(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending, as int64."""
    if values.size and int(values.min()) >= 0:
        return np.flatnonzero(np.bincount(values))
    return metrics.sorted_unique(values.astype(np.int64))


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
