"""Corpus-level agreement: every figure of DESIGN.md against reference libraries applied to
units, decisions and tokens built independently here from the records and curate.text."""

from __future__ import annotations

import warnings
from itertools import combinations

import krippendorff
import numpy as np
import pytest
import segeval
from agreement_corpora import LABELS, comparison_of, corpora, make_record
from hypothesis import HealthCheck, given, settings
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from curate.agreement import snippet_disagreement
from curate.agreement.service import compare_marks, rank_comparison
from curate.text import TextModel, line_starts

# ---------------------------------------------------------------- independent reference


def cut_points(text, *records):
    cuts = set(line_starts(text)[1:])
    for record in records:
        cuts |= set(record.story_starts)
    return sorted(cuts)


def masses(cuts, starts, length):
    indexes = [0] + [cuts.index(start) + 1 for start in sorted(starts)] + [len(cuts) + 1]
    return [after - before for before, after in zip(indexes, indexes[1:])]


def maximum_overlap_matching(a, b):
    """Size of a maximum one-to-one matching of same-label overlapping spans (scipy)."""
    if not a or not b:
        return 0
    weights = np.array([[int(x[0] < y[1] and y[0] < x[1] and x[2] == y[2]) for y in b] for x in a])
    rows, columns = linear_sum_assignment(-weights)
    return int(weights[rows, columns].sum())


def paragraph_kinds(text, record):
    """Each paragraph's boilerplate kind: the range covering most of it, if at least half."""
    kinds = []
    for paragraph in TextModel(text).paragraphs:
        best, kind = 0, "none"
        for item in record.boilerplate:
            covered = min(item.end, paragraph.end) - max(item.start, paragraph.start)
            if covered > best and 2 * covered >= paragraph.end - paragraph.start:
                best, kind = covered, item.kind
        kinds.append(kind)
    return kinds


def _kappa(a, b):
    if not a:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = cohen_kappa_score(a, b)
    return None if np.isnan(value) else float(value)


def token_labels(text, record):
    labels = []
    for start, _ in TextModel(text).tokens:
        label = 0
        for entity in record.entities:
            if entity.start <= start < entity.end:
                label = LABELS.index(entity.label) + 1
        labels.append(label)
    return labels


def close(value, expected):
    if expected is None or (isinstance(expected, float) and np.isnan(expected)):
        return value is None
    return value is not None and abs(value - expected) <= 1e-9


def reference_figures(texts, records):
    # Compared are annotators with a snippet another also did, and pairs that share one.
    compared_ids = {sid for sid in texts if sum(sid in own for own in records.values()) >= 2}
    names = sorted(name for name in records if compared_ids & set(records[name]))
    result = {"pairs": {}, "annotators": names}
    for a, b in combinations(names, 2):
        shared = [sid for sid in texts if sid in records[a] and sid in records[b]]
        if not shared:
            continue
        pk, wd, bs, dec_a, dec_b, tok_a, tok_b, kind_a, kind_b = [], [], [], [], [], [], [], [], []
        matches = count_a = count_b = overlap = 0
        per_label = {label: [0, 0, 0] for label in LABELS}
        for sid in shared:
            text, ra, rb = texts[sid], records[a][sid], records[b][sid]
            cuts = cut_points(text, ra, rb)
            ma, mb = masses(cuts, ra.story_starts, len(text)), masses(cuts, rb.story_starts, len(text))
            total = len(cuts) + 1
            window = segeval.compute_window_size(ma)
            if total > window:
                pk.append(float(segeval.pk(mb, ma)))
                wd.append(float(segeval.window_diff(mb, ma)))
            bs.append(1.0 if len(ma) == len(mb) == 1 else float(segeval.boundary_similarity(mb, ma)))
            dec_a += [int(c in ra.story_starts) for c in cuts]
            dec_b += [int(c in rb.story_starts) for c in cuts]
            ents_a = {(e.start, e.end, e.label) for e in ra.entities}
            ents_b = {(e.start, e.end, e.label) for e in rb.entities}
            matches += len(ents_a & ents_b)
            count_a += len(ents_a)
            count_b += len(ents_b)
            overlap += maximum_overlap_matching(sorted(ents_a), sorted(ents_b))
            for label in LABELS:
                own_a = {e for e in ents_a if e[2] == label}
                own_b = {e for e in ents_b if e[2] == label}
                per_label[label][0] += len(own_a & own_b)
                per_label[label][1] += len(own_a)
                per_label[label][2] += len(own_b)
            kind_a += paragraph_kinds(text, ra)
            kind_b += paragraph_kinds(text, rb)
            tok_a += token_labels(text, ra)
            tok_b += token_labels(text, rb)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kappa = cohen_kappa_score(dec_a, dec_b) if dec_a else None
            token_kappa = cohen_kappa_score(tok_a, tok_b) if tok_a else None
        result["pairs"][(a, b)] = {
            "n": len(shared),
            "pk": float(np.mean(pk)) if pk else None,
            "windowdiff": float(np.mean(wd)) if wd else None,
            "boundary_similarity": float(np.mean(bs)) if bs else None,
            "kappa": kappa,
            "precision": matches / count_b if count_b else None,
            "recall": matches / count_a if count_a else None,
            "f1": 2 * matches / (count_a + count_b) if count_a + count_b else 1.0,
            "token_kappa": token_kappa,
            "overlap_f1": 2 * overlap / (count_a + count_b) if count_a + count_b else 1.0,
            "per_label": {
                label: (m / nb if nb else None, m / na if na else None, 2 * m / (na + nb))
                for label, (m, na, nb) in per_label.items() if na or nb
            },
            "boilerplate_kappa": _kappa(kind_a, kind_b),
        }
    # Overall: units from every annotator who did the snippet; missing where one did not.
    compared = [sid for sid in texts if sum(sid in records[n] for n in names) >= 2]
    decision_rows = [[] for _ in names]
    token_rows = [[] for _ in names]
    everyone_table = []
    for sid in compared:
        text = texts[sid]
        did = [records[n].get(sid) for n in names]
        cuts = cut_points(text, *[r for r in did if r is not None])
        for row, record in zip(decision_rows, did):
            row += [np.nan if record is None else int(c in record.story_starts) for c in cuts]
        tokens = len(TextModel(text).tokens)
        for row, record in zip(token_rows, did):
            row += [np.nan] * tokens if record is None else token_labels(text, record)
        if all(r is not None for r in did):
            for c in cuts:
                ones = sum(c in r.story_starts for r in did)
                everyone_table.append([len(names) - ones, ones])
    result["alpha"] = _krippendorff(decision_rows)
    result["token_alpha"] = _krippendorff(token_rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fleiss = statsmodels_fleiss(np.array(everyone_table)) if everyone_table else None
    result["fleiss"] = None if fleiss is None or not np.isfinite(fleiss) else float(fleiss)
    return result


def _krippendorff(rows):
    data = np.array(rows, dtype=float)
    if data.size == 0:
        return None
    pairable = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    if len(set(pairable[~np.isnan(pairable)].tolist())) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def assert_matches_reference(texts, records):
    report = compare_marks(comparison_of(texts, records))
    expected = reference_figures(texts, records)
    assert report.annotators == expected["annotators"]
    assert [(pair.a, pair.b) for pair in report.entity_pairs] == list(expected["pairs"])
    assert close(report.boundary_alpha, expected["alpha"])
    assert close(report.boundary_fleiss_kappa, expected["fleiss"])
    assert close(report.entity_alpha, expected["token_alpha"])
    for boundary, entity in zip(report.boundary_pairs, report.entity_pairs):
        want = expected["pairs"][(boundary.a, boundary.b)]
        assert boundary.n == entity.n == want["n"]
        for name in ("pk", "windowdiff", "boundary_similarity", "kappa"):
            assert close(getattr(boundary, name), want[name]), name
        for name in ("precision", "recall", "f1", "token_kappa", "overlap_f1"):
            assert close(getattr(entity, name), want[name]), name
        assert entity.per_label.keys() == want["per_label"].keys()
        for label, scores in want["per_label"].items():
            assert all(close(got, expected) for got, expected in zip(entity.per_label[label], scores)), label
    for pair in report.boilerplate_pairs:
        assert close(pair.kappa, expected["pairs"][(pair.a, pair.b)]["boilerplate_kappa"])
    return report


# ---------------------------------------------------------------- edge cases of the issue

TEXT = "Council votes on the harbour.\nAna Lopez said the plan is late.\n\nPhoto: Ben Okafor\nLanport wins the cup.\nFans cheer in Northgate."
SECOND = TEXT.index("Ana")
PHOTO = TEXT.index("Photo")
LANPORT = TEXT.index("Lanport")
FANS = TEXT.index("Fans")
ENTITIES = ((SECOND, SECOND + 9, "PER"), (PHOTO + 7, PHOTO + 17, "PER"), (LANPORT, LANPORT + 7, "ORG"), (FANS + 14, FANS + 23, "LOC"))


def test_identical_annotations_agree_perfectly():
    texts = {"s1": TEXT, "s2": TEXT}
    records = {
        name: {
            "s1": make_record("s1", name, TEXT, starts=(LANPORT,), entities=ENTITIES, boilerplate=((PHOTO, PHOTO + 17, "credit"),)),
            "s2": make_record("s2", name, TEXT, starts=(SECOND, LANPORT), entities=ENTITIES[:2]),
        }
        for name in ("ana", "ben", "cy")
    }
    report = assert_matches_reference(texts, records)
    pair = report.to_json()["boundaries"]["pairs"][0]
    assert (pair["pk"], pair["windowdiff"], pair["boundary_similarity"], pair["kappa"]) == (0.0, 0.0, 1.0, 1.0)
    assert report.boundary_alpha == pytest.approx(1.0) and report.boundary_fleiss_kappa == pytest.approx(1.0)
    entity = report.to_json()["entities"]["pairs"][0]
    assert entity["precision"] == entity["recall"] == entity["f1"] == entity["overlap_f1"] == 1.0
    assert entity["token_kappa"] == pytest.approx(1.0)
    assert report.entity_alpha == pytest.approx(1.0) and report.entity_alpha_u == pytest.approx(1.0)
    assert report.boilerplate_pairs[0].kappa == pytest.approx(1.0)
    assert report.ranking == []


def test_no_boundaries_at_all_leaves_chance_corrected_figures_undefined():
    texts = {"s1": TEXT}
    records = {name: {"s1": make_record("s1", name, TEXT)} for name in ("ana", "ben")}
    report = assert_matches_reference(texts, records)
    boundaries = report.to_json()["boundaries"]
    assert boundaries["pairs"][0]["boundary_similarity"] == 1.0
    assert boundaries["pairs"][0]["pk"] == 0.0
    assert boundaries["pairs"][0]["kappa"] is None
    assert boundaries["alpha"] is None and boundaries["fleiss_kappa"] is None


def test_one_annotator_missing_snippets():
    texts = {f"s{i}": TEXT for i in range(4)}
    starts = {"ana": [(LANPORT,), (SECOND,), (), (LANPORT, FANS)], "ben": [(LANPORT,), (), (SECOND,), (FANS,)], "cy": [(LANPORT,), (SECOND,)]}
    records = {
        name: {f"s{i}": make_record(f"s{i}", name, TEXT, starts=own[i], entities=ENTITIES[: i + 1]) for i in range(len(own))}
        for name, own in starts.items()
    }
    report = assert_matches_reference(texts, records)
    assert [pair.n for pair in report.boundary_pairs] == [4, 2, 2]
    assert report.snippets == 4
    assert report.boundary_fleiss_kappa is not None  # over s0 and s1, which all three did


def test_empty_entity_sets():
    texts = {"s1": TEXT, "s2": TEXT}
    records = {
        "ana": {"s1": make_record("s1", "ana", TEXT), "s2": make_record("s2", "ana", TEXT)},
        "ben": {"s1": make_record("s1", "ben", TEXT), "s2": make_record("s2", "ben", TEXT)},
        "cy": {"s1": make_record("s1", "cy", TEXT, entities=ENTITIES[:1]), "s2": make_record("s2", "cy", TEXT)},
    }
    report = assert_matches_reference(texts, records)
    pairs = {(p["a"], p["b"]): p for p in report.to_json()["entities"]["pairs"]}
    both_empty = pairs[("ana", "ben")]
    assert both_empty["f1"] == 1.0 and both_empty["overlap_f1"] == 1.0
    assert both_empty["precision"] is None and both_empty["recall"] is None
    assert both_empty["token_kappa"] is None and both_empty["per_label"] == {}
    one_empty = pairs[("ana", "cy")]
    assert one_empty["precision"] == 0.0 and one_empty["recall"] is None and one_empty["f1"] == 0.0
    assert report.entity_alpha_u is not None and report.entity_alpha_u < 1.0


def test_story_start_inside_a_paragraph_adds_a_cut_point():
    inside = TEXT.index("said")
    texts = {"s1": TEXT}
    records = {
        "ana": {"s1": make_record("s1", "ana", TEXT, starts=(inside,))},
        "ben": {"s1": make_record("s1", "ben", TEXT, starts=(SECOND,))},
    }
    report = assert_matches_reference(texts, records)
    # Lines start at SECOND, PHOTO, LANPORT and FANS; "said" cuts SECOND's paragraph in two.
    cuts = [SECOND, inside, PHOTO, LANPORT, FANS]
    assert cut_points(TEXT, records["ana"]["s1"], records["ben"]["s1"]) == cuts
    reference, hypothesis = [2, 4], [1, 5]
    pair = report.boundary_pairs[0]
    assert pair.boundary_similarity == pytest.approx(float(segeval.boundary_similarity(hypothesis, reference)))
    assert pair.boundary_similarity == pytest.approx(0.5)  # a transposition by one unit
    assert pair.pk == pytest.approx(float(segeval.pk(hypothesis, reference)))


def test_per_label_confusion_and_overlap():
    texts = {"s1": TEXT}
    shifted = ((SECOND, SECOND + 3, "PER"), (PHOTO + 7, PHOTO + 17, "ORG"), (LANPORT, LANPORT + 7, "ORG"))
    records = {
        "ana": {"s1": make_record("s1", "ana", TEXT, entities=ENTITIES)},
        "ben": {"s1": make_record("s1", "ben", TEXT, entities=shifted)},
    }
    report = assert_matches_reference(texts, records)
    pair = report.entity_pairs[0]
    assert pair.f1 == pytest.approx(2 * 1 / 7)
    assert pair.overlap_f1 == pytest.approx(2 * 2 / 7)  # "Ana" overlaps "Ana Lopez"
    assert pair.per_label["ORG"] == (0.5, 1.0, pytest.approx(2 / 3))
    confusion = pair.confusion
    per, org, loc, none = 0, 1, 2, 3
    assert confusion[per, per] == 1 and confusion[per, org] == 1 and confusion[org, org] == 1
    assert confusion[loc, none] == 1 and confusion.sum() == 4


# ---------------------------------------------------------------- randomized corpora

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(corpora())
def test_random_corpora_equal_reference_libraries(corpus):
    texts, records = corpus
    assert_matches_reference(texts, records)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(corpora())
def test_ranking_scores_equal_snippet_disagreement(corpus):
    texts, records = corpus
    comparison = comparison_of(texts, records)
    for entry in rank_comparison(comparison):
        own = {name: records[name][entry.snippet_id] for name in entry.annotators}
        assert entry.score == pytest.approx(snippet_disagreement(own), abs=1e-12)
    scores = [entry.score for entry in rank_comparison(comparison)]
    assert scores == sorted(scores, reverse=True)


def test_snippet_disagreement_hand_made():
    ana = make_record("s1", "ana", TEXT, starts=(LANPORT,), entities=ENTITIES[:2])
    ben = make_record("s1", "ben", TEXT, starts=(LANPORT,), entities=ENTITIES[:1])
    # Decisions: the story start (agreed), Ana Lopez (agreed), Ben Okafor (only ana).
    assert snippet_disagreement({"ana": ana, "ben": ben}) == pytest.approx(1 / 3)
    assert snippet_disagreement({"ana": ana, "ben": ana}) == 0.0
    assert snippet_disagreement({"ana": ana}) == 0.0


def test_item_order_is_lexsort_by_start_end_choice():
    from curate.agreement.disagreement import item_order

    rng = np.random.default_rng(4)
    for _ in range(20):
        runs = []
        for _ in range(3):  # sorted runs, as each annotator's marks are, with ties across runs
            start = np.sort(rng.integers(0, 60, size=25))
            runs.append((start, start + rng.integers(0, 4, size=25), rng.integers(0, 3, size=25)))
        start, end, choice = (np.concatenate(column) for column in zip(*runs))
        assert item_order(start, end, choice).tolist() == np.lexsort((choice, end, start)).tolist()
    huge = np.array([2**61, 5], dtype=np.int64)  # too wide for one key: lexsort itself
    assert item_order(huge, huge + 3, np.array([1, 0])).tolist() == [1, 0]
