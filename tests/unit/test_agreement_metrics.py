"""The pure agreement metrics against segeval, scikit-learn, statsmodels, krippendorff, nltk,
seqeval and scipy, to 1e-9, on hand-made and generated cases."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pytest
import segeval
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nltk.metrics.agreement import AnnotationTask
from scipy.optimize import linear_sum_assignment
from seqeval.metrics import f1_score, precision_score, recall_score
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from curate.agreement import metrics

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decisions_of(masses):
    return metrics.masses_to_decisions(list(masses))


def one(n_units, reference_masses, hypothesis_masses):
    return metrics.segmentation_scores(np.array([n_units]), decisions_of(reference_masses), decisions_of(hypothesis_masses))


def segeval_b(hypothesis, reference):
    if len(hypothesis) == 1 and len(reference) == 1:
        return 1.0  # segeval raises on no boundary at all; DESIGN.md defines B = 1.0
    return float(segeval.boundary_similarity(hypothesis, reference))


masses = st.integers(1, 30).flatmap(
    lambda total: st.tuples(
        st.just(total),
        st.lists(st.booleans(), min_size=total - 1, max_size=total - 1),
        st.lists(st.booleans(), min_size=total - 1, max_size=total - 1),
    )
)


def to_masses(decisions):
    result, current = [], 1
    for boundary in decisions:
        if boundary:
            result.append(current)
            current = 1
        else:
            current += 1
    return [*result, current]


# ---------------------------------------------------------------- segmentation


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ([2, 3, 6], [2, 2, 7]),
        ([5, 5], [5, 5]),
        ([1, 1, 1, 1, 1, 1], [6]),
        ([11], [3, 8]),
        ([4, 1, 4, 3, 2], [3, 2, 4, 3, 2]),
        ([13, 15, 1, 7], [13, 14, 2, 7]),
    ],
)
def test_hand_made_segmentations_equal_segeval(reference, hypothesis):
    total = sum(reference)
    scores = one(total, reference, hypothesis)
    assert scores.pk[0] == pytest.approx(float(segeval.pk(hypothesis, reference)), abs=1e-9)
    assert scores.windowdiff[0] == pytest.approx(float(segeval.window_diff(hypothesis, reference)), abs=1e-9)
    assert scores.boundary_similarity[0] == pytest.approx(segeval_b(hypothesis, reference), abs=1e-9)


def test_transposition_counts_half_as_segeval_does():
    # A boundary moved by one unit is a transposition: B = (0 + 0.5) / 1.
    scores = one(6, [3, 3], [4, 2])
    assert scores.boundary_similarity[0] == pytest.approx(0.5)
    assert float(segeval.boundary_similarity([4, 2], [3, 3])) == pytest.approx(0.5)


def test_window_longer_than_snippet_is_undefined_not_zero():
    scores = one(2, [2], [1, 1])
    assert np.isnan(scores.pk[0]) and np.isnan(scores.windowdiff[0])
    assert float(segeval.pk([1, 1], [2])) == 0.0  # what segeval would have reported instead


def test_no_boundaries_anywhere_is_full_similarity():
    scores = one(7, [7], [7])
    assert scores.boundary_similarity[0] == 1.0
    assert scores.pk[0] == 0.0 and scores.windowdiff[0] == 0.0


@SLOW
@given(masses)
def test_random_segmentations_equal_segeval(case):
    total, reference, hypothesis = case
    ref_masses, hyp_masses = to_masses(reference), to_masses(hypothesis)
    scores = metrics.segmentation_scores(np.array([total]), np.array(reference, dtype=bool), np.array(hypothesis, dtype=bool))
    assert scores.boundary_similarity[0] == pytest.approx(segeval_b(hyp_masses, ref_masses), abs=1e-9)
    window = int(metrics.segeval_window_size(np.array([total]), np.array([len(ref_masses)]))[0])
    assert window == segeval.compute_window_size(ref_masses)
    if total > window:
        assert scores.pk[0] == pytest.approx(float(segeval.pk(hyp_masses, ref_masses)), abs=1e-9)
        assert scores.windowdiff[0] == pytest.approx(float(segeval.window_diff(hyp_masses, ref_masses)), abs=1e-9)
    else:
        assert np.isnan(scores.pk[0]) and np.isnan(scores.windowdiff[0])


@SLOW
@given(st.lists(masses, min_size=1, max_size=6))
def test_batch_of_snippets_scores_each_on_its_own(cases):
    n_units = np.array([total for total, _, _ in cases])
    reference = np.array([flag for _, ref, _ in cases for flag in ref], dtype=bool)
    hypothesis = np.array([flag for _, _, hyp in cases for flag in hyp], dtype=bool)
    batch = metrics.segmentation_scores(n_units, reference, hypothesis)
    for index, (total, ref, hyp) in enumerate(cases):
        alone = metrics.segmentation_scores(np.array([total]), np.array(ref, dtype=bool), np.array(hyp, dtype=bool))
        for name in ("pk", "windowdiff", "boundary_similarity"):
            expected = getattr(alone, name)[0]
            got = getattr(batch, name)[index]
            assert (np.isnan(expected) and np.isnan(got)) or got == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------- coding coefficients


def nltk_task(codes):
    return AnnotationTask(data=[(f"c{row}", f"u{column}", int(value)) for row, line in enumerate(codes) for column, value in enumerate(line) if value >= 0])


def test_cohen_kappa_hand_made():
    a = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    b = np.array([0, 1, 1, 1, 2, 0, 0, 2])
    expected = cohen_kappa_score(a, b)
    assert metrics.cohen_kappa(a, b) == pytest.approx(expected, abs=1e-9)
    assert metrics.cohen_kappa(a, b) == pytest.approx(nltk_task([a, b]).kappa(), abs=1e-9)


def test_cohen_kappa_is_undefined_when_everything_is_one_category():
    assert metrics.cohen_kappa(np.zeros(5, int), np.zeros(5, int)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(cohen_kappa_score([0] * 5, [0] * 5))
    assert metrics.cohen_kappa(np.zeros(0, int), np.zeros(0, int)) is None


@FAST
@given(st.integers(2, 5).flatmap(lambda k: st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60)))
def test_cohen_kappa_equals_sklearn_and_nltk(pairs):
    a = np.array([x for x, _ in pairs])
    b = np.array([y for _, y in pairs])
    ours = metrics.cohen_kappa(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = cohen_kappa_score(a, b)
    if np.isnan(reference):
        assert ours is None
    else:
        assert ours == pytest.approx(reference, abs=1e-9)
        if len(set(a) | set(b)) > 1:
            assert ours == pytest.approx(nltk_task([a, b]).kappa(), abs=1e-9)


def test_fleiss_hand_made_equals_statsmodels():
    codes = np.array([[0, 1, 1, 0, 2, 2], [0, 1, 0, 0, 2, 1], [1, 1, 0, 0, 2, 2]])
    table = metrics.category_counts(codes, 3)
    assert metrics.fleiss_kappa(codes) == pytest.approx(statsmodels_fleiss(table), abs=1e-9)


@FAST
@given(st.integers(2, 5), st.integers(2, 4), st.data())
def test_fleiss_equals_statsmodels(raters, categories, data):
    units = data.draw(st.integers(1, 40))
    codes = np.array(data.draw(st.lists(st.lists(st.integers(0, categories - 1), min_size=units, max_size=units), min_size=raters, max_size=raters)))
    ours = metrics.fleiss_kappa(codes, categories)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = statsmodels_fleiss(metrics.category_counts(codes, categories))
    if ours is None:
        assert not np.isfinite(reference)
    else:
        assert ours == pytest.approx(reference, abs=1e-9)


def test_alpha_hand_made_equals_krippendorff_and_nltk():
    # Krippendorff (2011), nominal example with missing values.
    codes = np.array([
        [-1, -1, -1, -1, -1, 2, 3, 2, 1, 1, 2, 0, -1, -1, -1],
        [0, -1, 1, 0, 2, 2, 3, 2, -1, -1, -1, -1, -1, -1, -1],
        [-1, -1, 1, 0, 2, 3, 3, 2, 1, 1, 2, 0, 0, 2, 3],
    ])
    reference = krippendorff.alpha(reliability_data=np.where(codes < 0, np.nan, codes), level_of_measurement="nominal")
    assert metrics.nominal_alpha(codes) == pytest.approx(reference, abs=1e-9)
    assert metrics.nominal_alpha(codes) == pytest.approx(nltk_task(codes).alpha(), abs=1e-9)


@FAST
@given(st.integers(2, 4), st.integers(2, 4), st.data())
def test_alpha_equals_krippendorff_and_nltk(coders, categories, data):
    units = data.draw(st.integers(1, 30))
    codes = np.array(data.draw(st.lists(st.lists(st.integers(-1, categories - 1), min_size=units, max_size=units), min_size=coders, max_size=coders)))
    ours = metrics.nominal_alpha(codes, categories)
    pairable = codes[:, (codes >= 0).sum(axis=0) >= 2]
    values = set(pairable[pairable >= 0].tolist())
    if len(values) < 2:
        assert ours is None  # krippendorff raises, nltk returns a made-up 1
        return
    reference = krippendorff.alpha(reliability_data=np.where(codes < 0, np.nan, codes).astype(float), level_of_measurement="nominal", value_domain=list(range(categories)))
    assert ours == pytest.approx(reference, abs=1e-9)
    assert ours == pytest.approx(nltk_task(pairable).alpha(), abs=1e-9)


def test_alpha_with_many_coders_takes_the_general_path():
    rng = np.random.default_rng(5)
    codes = rng.integers(-1, 3, size=(12, 40))  # 4^12 value profiles: too many to enumerate
    reference = krippendorff.alpha(reliability_data=np.where(codes < 0, np.nan, codes).astype(float), level_of_measurement="nominal")
    assert metrics.nominal_alpha(codes, 3) == pytest.approx(reference, abs=1e-9)


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_profiles_in_parts_give_the_figures_of_the_codes(coders, categories, data):
    """Profiles of parts of the units, merged, give the floats of the codes themselves:
    nominal alpha bit for bit, Cohen's kappa of every pair on the units both coded, and the
    profiles of a few coders equal the profiles of their rows."""
    units = data.draw(st.integers(0, 40))
    codes = np.array(data.draw(st.lists(st.lists(st.integers(-1, categories - 1), min_size=units, max_size=units), min_size=coders, max_size=coders)), dtype=np.int64).reshape(coders, units)
    cuts = sorted(data.draw(st.lists(st.integers(0, units), max_size=3)))
    parts = [metrics.CodeProfiles.of(codes[:, low:high], categories) for low, high in zip([0, *cuts], [*cuts, units])]
    merged = metrics.CodeProfiles.merged(parts, coders)
    whole = metrics.CodeProfiles.of(codes, categories)
    assert merged.digits.tolist() == whole.digits.tolist() and merged.frequency.tolist() == whole.frequency.tolist()
    assert int(merged.frequency.sum()) == units
    assert metrics.alpha_of_profiles(merged, categories) == metrics.nominal_alpha(codes, categories)
    for first in range(coders):
        for second in range(coders):
            both = (codes[first] >= 0) & (codes[second] >= 0)
            assert metrics.kappa_of_joint(merged.joint(first, second)) == metrics.cohen_kappa(codes[first][both], codes[second][both])
    rows = sorted(set(data.draw(st.lists(st.integers(0, coders - 1), min_size=1, max_size=coders))))
    some = merged.of_raters(rows)
    direct = metrics.CodeProfiles.of(codes[rows], categories)
    assert some.digits.tolist() == direct.digits.tolist() and some.frequency.tolist() == direct.frequency.tolist()


def test_profiles_of_many_coders_take_the_general_path_in_the_same_order():
    rng = np.random.default_rng(9)
    codes = rng.integers(-1, 3, size=(12, 300))  # 4^12 combined values: too many to count by bincount
    profiles = metrics.CodeProfiles.of(codes, 3)
    assert profiles.frequency.sum() == 300 and len(profiles.frequency) < 300 or len(set(map(tuple, codes.T.tolist()))) == 300
    few = metrics.CodeProfiles.of(codes[:3], 3)  # the bincount path: same order as the general one
    assert few.digits.tolist() == metrics.CodeProfiles.aggregated(codes[:3].T + 1, np.ones(300, dtype=np.int64)).digits.tolist()
    reference = krippendorff.alpha(reliability_data=np.where(codes < 0, np.nan, codes).astype(float), level_of_measurement="nominal")
    assert metrics.alpha_of_profiles(profiles, 3) == pytest.approx(reference, abs=1e-9)


def test_profiles_mapped_merge_rows_made_equal():
    codes = np.array([[0, 1, 2, -1], [2, 1, 0, 0]])
    mapped = metrics.CodeProfiles.of(codes, 3).mapped(np.array([0, 1, 1, 3]))  # codes 0 and 1 become one
    assert mapped.digits.tolist() == [[0, 1], [1, 1], [3, 1], [1, 3]] and mapped.frequency.tolist() == [1, 1, 1, 1]
    merged = metrics.CodeProfiles.of(np.array([[0, 1], [0, 0]]), 2).mapped(np.array([0, 1, 1]))
    assert merged.digits.tolist() == [[1, 1]] and merged.frequency.tolist() == [2]


def test_alpha_of_identical_codes_is_one():
    codes = np.array([[0, 1, 1, 2, 0], [0, 1, 1, 2, 0]])
    assert metrics.nominal_alpha(codes) == pytest.approx(1.0)
    assert metrics.cohen_kappa(codes[0], codes[1]) == pytest.approx(1.0)


# ---------------------------------------------------------------- spans


def spans_strategy(length=40, labels=("PER", "ORG", "LOC")):
    """Flat sorted spans inside [0, length)."""
    cuts = st.lists(st.integers(0, length), min_size=0, max_size=12, unique=True).map(sorted)
    return cuts.flatmap(
        lambda points: st.lists(st.sampled_from(labels), min_size=len(points) // 2, max_size=len(points) // 2).map(
            lambda chosen: [(points[2 * i], points[2 * i + 1], label) for i, label in enumerate(chosen) if points[2 * i] < points[2 * i + 1]]
        )
    )


def arrays(spans):
    label_numbers = {"PER": 0, "ORG": 1, "LOC": 2}
    return (
        np.array([s for s, _, _ in spans], dtype=np.int64),
        np.array([e for _, e, _ in spans], dtype=np.int64),
        np.array([label_numbers[label] for _, _, label in spans], dtype=np.int64),
    )


def iob(spans, length=40):
    tags = ["O"] * length
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for position in range(start + 1, end):
            tags[position] = f"I-{label}"
    return tags


@FAST
@given(spans_strategy(), spans_strategy())
def test_exact_span_scores_equal_seqeval(a, b):
    matched_a, matched_b = metrics.exact_span_matches(*arrays(a), *arrays(b))
    assert matched_a.sum() == matched_b.sum() == len(set(a) & set(b))
    precision, recall, f1 = metrics.span_scores(int(matched_a.sum()), len(a), len(b))
    truth, guess = [iob(a)], [iob(b)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if b:
            assert precision == pytest.approx(precision_score(truth, guess, mode="strict", scheme=_iob2()), abs=1e-9)
        else:
            assert precision is None
        if a:
            assert recall == pytest.approx(recall_score(truth, guess, mode="strict", scheme=_iob2()), abs=1e-9)
        else:
            assert recall is None
        if a or b:
            assert f1 == pytest.approx(f1_score(truth, guess, mode="strict", scheme=_iob2()), abs=1e-9)
        else:
            assert f1 == 1.0


def _iob2():
    from seqeval.scheme import IOB2

    return IOB2


def maximum_matching_size(a, b):
    if not a or not b:
        return 0
    weights = np.array([[1 if x[0] < y[1] and y[0] < x[1] and x[2] == y[2] else 0 for y in b] for x in a])
    rows, columns = linear_sum_assignment(-weights)
    return int(weights[rows, columns].sum())


@FAST
@given(spans_strategy(), spans_strategy())
def test_overlap_matching_is_maximum(a, b):
    total = 0
    for label in ("PER", "ORG", "LOC"):
        own_a = [span for span in a if span[2] == label]
        own_b = [span for span in b if span[2] == label]
        start_a, end_a, _ = arrays(own_a)
        start_b, end_b, _ = arrays(own_b)
        pairs = metrics.one_to_one_overlaps(start_a, end_a, start_b, end_b)
        assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})
        assert all(own_a[i][0] < own_b[j][1] and own_b[j][0] < own_a[i][1] for i, j in pairs)
        total += len(pairs)
    assert total == maximum_matching_size(a, b)


@FAST
@given(spans_strategy(), spans_strategy())
def test_batch_matching_by_label_is_maximum(a, b):
    start_a, end_a, label_a = arrays(a)
    start_b, end_b, label_b = arrays(b)
    matched_a, matched_b = metrics.one_to_one_matching(start_a, end_a, start_b, end_b, label_a, label_b)
    assert len(set(matched_a.tolist())) == len(matched_a) == len(set(matched_b.tolist()))
    assert all(a[i][2] == b[j][2] and a[i][0] < b[j][1] and b[j][0] < a[i][1] for i, j in zip(matched_a, matched_b))
    assert len(matched_a) == maximum_matching_size(a, b)
    ignoring = [(s, e, "PER") for s, e, _ in a], [(s, e, "PER") for s, e, _ in b]
    assert len(metrics.one_to_one_matching(start_a, end_a, start_b, end_b)[0]) == maximum_matching_size(*ignoring)


@FAST
@given(spans_strategy(), spans_strategy())
def test_overlapping_pairs_lists_every_overlap(a, b):
    start_a, end_a, _ = arrays(a)
    start_b, end_b, _ = arrays(b)
    found = set(zip(*(index.tolist() for index in metrics.overlapping_pairs(start_a, end_a, start_b, end_b))))
    expected = {(i, j) for i, x in enumerate(a) for j, y in enumerate(b) if x[0] < y[1] and y[0] < x[1]}
    assert found == expected


# ---------------------------------------------------------------- unitizing alpha


def textbook_units():
    """Krippendorff (2004, p. 254): continuum 150..450, two observers, categories c (0), k (1)."""
    first = (np.array([225, 370, 180, 300]) - 150, np.array([295, 400, 240, 350]) - 150, np.array([0, 0, 1, 1]))
    second = (np.array([220, 355, 400, 180, 300]) - 150, np.array([300, 375, 420, 240, 350]) - 150, np.array([0, 0, 0, 1, 1]))
    return [first, second]


def test_unitizing_alpha_reproduces_krippendorffs_worked_example():
    per_category = metrics.unitizing_disagreements(300, np.array([], dtype=np.int64), textbook_units())
    # By hand: overlapping c units (225,70)/(220,80) -> 5^2+5^2 = 50; (370,30)/(355,20) -> 15^2+25^2 = 850;
    # (400,20) lies in the other observer's gap -> 20^2 = 400; both orders: 2 * 1300 over 2 * 1 * 300^2.
    assert per_category[0].observed == pytest.approx(2600 / 180000, abs=1e-12)
    # Expected: sum over c units of 4/3 (2l^3 - 3l^2 + l) + l^2 * sum over gaps >= l of (gap - l + 1):
    # l=70: 895160 + 4900*13; l=30: 68440 + 900*181; l=80: 1339840; l=20 (twice): 19760 + 400*247.
    numerator_c = 2 / 300 * (895160 + 4900 * 13 + 68440 + 900 * 181 + 1339840 + 2 * (19760 + 400 * 247))
    assert per_category[0].expected == pytest.approx(numerator_c / (600 * 599 - (70 * 69 + 30 * 29 + 80 * 79 + 2 * 20 * 19)), abs=1e-12)
    assert per_category[1].observed == 0.0
    numerator_k = 2 / 300 * (2 * (421260 + 3600 * 84) + 2 * (242550 + 2500 * 124))
    assert per_category[1].expected == pytest.approx(numerator_k / (600 * 599 - 2 * (60 * 59 + 50 * 49)), abs=1e-12)
    # The book's rounded figures: D_o(c) .0144, D_e(c) .0532, D_e(k) .0490, alpha_c .7286.
    assert round(per_category[0].observed, 4) == 0.0144
    assert round(per_category[0].expected, 4) == 0.0532
    assert round(per_category[1].expected, 4) == 0.0490
    assert round(1 - per_category[0].observed / per_category[0].expected, 3) == 0.729
    alpha = metrics.unitizing_alpha(300, np.array([], dtype=np.int64), textbook_units())
    assert alpha == pytest.approx(1 - 2600 / 180000 / (per_category[0].expected + per_category[1].expected), abs=1e-12)


unitizations = st.lists(st.tuples(st.integers(0, 59), st.integers(1, 12), st.integers(0, 2)), max_size=8).map(
    lambda raw: _flat_units(raw)
)


def _flat_units(raw):
    taken: list[tuple[int, int, int]] = []
    for start, length, category in raw:
        end = min(start + length, 60)
        if all(not (s < end and start < e) for s, e, c in taken if c == category):
            taken.append((start, end, category))
    taken.sort()
    return (
        np.array([s for s, _, _ in taken], dtype=np.int64),
        np.array([e for _, e, _ in taken], dtype=np.int64),
        np.array([c for _, _, c in taken], dtype=np.int64),
    )


@FAST
@given(unitizations, unitizations, unitizations)
def test_unitizing_alpha_properties(first, second, third):
    edges = np.array([20, 40])  # three snippets of 20 characters: units must not cross them
    units = [tuple(part[keep] for part in unit) for unit in (first, second, third) for keep in [_inside_sections(unit, edges)]]
    alpha = metrics.unitizing_alpha(60, edges, units)
    identical = metrics.unitizing_alpha(60, edges, [units[0], units[0]])
    if units[0][0].size:
        assert identical == pytest.approx(1.0)
    else:
        assert identical is None  # no unit at all: nothing to agree on
    if alpha is not None:
        assert alpha <= 1.0 + 1e-12
        # Observers are exchangeable.
        assert metrics.unitizing_alpha(60, edges, [units[2], units[0], units[1]]) == pytest.approx(alpha, abs=1e-9)


def _inside_sections(unit, edges):
    start, end, _ = unit
    section_of_start = np.searchsorted(edges, start, side="right")
    section_of_last = np.searchsorted(edges, end - 1, side="right")
    return section_of_start == section_of_last


def test_unitizing_alpha_drops_when_one_observer_misses_units():
    full = (np.array([2, 10]), np.array([6, 14]), np.array([0, 0]))
    missing = (np.array([2]), np.array([6]), np.array([0]))
    shifted = (np.array([3, 10]), np.array([6, 14]), np.array([0, 0]))
    assert metrics.unitizing_alpha(20, np.array([]), [full, full]) == pytest.approx(1.0)
    partial = metrics.unitizing_alpha(20, np.array([]), [full, missing])
    slight = metrics.unitizing_alpha(20, np.array([]), [full, shifted])
    assert partial < slight < 1.0


def test_unitizing_alpha_of_disjoint_units_is_below_zero_or_none():
    first = (np.array([0]), np.array([5]), np.array([0]))
    second = (np.array([10]), np.array([15]), np.array([0]))
    assert metrics.unitizing_alpha(20, np.array([]), [first, second]) < 0


def _gap_lengths_by_walking(length, units, edges):
    """Gaps cut at edges, one character at a time: the runs of characters outside every unit."""
    inside = np.zeros(length, dtype=bool)
    for start, end in units:
        inside[start:end] = True
    cuts = set(edges.tolist())
    gaps, run = [], 0
    for position in range(length):
        if position in cuts and run:
            gaps.append(run)
            run = 0
        if inside[position]:
            if run:
                gaps.append(run)
            run = 0
        else:
            run += 1
    if run:
        gaps.append(run)
    return sorted(gaps)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=12, unique=True), st.lists(st.integers(min_value=1, max_value=39), max_size=5, unique=True))
def test_gap_lengths_are_the_runs_outside_units_cut_at_edges(points, inner_edges):
    # Units from sorted distinct points taken in pairs: sorted, not overlapping, maybe touching.
    points = sorted(points)
    units = [(start, end) for start, end in zip(points[0::2], points[1::2])]
    edges = np.array(sorted({0, 40, *(edge for edge in inner_edges if not any(start < edge < end for start, end in units))}), dtype=np.int64)
    start = np.array([start for start, _ in units], dtype=np.int64)
    end = np.array([end for _, end in units], dtype=np.int64)
    assert sorted(metrics._gap_lengths(start, end, edges).tolist()) == _gap_lengths_by_walking(40, units, edges)
    assert sorted(metrics._gap_lengths_by_points(start, end, edges).tolist()) == _gap_lengths_by_walking(40, units, edges)
    # An edge inside a unit (never so for entities, which lie in one snippet): cut at every point.
    any_edges = np.array(sorted({0, 40, *inner_edges}), dtype=np.int64)
    assert sorted(metrics._gap_lengths(start, end, any_edges).tolist()) == sorted(metrics._gap_lengths_by_points(start, end, any_edges).tolist())


def test_sorted_lengths_count_or_sort_to_the_same_order():
    rng = np.random.default_rng(3)
    for lengths in (rng.integers(1, 50, size=500), rng.integers(1, 10**9, size=50), np.array([7], dtype=np.int64), np.zeros(0, dtype=np.int64)):
        assert metrics._sorted_lengths(lengths).tolist() == np.sort(lengths).tolist()
