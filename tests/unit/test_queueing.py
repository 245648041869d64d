"""Queue orders (curate.queueing) and the annotation desk working through them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curate.annotating import AnnotatorDesk, Place, write_place
from curate.queueing import index_of, ordered, queue_rows
from curate.store import Corpus, CorpusLayout
from curate.suggest.uncertainty import ScoreFile

NAN = np.nan


def test_corpus_order_is_the_positions_as_they_are() -> None:
    positions = np.array([0, 2, 5])
    assert ordered(positions, "corpus", np.array([0.1, 0.2, 0.9, 0.0, 0.0, 0.5])).tolist() == [0, 2, 5]


def test_uncertainty_order_highest_first_ties_by_position_unscored_last() -> None:
    scores = np.array([0.2, NAN, 0.9, 0.2, 0.5, NAN], dtype=np.float32)
    positions = np.arange(8)  # 6 and 7 lie past the scores (snippets ingested since)
    assert ordered(positions, "uncertainty", scores).tolist() == [2, 4, 0, 3, 1, 5, 6, 7]
    assert ordered(positions, "uncertainty", None).tolist() == list(range(8))  # no scores file: corpus order
    assert ordered(np.array([], dtype=np.int64), "uncertainty", scores).tolist() == []


def test_random_order_is_a_seeded_shuffle() -> None:
    positions = np.arange(50)
    first = ordered(positions, "random", seed=3)
    assert sorted(first.tolist()) == list(range(50)) and first.tolist() != list(range(50))
    assert ordered(positions, "random", seed=3).tolist() == first.tolist()
    assert ordered(positions, "random", seed=4).tolist() != first.tolist()


def test_bad_order_is_refused() -> None:
    with pytest.raises(ValueError, match="--order must be one of corpus, uncertainty, random, not 'best'"):
        ordered(np.arange(3), "best")


def test_index_of() -> None:
    assert index_of(np.array([5, 1, 3]), 3) == 2
    assert index_of(np.array([5, 1, 3]), 4) is None


@pytest.fixture
def scored_corpus(tmp_path):
    from curate.ingest import ingest

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"s{index}", "text": f"Snippet {index} text."}) + "\n" for index in range(5)))
    ingest([source], tmp_path / "c")
    scores = ScoreFile(CorpusLayout(tmp_path / "c").uncertainty_scores, 5)
    for position, score in ((0, 0.1), (1, 0.7), (2, 0.3), (3, 0.9)):  # s4 has no score
        scores.set(position, score, "model:test")
    scores.save()
    return tmp_path / "c"


def test_desk_works_through_the_uncertainty_order(scored_corpus) -> None:
    desk = AnnotatorDesk.open(scored_corpus, "ana", "todo", "uncertainty")
    try:
        write_place(desk.corpus.layout.place("ana"), Place("s2", 0))  # the last place does not decide where it opens
        desk.start_at()
        assert desk.queue.tolist() == [3, 1, 2, 0, 4] and desk.position == 3
        assert desk.step(1) and desk.position == 1
        desk.go_to_position(4)  # in the queue: go there
        assert desk.index == 4
        desk.set_queue("todo", keep_position=2)
        assert desk.position == 2 and desk.queue.tolist() == [3, 1, 2, 0, 4]
        desk.set_queue("done")  # empty queue; going to a snippet adds it
        desk.go_to_position(1)
        assert desk.queue.tolist() == [1] and desk.position == 1
    finally:
        desk.close()
    corpus_order = AnnotatorDesk.open(scored_corpus, "ana")
    try:
        corpus_order.start_at()
        assert corpus_order.queue.tolist() == [0, 1, 2, 3, 4] and corpus_order.position == 2  # in corpus order, the last place
    finally:
        corpus_order.close()


def test_queue_rows_carry_scores_and_statuses(scored_corpus) -> None:
    with Corpus.open(scored_corpus) as corpus:
        rows = queue_rows(corpus, "ana", "all", "uncertainty")
        assert [(row.rank, row.snippet_id, row.score) for row in rows] == [(1, "s3", 0.9), (2, "s1", 0.7), (3, "s2", 0.3), (4, "s0", 0.1), (5, "s4", None)]
        assert [row.snippet_id for row in queue_rows(corpus, "ana", "all", "uncertainty", limit=2)] == ["s3", "s1"]
        assert rows[0].as_json() == {"rank": 1, "position": 3, "id": "s3", "score": 0.9, "status": None}
