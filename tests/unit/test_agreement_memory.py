"""Issue 19, item 5: the comparing work holds a share of the snippets (or one label's
entities) at a time, and reports exactly what it reported in one piece."""

from __future__ import annotations

import random
import tracemalloc

import numpy as np
import pytest
from agreement_corpora import LABELS, comparison_of, corpora
from hypothesis import HealthCheck, given, settings

from curate.agreement import compare, disagreement, metrics
from curate.agreement.marks import Marks, Texts, Vocabulary
from curate.agreement.memory import release_free_memory
from curate.agreement.service import Comparison, compare_marks


def synthetic_comparison(snippets: int, annotators: int = 3, seed: int = 5) -> Comparison:
    """Snippets of a few lines with entities every few words; annotators who disagree now and then."""
    rng = random.Random(seed)
    texts, truths = [], []
    for _ in range(snippets):
        lines, entities, offset = [], [], 0
        for _ in range(rng.randint(2, 5)):
            words, position = [], offset
            for _ in range(rng.randint(5, 12)):
                word = rng.choice(["Ana Lopez", "the", "plan", "Lanport", "said", "late"])
                if word[0].isupper():
                    entities.append((position, position + len(word), rng.choice(LABELS)))
                words.append(word)
                position += len(word) + 1
            line = " ".join(words)
            lines.append(line)
            offset += len(line) + 1
        texts.append("\n".join(lines))
        truths.append(entities)
    ids = [f"s{number}" for number in range(snippets)]
    layout = Texts.from_texts(ids, texts)
    labels, kinds = Vocabulary(LABELS), Vocabulary(["caption"], first_number=1)
    marks = []
    for number in range(annotators):
        records = {}
        for index, (text, entities) in enumerate(zip(texts, truths)):
            if rng.random() < 0.1:
                continue
            own = [(s, e, rng.choice(LABELS) if rng.random() < 0.2 else label) for s, e, label in entities if rng.random() > 0.1]
            records[index] = {
                "snippet_id": ids[index], "annotator": f"a{number}", "status": "done",
                "stories": [{"start": 0, "end": len(text), "truncated": False}],
                "entities": [{"start": s, "end": e, "label": label} for s, e, label in own],
                "boilerplate": [],
            }
        marks.append(Marks.from_records(f"a{number}", layout, records, labels, kinds))
    return Comparison(np.arange(snippets), layout, marks, labels, kinds)


def full_repr(report) -> str:
    return repr(report) + repr([pair.confusion.tolist() for pair in report.entity_pairs])


def in_shares(comparison: Comparison, size: int, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(compare, "CHUNK_SNIPPETS", size)
        patch.setattr(disagreement, "CHUNK_SNIPPETS", size)
        return full_repr(compare_marks(comparison, processes=1))


def test_shares_of_any_size_report_what_one_piece_reports(monkeypatch):
    comparison = synthetic_comparison(300)
    whole = in_shares(comparison, 10**9, monkeypatch)
    assert in_shares(comparison, 1, monkeypatch) == whole
    assert in_shares(comparison, 37, monkeypatch) == whole


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(corpora())
def test_random_corpora_in_shares_of_one_snippet(monkeypatch, corpus):
    comparison = comparison_of(*corpus)
    assert in_shares(comparison, 1, monkeypatch) == in_shares(comparison, 10**9, monkeypatch)


def test_overlapping_spans_are_compared_in_one_piece(monkeypatch):
    """Nested entities (not flat: records read from a journal are not validated again) make
    no share boundary safe, so the pair is compared whole."""
    text = "Ana Lopez said the plan is late"
    ids = [f"s{n}" for n in range(4)]
    layout = Texts.from_texts(ids, [text] * 4)
    labels, kinds = Vocabulary(LABELS), Vocabulary(["caption"], first_number=1)
    marks = [
        Marks.from_records(name, layout, {index: {
            "snippet_id": sid, "annotator": name, "status": "done", "boilerplate": [],
            "stories": [{"start": 0, "end": len(text), "truncated": False}],
            "entities": [{"start": 0, "end": 9, "label": "PER"}, {"start": 4, "end": 9, "label": label}, {"start": 19, "end": 23, "label": "ORG"}],
        } for index, sid in enumerate(ids)}, labels, kinds)
        for name, label in (("ana", "PER"), ("ben", "ORG"))
    ]
    comparison = Comparison(np.arange(4), layout, marks, labels, kinds)
    assert compare._span_shares(layout, marks[0], marks[1], 1) is None
    assert in_shares(comparison, 1, monkeypatch) == in_shares(comparison, 10**9, monkeypatch)


def peak_bytes(function, *arguments) -> int:
    tracemalloc.start()
    try:
        function(*arguments)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ranking_pairs_and_boundaries_hold_one_share_at_a_time():
    comparison = synthetic_comparison(2_000)
    texts, marks = comparison.texts, comparison.marks
    for mark in marks:  # the snippets of every span, as reading leaves them
        mark.snippets_of(texts, "entity_start")
        mark.snippets_of(texts, "story_starts")
    joint = np.zeros((1, 1), dtype=np.int64)
    whole = peak_bytes(disagreement.disagreement_counts, texts, marks, 10**9)
    assert peak_bytes(disagreement.disagreement_counts, texts, marks, 100) < whole / 3
    whole = peak_bytes(compare.entity_pair, texts, marks[0], marks[1], comparison.labels, joint, 10**9)
    assert peak_bytes(compare.entity_pair, texts, marks[0], marks[1], comparison.labels, joint, 100) < whole / 3
    whole = peak_bytes(compare.boundary_pair, texts, marks[0], marks[1], 10**9)
    assert peak_bytes(compare.boundary_pair, texts, marks[0], marks[1], 100) < whole / 3
    whole = peak_bytes(compare.boundary_overall, texts, marks, 10**9)
    assert peak_bytes(compare.boundary_overall, texts, marks, 100) < whole / 3


def test_unitizing_alpha_takes_one_label_at_a_time():
    comparison = synthetic_comparison(200)
    everyone = np.array([m.done for m in comparison.marks]).all(axis=0)
    asked = []
    real = metrics.unitizing_disagreements_by_category

    def recording(length, edges, observers, categories, units_of):
        def own(category):
            asked.append(category)
            return units_of(category)
        return real(length, edges, observers, categories, own)

    metrics.unitizing_disagreements_by_category = recording
    try:
        _, alpha_u = compare.entity_overall(comparison.texts, comparison.marks, len(LABELS), compare.token_profiles(comparison.texts, comparison.marks, len(LABELS)))
    finally:
        metrics.unitizing_disagreements_by_category = real
    assert asked == sorted(set(asked)) and len(asked) == len(LABELS)
    # The same figure as all labels' units given at once.
    texts = comparison.texts
    lengths = texts.lengths[everyone]
    shift_of = np.zeros(len(texts), dtype=np.int64)
    shift_of[everyone] = texts.base[everyone] - np.concatenate(([0], np.cumsum(lengths)))[:-1]
    units = []
    for mark in comparison.marks:
        snippet = mark.snippets_of(texts, "entity_start")
        keep = everyone[snippet]
        offset = shift_of[snippet[keep]]
        units.append((mark.entity_start[keep] - offset, mark.entity_end[keep] - offset, mark.entity_label[keep]))
    assert alpha_u == metrics.unitizing_alpha(int(lengths.sum()), np.cumsum(lengths)[:-1], units)


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1024


def test_freed_heap_arrays_go_back_to_the_system():
    """Many small arrays freed in the middle of the C heap stay resident until released."""
    arrays = [np.ones(8_000) for _ in range(3_000)]  # 64 KB each, some 190 MB in all
    keep = arrays[-1]
    del arrays
    before = resident_mb()
    assert release_free_memory()
    assert resident_mb() < before - 100
    assert keep.sum() == 8_000


def test_entity_offsets_are_held_in_32_bits_and_ordered_as_64():
    comparison = synthetic_comparison(50)
    assert all(mark.entity_start.dtype == np.int32 and mark.entity_end.dtype == np.int32 for mark in comparison.marks)
    # Long spans with large choices: length << choice bits needs more than 32 bits.
    start = np.array([5, 5, 0, 7], dtype=np.int32)
    end = np.array([2**21, 2**21 + 3, 2**21, 9], dtype=np.int32)
    choice = np.array([2**14, 3, 2**14 - 1, 0], dtype=np.int16)
    expected = np.lexsort((choice.astype(np.int64), end.astype(np.int64), start.astype(np.int64)))
    assert disagreement.item_order(start, end, choice).tolist() == expected.tolist()
