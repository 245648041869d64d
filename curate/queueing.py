"""The order an annotator's queue is worked through: corpus order, most uncertain first, or a
seeded shuffle; and the queue as `curate queue` lists it.

UI-free and model-free: the uncertainty order reads the scores `curate suggest` stored
(curate.suggest.uncertainty, `.curate/uncertainty.npz`), so ordering a million snippets is a
sort of one array. Snippets without a score (never suggested, or suggested before scores
existed) come after every scored one, in corpus order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORDERS: tuple[str, ...] = ("corpus", "uncertainty", "random")
DEFAULT_ORDER = "corpus"


def check_order(order: str) -> str:
    if order not in ORDERS:
        raise ValueError(f"--order must be one of {', '.join(ORDERS)}, not {order!r}")
    return order


def ordered(positions: np.ndarray, order: str, scores: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """`positions` (sorted corpus positions) in `order`.

    "uncertainty": highest score first, ties and unscored (NaN, or past the end of `scores`)
    snippets in corpus order, the unscored after every scored one. "random": a shuffle drawn
    from `seed`, the same for the same seed and queue.
    """
    check_order(order)
    positions = np.asarray(positions, dtype=np.int64)
    if order == "corpus" or positions.size == 0:
        return positions
    if order == "random":
        return np.random.default_rng(seed).permutation(positions)
    values = position_scores(positions, scores)
    known = ~np.isnan(values)
    # lexsort sorts by the last key first: scored before unscored, then by score, then by position
    keys = (positions, -np.where(known, values, 0.0), ~known)
    return positions[np.lexsort(keys)]


def position_scores(positions: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    """The score of each position (NaN where there is none)."""
    values = np.full(len(positions), np.nan, dtype=np.float64)
    if scores is not None and len(positions):
        inside = positions < len(scores)
        values[inside] = scores[positions[inside]]
    return values


def index_of(queue: np.ndarray, position: int) -> int | None:
    """Where `position` is in a queue in any order, or None."""
    found = np.flatnonzero(np.asarray(queue) == position)
    return int(found[0]) if found.size else None


@dataclass(frozen=True)
class QueueRow:
    rank: int
    position: int
    snippet_id: str
    score: float | None
    status: str | None

    def as_json(self) -> dict:
        return {"rank": self.rank, "position": self.position, "id": self.snippet_id, "score": self.score, "status": self.status}


def queue_rows(corpus, annotator: str, queue: str = "todo", order: str = DEFAULT_ORDER, seed: int = 0, limit: int | None = None, progress=None, warn=None) -> list[QueueRow]:
    """The annotator's queue as `curate annotate --queue QUEUE --order ORDER` works through it,
    with each snippet's uncertainty score (None: not scored). Reads the journal (read-only),
    the assignment and the scores file; no model runs. `progress(done, total)` is told as the ids
    are read; `warn(message)` when the scores file is there but unreadable (it is then ignored)."""
    from curate.annotating import queue_positions
    from curate.assign import assigned_positions, check_in_team
    from curate.suggest.uncertainty import read_scores

    check_order(order)
    assignment = check_in_team(corpus, annotator)
    assigned = None if assignment is None else assigned_positions(corpus, assignment, annotator)
    scores = read_scores(corpus, warn)
    with corpus.journal(annotator) as journal:
        positions = ordered(queue_positions(journal, queue, assigned), order, scores, seed)
        if limit is not None:
            positions = positions[:limit]
        values = position_scores(positions, scores)
        rows = []
        for rank, (position, value) in enumerate(zip(positions.tolist(), values.tolist()), start=1):
            rows.append(QueueRow(rank, position, corpus.snippet_id(position), None if np.isnan(value) else round(float(value), 6), journal.status_of(position)))
            if progress is not None and rank % 1000 == 0:
                progress(rank, len(positions))
    if progress is not None:
        progress(len(rows), len(rows))
    return rows
