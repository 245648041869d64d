"""Agreement metrics as pure functions over numpy arrays: no I/O, no UI, no corpus.

Every function returns ``None`` (or NaN inside per-snippet arrays) where its figure is
undefined, for instance a chance-corrected coefficient whose expected disagreement is zero;
the caller reports that as ``null`` rather than inventing a number.

Conventions shared by the segmentation functions: a batch of snippets is given as
``n_units`` (units per snippet) and flat boolean decision arrays holding, snippet after
snippet, one decision per unit but the first (``True``: a story starts at that unit). A
snippet with ``n`` units owns ``n - 1`` consecutive decisions.

Conventions shared by the coding coefficients: ``codes`` is a 2-D integer array, one row per
annotator and one column per coded unit, holding category numbers ``0..k-1`` and ``-1`` where
the annotator gave no value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MISSING = -1


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values in ascending order (a sort, cheaper here than np.unique's hashing)."""
    values = np.sort(np.asarray(values), kind="stable")
    if values.size:
        values = values[np.concatenate(([True], values[1:] != values[:-1]))]
    return values


# ------------------------------------------------------------------ coding coefficients


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cohen's (1960) kappa of two annotators' categories for the same units.

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed share of equal values and
    ``p_e = sum_c p_a(c) p_b(c)`` from each annotator's own marginals (as scikit-learn's
    ``cohen_kappa_score``). Undefined (None) when there are no units or ``p_e == 1``.
    """
    a = np.asarray(a, dtype=np.int64)
    if a.size == 0:
        return None
    return kappa_of_joint(joint_counts(a, b))


def joint_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The table ``joint[c_a, c_b]`` of how many units two annotators coded ``c_a`` and
    ``c_b`` (codes from 0, at least one unit): square, as wide as the largest code plus one."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    categories = int(max(a.max(), b.max())) + 1
    return np.bincount(a * categories + b, minlength=categories * categories).reshape(categories, categories)


def kappa_of_joint(joint: np.ndarray) -> float | None:
    """:func:`cohen_kappa` from the integer table ``joint[c_a, c_b]`` of how many units the two
    annotators coded ``c_a`` and ``c_b`` (the same arithmetic, so the same float)."""
    total = int(joint.sum())
    if total == 0:
        return None
    observed = np.trace(joint) / total
    expected = float(joint.sum(axis=1) @ joint.sum(axis=0)) / (total * total)
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1.0 - expected))


def category_counts(codes: np.ndarray, categories: int) -> np.ndarray:
    """Per unit, how many annotators gave each category: shape (units, categories)."""
    codes = np.asarray(codes)
    counts = np.zeros((codes.shape[1], categories), dtype=np.int64)
    for category in range(categories):
        counts[:, category] = (codes == category).sum(axis=0)
    return counts


def fleiss_kappa(codes: np.ndarray, categories: int | None = None) -> float | None:
    """Fleiss' (1971) kappa for units that every annotator coded (no ``-1`` in ``codes``).

    With ``n`` raters per unit, ``P_i = (sum_c n_ic^2 - n) / (n (n - 1))``,
    ``p_c = sum_i n_ic / (N n)``, ``kappa = (mean P_i - sum p_c^2) / (1 - sum p_c^2)``
    (statsmodels ``fleiss_kappa(method="fleiss")``). Undefined for fewer than two raters,
    no units, or a single category used throughout.
    """
    codes = np.asarray(codes, dtype=np.int64)
    raters, units = codes.shape
    if raters < 2 or units == 0:
        return None
    if (codes < 0).any():
        raise ValueError("fleiss_kappa needs a value from every annotator for every unit")
    categories = categories or int(codes.max()) + 1
    return fleiss_kappa_of_counts(*fleiss_counts(codes, categories), units, raters)


def fleiss_counts(codes: np.ndarray, categories: int) -> tuple[int, np.ndarray]:
    """The sums :func:`fleiss_kappa` needs, which add up over parts of the units: the sum
    over units and categories of ``n_ic^2``, and per category ``sum_i n_ic``."""
    squares = 0
    totals = np.zeros(categories, dtype=np.int64)
    for category in range(categories):
        per_unit = (codes == category).sum(axis=0).astype(np.int64)
        squares += int((per_unit * per_unit).sum())
        totals[category] = per_unit.sum()
    return squares, totals


def fleiss_kappa_of_counts(squares: int, totals: np.ndarray, units: int, raters: int) -> float | None:
    """:func:`fleiss_kappa` from :func:`fleiss_counts` of all ``units`` (the same float)."""
    if raters < 2 or units == 0:
        return None
    shares = totals / (units * raters)
    mean_agreement = (squares - units * raters) / (units * raters * (raters - 1))
    expected = float((shares * shares).sum())
    if expected >= 1.0:
        return None
    return float((mean_agreement - expected) / (1.0 - expected))


def nominal_alpha(codes: np.ndarray, categories: int | None = None) -> float | None:
    """Krippendorff's alpha for nominal data, missing values allowed (``-1``).

    Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": only units
    with at least two values are pairable; the coincidence matrix is
    ``o_ck = sum_u n_uc (n_uk - [c = k]) / (m_u - 1)``; with ``n_c`` its marginals and ``n``
    the pairable values, ``alpha = 1 - (n - 1) (n - sum_c o_cc) / (n^2 - sum_c n_c^2)``.
    Undefined when fewer than two values are pairable or only one category occurs.
    """
    codes = np.asarray(codes)
    if codes.size == 0:
        return None
    categories = categories or int(codes.max()) + 1
    if categories <= 0:
        return None
    return alpha_of_profiles(CodeProfiles.of(codes, categories), categories)


def alpha_of_profiles(profiles: "CodeProfiles", categories: int) -> float | None:
    """:func:`nominal_alpha` of the units ``profiles`` counts (codes ``0..categories-1``)."""
    if not profiles.frequency.size:
        return None
    counts = np.stack([(profiles.digits == category + 1).sum(axis=1) for category in range(categories)], axis=1).astype(np.float64)
    weights = profiles.frequency.astype(np.float64)
    values_per_unit = counts.sum(axis=1)
    pairable = values_per_unit >= 2
    if not pairable.any():
        return None
    counts, weights, values_per_unit = counts[pairable], weights[pairable], values_per_unit[pairable]
    coinciding = float((weights * (counts * (counts - 1)).sum(axis=1) / (values_per_unit - 1)).sum())
    marginals = (counts * weights[:, None]).sum(axis=0)
    total = float(marginals.sum())
    expected = total * total - float((marginals * marginals).sum())
    if total < 2 or expected <= 0:
        return None
    return float(1.0 - (total - 1) * (total - coinciding) / expected)


@dataclass
class CodeProfiles:
    """Several annotators' codes of many units as the distinct per-unit combinations
    (``digits``: code + 1 per annotator, 0 where one gave no value) and how many units have
    each (``frequency``). Long runs of units coded alike (tokens outside every entity) collapse
    to one row, and profiles of parts of the units add up (:meth:`merged`), so the coding
    coefficients of a million snippets' tokens are worked out from a few hundred rows.

    Rows are in ascending order of the annotators' digits read with the last annotator most
    significant; :func:`alpha_of_profiles` and :func:`kappa_of_joint` give the floats
    :func:`nominal_alpha` and :func:`cohen_kappa` give on the codes themselves.
    """

    digits: np.ndarray  # profiles x annotators, int64
    frequency: np.ndarray  # int64, one per profile

    @classmethod
    def of(cls, codes: np.ndarray, categories: int) -> "CodeProfiles":
        """The profiles of ``codes`` (annotators x units, ``-1`` for no value; a 2-D array
        or one array per annotator)."""
        raters = len(codes)
        base = categories + 1
        if base**raters <= 1 << 22:
            # sum_r (code_r + 1) base^r, the first annotator least significant: the codes'
            # sum plus the constant sum_r base^r, in 32 bits (a quarter of the values fit in cache).
            combined = np.zeros(len(codes[0]) if raters else 0, dtype=np.int32)
            for row in codes[::-1]:
                combined *= base
                combined += row
            combined += sum(base**rater for rater in range(raters))
            frequency = np.bincount(combined, minlength=base**raters)
            present = np.flatnonzero(frequency)
            digits = (present[:, None] // base ** np.arange(raters)[None, :]) % base
            return cls(digits.astype(np.int64), frequency[present].astype(np.int64))
        codes = np.asarray(codes, dtype=np.int64).reshape(raters, -1)
        return cls.aggregated(codes.T + 1, np.ones(codes.shape[1], dtype=np.int64))

    @classmethod
    def aggregated(cls, digits: np.ndarray, frequency: np.ndarray) -> "CodeProfiles":
        """Rows with equal digits summed into one, in the order the class describes."""
        if not frequency.size:
            return cls(digits.reshape(0, digits.shape[1]).astype(np.int64), frequency.astype(np.int64))
        order = np.lexsort(digits.T) if digits.shape[1] else np.arange(frequency.size)
        digits, frequency = digits[order], frequency[order]
        new = np.ones(frequency.size, dtype=bool)
        new[1:] = (digits[1:] != digits[:-1]).any(axis=1)
        first = np.flatnonzero(new)
        return cls(digits[first].astype(np.int64), np.add.reduceat(frequency, first).astype(np.int64))

    @classmethod
    def merged(cls, parts: "list[CodeProfiles]", raters: int) -> "CodeProfiles":
        """The profiles of all the parts' units together."""
        if not parts:
            return cls(np.zeros((0, raters), dtype=np.int64), np.zeros(0, dtype=np.int64))
        return cls.aggregated(np.concatenate([part.digits for part in parts]), np.concatenate([part.frequency for part in parts]))

    def mapped(self, digit_map: np.ndarray) -> "CodeProfiles":
        """These profiles with every digit ``d`` replaced by ``digit_map[d]`` (rows made equal merge)."""
        return CodeProfiles.aggregated(digit_map[self.digits], self.frequency)

    def of_raters(self, rows: list[int]) -> "CodeProfiles":
        """The profiles of these annotators only."""
        return CodeProfiles.aggregated(self.digits[:, rows], self.frequency)

    def joint(self, first: int = 0, second: int = 1) -> np.ndarray:
        """The :func:`kappa_of_joint` table of two annotators over the units both coded: square,
        as wide as the largest code either gave, plus one."""
        both = (self.digits[:, first] > 0) & (self.digits[:, second] > 0)
        a, b, frequency = self.digits[both, first] - 1, self.digits[both, second] - 1, self.frequency[both]
        categories = int(max(a.max(), b.max())) + 1 if a.size else 0
        joint = np.zeros((categories, categories), dtype=np.int64)
        np.add.at(joint, (a, b), frequency)
        return joint


# ------------------------------------------------------------------ segmentation


@dataclass(frozen=True)
class SegmentationScores:
    """Per-snippet scores of a hypothesis segmentation against a reference (NaN: undefined)."""

    pk: np.ndarray
    windowdiff: np.ndarray
    boundary_similarity: np.ndarray


def segeval_window_size(n_units: np.ndarray, reference_stories: np.ndarray) -> np.ndarray:
    """segeval's default window: half the mean reference story mass, rounded half to even, at least 2."""
    n_units = np.asarray(n_units, dtype=np.int64)
    denominator = 2 * np.asarray(reference_stories, dtype=np.int64)
    quotient, remainder = np.divmod(n_units, denominator)
    twice = 2 * remainder
    rounded = quotient + (twice > denominator) + ((twice == denominator) & (quotient % 2 == 1))
    return np.maximum(rounded, 2)


def segmentation_scores(n_units: np.ndarray, reference: np.ndarray, hypothesis: np.ndarray) -> SegmentationScores:
    """Pk, WindowDiff and Boundary Similarity (B) of each snippet, as segeval 2.0.11 computes them.

    - Pk (Beeferman et al. 1999): with window ``k`` = :func:`segeval_window_size` of the
      reference, the share of the ``n - k`` window positions ``i`` where "units ``i`` and
      ``i + k`` are in one story" differs between reference and hypothesis.
    - WindowDiff (Pevzner & Hearst 2002): the share of those positions where the number of
      boundaries between units ``i`` and ``i + k`` differs.
      Both are undefined (NaN) when a snippet has no more units than the window (segeval
      then returns 0 for Pk and divides by zero for WindowDiff).
    - B (Fournier 2013), one boundary type, transpositions spanning ``n_t = 2`` positions:
      with ``M`` boundaries both place, ``T`` adjacent swaps (paired greedily left to right,
      as segeval does) and ``A`` remaining one-sided boundaries,
      ``B = (M + T / 2) / (M + T + A)``, and 1.0 when neither places a boundary.
    """
    n_units = np.asarray(n_units, dtype=np.int64)
    reference = np.asarray(reference, dtype=bool)
    hypothesis = np.asarray(hypothesis, dtype=bool)
    snippets = n_units.size
    decisions = n_units - 1
    if int(decisions.sum()) != reference.size or reference.size != hypothesis.size:
        raise ValueError("decision arrays must hold n_units - 1 decisions per snippet")
    decision_start = np.concatenate(([0], np.cumsum(decisions)))[:-1]
    decision_snippet = np.repeat(np.arange(snippets), decisions)

    # Boundaries before each unit, cumulated over the whole batch: the count between units
    # i and j of one snippet is a difference of two entries.
    per_unit_ref = np.zeros(int(n_units.sum()), dtype=np.int64)
    per_unit_hyp = np.zeros_like(per_unit_ref)
    unit_start = np.concatenate(([0], np.cumsum(n_units)))[:-1]
    decision_unit = np.arange(reference.size) - np.repeat(decision_start, decisions) + 1 + np.repeat(unit_start, decisions)
    per_unit_ref[decision_unit] = reference
    per_unit_hyp[decision_unit] = hypothesis
    cumulative_ref = np.cumsum(per_unit_ref)
    cumulative_hyp = np.cumsum(per_unit_hyp)

    reference_stories = 1 + np.bincount(decision_snippet, weights=reference, minlength=snippets).astype(np.int64)
    window = segeval_window_size(n_units, reference_stories)
    positions = np.maximum(n_units - window, 0)
    total_positions = int(positions.sum())
    position_snippet = np.repeat(np.arange(snippets), positions)
    first_position = np.concatenate(([0], np.cumsum(positions)))[:-1]
    left = unit_start[position_snippet] + np.arange(total_positions) - np.repeat(first_position, positions)
    right = left + window[position_snippet]
    between_ref = cumulative_ref[right] - cumulative_ref[left]
    between_hyp = cumulative_hyp[right] - cumulative_hyp[left]
    pk_errors = np.bincount(position_snippet, weights=(between_ref == 0) != (between_hyp == 0), minlength=snippets)
    wd_errors = np.bincount(position_snippet, weights=between_ref != between_hyp, minlength=snippets)
    with np.errstate(invalid="ignore", divide="ignore"):
        pk = np.where(positions > 0, pk_errors / positions, np.nan)
        windowdiff = np.where(positions > 0, wd_errors / positions, np.nan)

    matches = np.bincount(decision_snippet, weights=reference & hypothesis, minlength=snippets)
    mismatch = reference != hypothesis
    one_sided = np.bincount(decision_snippet, weights=mismatch, minlength=snippets)
    # A swap links two adjacent one-sided boundaries of opposite sides in one snippet.
    same_snippet = decision_snippet[1:] == decision_snippet[:-1]
    link = mismatch[1:] & mismatch[:-1] & (reference[1:] != reference[:-1]) & same_snippet
    swaps = _greedy_pairs_per_snippet(link, decision_snippet[:-1], snippets)
    additions = one_sided - 2 * swaps
    denominator = matches + swaps + additions
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(denominator > 0, (matches + swaps / 2) / denominator, 1.0)
    return SegmentationScores(pk, windowdiff, similarity)


def _greedy_pairs_per_snippet(link: np.ndarray, link_snippet: np.ndarray, snippets: int) -> np.ndarray:
    """Pairs taken by a left-to-right greedy over chains of links: ceil(len / 2) per chain."""
    if link.size == 0:
        return np.zeros(snippets)
    padded = np.concatenate(([False], link, [False]))
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    run_starts, run_ends = changes[0::2], changes[1::2]
    pairs = (run_ends - run_starts + 1) // 2
    return np.bincount(link_snippet[run_starts], weights=pairs, minlength=snippets)


def masses_to_decisions(masses: list[int]) -> np.ndarray:
    """Story masses (units per story) as decisions for every unit but the first."""
    decisions = np.zeros(sum(masses) - 1, dtype=bool)
    decisions[np.cumsum(masses)[:-1] - 1] = True
    return decisions


# ------------------------------------------------------------------ spans


def span_scores(matches: int, count_a: int, count_b: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall, F1 of ``b`` against reference ``a``: matches/|b|, matches/|a|,
    2 matches/(|a| + |b|) with F1 = 1.0 when both are empty; None where a count is zero."""
    precision = matches / count_b if count_b else None
    recall = matches / count_a if count_a else None
    f1 = 2 * matches / (count_a + count_b) if count_a + count_b else 1.0
    return precision, recall, f1


def exact_span_matches(
    a_start: np.ndarray, a_end: np.ndarray, a_label: np.ndarray,
    b_start: np.ndarray, b_end: np.ndarray, b_label: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the spans of ``a`` and of ``b`` that have an equal (start, end, label)
    on the other side. Each side must be sorted by start and flat, so that a span's only
    candidate on the other side is the one with the same start."""
    a_start, b_start = np.asarray(a_start), np.asarray(b_start)
    matched_a = np.zeros(a_start.size, dtype=bool)
    matched_b = np.zeros(b_start.size, dtype=bool)
    if not a_start.size or not b_start.size:
        return matched_a, matched_b
    candidate = np.minimum(np.searchsorted(b_start, a_start), b_start.size - 1)
    matched_a = (b_start[candidate] == a_start) & (np.asarray(b_end)[candidate] == a_end) & (np.asarray(b_label)[candidate] == a_label)
    matched_b[candidate[matched_a]] = True
    return matched_a, matched_b


def overlapping_pairs(
    a_start: np.ndarray, a_end: np.ndarray, b_start: np.ndarray, b_end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) where span ``a[i]`` and span ``b[j]`` share a character.

    Each side must be sorted and free of overlaps within itself, so that the ``b`` spans
    meeting one ``a`` span form a contiguous run of indices.
    """
    first = np.searchsorted(b_end, a_start, side="right")
    last = np.searchsorted(b_start, a_end, side="left")
    counts = np.maximum(last - first, 0)
    a_index = np.repeat(np.arange(len(a_start)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    b_index = np.repeat(first, counts) + offsets
    return a_index, b_index


def one_to_one_overlaps(
    a_start: np.ndarray, a_end: np.ndarray, b_start: np.ndarray, b_end: np.ndarray
) -> list[tuple[int, int]]:
    """A maximum one-to-one matching of overlapping spans between two sorted flat span lists.

    The earliest remaining spans are matched whenever they overlap: with both sides free of
    overlaps, no other span can overlap both of them, so this greedy sweep is maximum.
    """
    pairs = []
    i = j = 0
    a_start, a_end, b_start, b_end = (np.asarray(x).tolist() for x in (a_start, a_end, b_start, b_end))
    while i < len(a_start) and j < len(b_start):
        if a_end[i] <= b_start[j]:
            i += 1
        elif b_end[j] <= a_start[i]:
            j += 1
        else:
            pairs.append((i, j))
            i += 1
            j += 1
    return pairs


def one_to_one_matching(
    a_start: np.ndarray, a_end: np.ndarray, b_start: np.ndarray, b_end: np.ndarray,
    a_group: np.ndarray | None = None, b_group: np.ndarray | None = None,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indexes ``(i, j)`` of a maximum one-to-one matching of overlapping spans, pairing only
    spans of equal group (label) when groups are given. Each side sorted and flat.

    A pair that overlaps nothing else is matched at once (that covers spans with an equal
    extent on the other side); the rest, spans meeting two or more, go through
    :func:`one_to_one_overlaps` group by group. ``pairs``: :func:`overlapping_pairs` of the
    spans, when the caller has them already.
    """
    a_index, b_index = overlapping_pairs(a_start, a_end, b_start, b_end) if pairs is None else pairs
    if a_group is not None and b_group is not None:
        same = a_group[a_index] == b_group[b_index]
        a_index, b_index = a_index[same], b_index[same]
    degree_a = np.bincount(a_index, minlength=len(a_start))
    degree_b = np.bincount(b_index, minlength=len(b_start))
    alone = (degree_a[a_index] == 1) & (degree_b[b_index] == 1)
    matched_a, matched_b = [a_index[alone]], [b_index[alone]]
    if not alone.all():
        involved_a = sorted_unique(a_index[~alone])
        involved_b = sorted_unique(b_index[~alone])
        if a_group is None or b_group is None:
            groups = [(involved_a, involved_b)]
        else:
            groups = [
                (involved_a[a_group[involved_a] == group], involved_b[b_group[involved_b] == group])
                for group in sorted_unique(a_group[involved_a]).tolist()
            ]
        for own_a, own_b in groups:
            pairs = one_to_one_overlaps(a_start[own_a], a_end[own_a], b_start[own_b], b_end[own_b])
            matched_a.append(own_a[[i for i, _ in pairs]])
            matched_b.append(own_b[[j for _, j in pairs]])
    return np.concatenate(matched_a).astype(np.int64), np.concatenate(matched_b).astype(np.int64)


# ------------------------------------------------------------------ unitizing alpha


# Units whose per-unit terms of αU are worked out at once (the rest of the work holds a few
# arrays as long as the units of one category).
UNIT_CHUNK = 1 << 18


@dataclass(frozen=True)
class UnitizingDisagreement:
    """Krippendorff's observed and expected disagreement of one category."""

    observed: float
    expected: float


def unitizing_disagreements(
    length: int,
    section_edges: np.ndarray,
    units: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> dict[int, UnitizingDisagreement]:
    """Per category, Krippendorff's (2004, ch. 12) observed and expected disagreement of αU.

    The continuum ``[0, length)`` is unitized by ``m = len(units)`` observers; each gives
    ``(start, end, category)`` arrays of units, sorted and non-overlapping within a category.
    For category ``c`` an observer's continuum is cut into its ``c`` units and the gaps
    between them; gaps are also cut at ``section_edges`` (snippet edges), so no gap runs from
    one snippet into the next. With ``b`` the start and ``l`` the length of a section:

    - the distance of two ``c`` units that overlap is ``(b_g - b_h)^2 + (b_g + l_g - b_h - l_h)^2``,
      of a ``c`` unit and a gap containing it ``l_unit^2``, otherwise 0;
    - ``D_o = sum over ordered observer pairs of all distances / (m (m - 1) L^2)``;
    - ``D_e = (2 / L) sum_units [(N_c - 1)/3 (2 l^3 - 3 l^2 + l)
      + l^2 sum_{gaps of length >= l} (l_gap - l + 1)] / (m L (m L - 1) - sum_units l (l - 1))``,
      with ``N_c`` the number of ``c`` units of all observers.

    These reproduce Krippendorff's worked example (2004, p. 254): D_o = .0144 and
    D_e = .0532 for category c, D_e = .0490 for k.
    """
    all_categories = np.concatenate([np.asarray(category, dtype=np.int64) for _, _, category in units]) if units else np.zeros(0, dtype=np.int64)
    if all_categories.size and all_categories.min() >= 0:
        categories = np.flatnonzero(np.bincount(all_categories))  # small numbers: no sort
    else:
        categories = sorted_unique(all_categories)
    units = [(np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64), np.asarray(category)) for start, end, category in units]

    def units_of(category: int) -> list[tuple[np.ndarray, np.ndarray]]:
        chosen = []
        for start, end, unit_category in units:
            keep = unit_category == category
            chosen.append(sorted_units(start[keep], end[keep]))
        return chosen

    return unitizing_disagreements_by_category(length, section_edges, len(units), categories.tolist(), units_of)


def sorted_units(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Units ordered by start (ties in the given order), as int64."""
    start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
    if start.size > 1 and not (start[1:] >= start[:-1]).all():
        order = np.argsort(start, kind="stable")
        start, end = start[order], end[order]
    return start, end


def unitizing_disagreements_by_category(
    length: int,
    section_edges: np.ndarray,
    observers: int,
    categories: list[int],
    units_of: Callable[[int], list[tuple[np.ndarray, np.ndarray]]],
) -> dict[int, UnitizingDisagreement]:
    """:func:`unitizing_disagreements` with each category's units asked for in turn:
    ``units_of(c)`` gives every observer's ``(start, end)`` units of category ``c``
    (:func:`sorted_units`), so that only one category's are held at a time."""
    edges = sorted_unique(np.concatenate(([0, length], np.asarray(section_edges, dtype=np.int64))))
    result: dict[int, UnitizingDisagreement] = {}
    total = float(length)
    for category in categories:
        per_observer = units_of(category)
        observed = _observed_disagreement(per_observer, total)
        unit_lengths = np.concatenate([end - start for start, end in per_observer]).astype(np.float64)
        gap_lengths = _sorted_lengths(np.concatenate([_gap_lengths(start, end, edges) for start, end in per_observer]), np.float64)
        del per_observer  # one category's units at a time
        result[int(category)] = UnitizingDisagreement(observed, _expected_disagreement(unit_lengths, gap_lengths, observers, total))
        del unit_lengths, gap_lengths
    return result


def _observed_disagreement(per_observer: list[tuple[np.ndarray, np.ndarray]], total: float) -> float:
    """D_o of one category (see :func:`unitizing_disagreements`)."""
    observers = len(per_observer)
    distance = 0.0
    for first in range(observers):
        for second in range(first + 1, observers):
            a_start, a_end = per_observer[first]
            b_start, b_end = per_observer[second]
            # Overlapping pairs a slice of ``a`` at a time; their squares add up exactly (integers).
            squares = 0
            a_alone = np.ones(a_start.size, dtype=bool)
            b_alone = np.ones(b_start.size, dtype=bool)
            for low in range(0, a_start.size, UNIT_CHUNK):
                own_start, own_end = a_start[low : low + UNIT_CHUNK], a_end[low : low + UNIT_CHUNK]
                a_index, b_index = overlapping_pairs(own_start, own_end, b_start, b_end)
                squares += int(((own_start[a_index] - b_start[b_index]) ** 2 + (own_end[a_index] - b_end[b_index]) ** 2).sum())
                a_alone[low + a_index] = False
                b_alone[b_index] = False
                del a_index, b_index
            distance += float(squares)
            distance += float(((a_end - a_start)[a_alone].astype(np.float64) ** 2).sum())
            distance += float(((b_end - b_start)[b_alone].astype(np.float64) ** 2).sum())
    return 2 * distance / (observers * (observers - 1) * total * total)


def _expected_disagreement(unit_lengths: np.ndarray, gap_lengths: np.ndarray, observers: int, total: float) -> float:
    """D_e of one category from its units' lengths and its gaps' lengths (ascending), as floats."""
    suffix_sum = np.zeros(gap_lengths.size + 1)
    if gap_lengths.size:
        np.cumsum(gap_lengths[::-1], out=suffix_sum[-2::-1])
    count = unit_lengths.size
    # Each unit's term worked out a slice at a time into one array, summed as a whole (the
    # same float as summing the whole expression at once).
    terms = np.empty(count)
    for low in range(0, count, UNIT_CHUNK):
        own = unit_lengths[low : low + UNIT_CHUNK]
        first_long_enough = np.searchsorted(gap_lengths, own, side="left")
        long_enough = gap_lengths.size - first_long_enough
        placements = suffix_sum[first_long_enough] - long_enough * (own - 1)
        within = (count - 1) / 3 * (2 * own**3 - 3 * own**2 + own)
        np.add(within, own**2 * placements, out=terms[low : low + UNIT_CHUNK])
    numerator = 2 / total * float(terms.sum())
    for low in range(0, count, UNIT_CHUNK):
        own = unit_lengths[low : low + UNIT_CHUNK]
        np.multiply(own, own - 1, out=terms[low : low + UNIT_CHUNK])
    denominator = observers * total * (observers * total - 1) - float(terms.sum())
    return numerator / denominator


def _sorted_lengths(lengths: np.ndarray, dtype: type | None = None) -> np.ndarray:
    """Positive integer lengths in ascending order (as ``dtype``, default theirs): counted, not
    compared, when the longest is not much more than there are lengths (gaps are at most a
    snippet long)."""
    if lengths.size and int(lengths.max()) <= 4 * lengths.size + 1024:
        counts = np.bincount(lengths)
        return np.repeat(np.arange(counts.size, dtype=dtype or lengths.dtype), counts)
    return np.sort(lengths).astype(dtype or lengths.dtype, copy=False)


def _gap_lengths(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Lengths of the stretches of ``[edges[0], edges[-1])`` outside the units, cut at ``edges``
    (in no particular order; ``edges`` sorted and distinct, units sorted by start).

    When the units do not overlap, lie inside the continuum and no edge falls inside one (so
    every unit lies in one section between two edges, as entities lie in one snippet), the
    gaps of each section are the stretches before its first unit, between its units and after
    its last (or the whole section when it has none): no sort. Otherwise
    :func:`_gap_lengths_by_points` cuts at every boundary.
    """
    if not start.size:
        return np.diff(edges)
    section = np.searchsorted(edges, start, side="right") - 1
    if (
        start[0] < edges[0] or end[-1] > edges[-1]
        or (start[1:] < end[:-1]).any()
        or (np.searchsorted(edges, end - 1, side="right") - 1 != section).any()
    ):
        return _gap_lengths_by_points(start, end, edges)
    new_section = np.ones(start.size, dtype=bool)
    new_section[1:] = section[1:] != section[:-1]
    first = np.flatnonzero(new_section)
    last = np.concatenate((first[1:] - 1, [start.size - 1]))
    empty = np.ones(edges.size - 1, dtype=bool)
    empty[section] = False
    pieces = np.concatenate((
        start[first] - edges[section[first]],
        (start[1:] - end[:-1])[~new_section[1:]],
        edges[section[last] + 1] - end[last],
        np.diff(edges)[empty],
    ))
    return pieces[pieces > 0]


def _gap_lengths_by_points(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """:func:`_gap_lengths` for any units: every boundary is a cut point."""
    # Between any two consecutive distinct boundaries (edges, unit starts and ends) lies one
    # stretch: inside a unit when its left boundary is a unit start, else a gap. Edges, starts
    # and ends are each sorted, so the stable sort only merges three runs.
    points = np.sort(np.concatenate((edges, start, end)), kind="stable")
    if not points.size:
        return points
    points = points[np.concatenate(([True], points[1:] != points[:-1]))]
    unit_starts = np.sort(start)
    at = np.minimum(np.searchsorted(unit_starts, points[:-1]), max(unit_starts.size - 1, 0))
    is_unit_start = unit_starts[at] == points[:-1] if unit_starts.size else np.zeros(points.size - 1, dtype=bool)
    return np.diff(points)[~is_unit_start]


def unitizing_alpha(
    length: int,
    section_edges: np.ndarray,
    units: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> float | None:
    """Krippendorff's unitizing alpha αU = 1 - sum_c D_o(c) / sum_c D_e(c).

    See :func:`unitizing_disagreements`. Undefined with fewer than two observers, an empty
    continuum, or no unit at all.
    """
    if len(units) < 2 or length <= 0:
        return None
    return alpha_of_disagreements(unitizing_disagreements(length, section_edges, units))


def alpha_of_disagreements(per_category: dict[int, UnitizingDisagreement]) -> float | None:
    """αU from :func:`unitizing_disagreements` (None where the expected disagreement is 0)."""
    expected = sum(item.expected for item in per_category.values())
    if expected <= 0:
        return None
    return float(1.0 - sum(item.observed for item in per_category.values()) / expected)
