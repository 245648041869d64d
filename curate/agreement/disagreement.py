"""How much the annotators of one snippet disagree: the review queue's order.

The score of a snippet is the share of its decisions on which its annotators do not all
agree, counting decisions as :func:`curate.adjudicate.items` does (every story start, every
truncated story end, every boilerplate range and every entity span that any annotator marked;
an annotator who did not mark it chose "nothing"). 0.0 means full agreement (or nothing
marked at all), 1.0 means no decision is shared by everyone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from curate.adjudicate import items
from curate.agreement.marks import Marks, Texts
from curate.model import Annotation


def snippet_disagreement(records_by_annotator: Mapping[str, Annotation]) -> float:
    """Share of the decisions not shared by all of these records of one snippet (0.0 to 1.0);
    0.0 for fewer than two records."""
    if len(records_by_annotator) < 2:
        return 0.0
    decided = items(dict(records_by_annotator))
    if not decided:
        return 0.0
    return sum(not item.agreed for item in decided) / len(decided)


# Snippets whose decisions are counted at once: the joined and sorted columns of all
# annotators are as large as a share of this many snippets, not as the whole comparison
# (issue 19, item 5: a 1M-snippet comparison once held some 3 GB of them).
CHUNK_SNIPPETS = 50_000


def disagreement_counts(texts: Texts, marks: list[Marks], chunk_snippets: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per snippet, (decisions disagreed on, decisions) among the annotators who did it, the
    same counting as :func:`snippet_disagreement`, over all snippets at once.

    Decisions belong to one snippet, so they are counted share by share of
    ``chunk_snippets`` (default :data:`CHUNK_SNIPPETS`) snippets; the counts are the same
    whatever the shares."""
    snippets = len(texts)
    annotators_per_snippet = np.sum([m.done for m in marks], axis=0) if marks else np.zeros(snippets)
    disagreed = np.zeros(snippets, dtype=np.int64)
    total = np.zeros(snippets, dtype=np.int64)
    # Per kind of decision: (start, end, choice or None for all 0, snippet of each item) of one annotator.
    kinds = (
        lambda m: (m.story_starts, m.story_starts, None, m.snippets_of(texts, "story_starts")),
        lambda m: (m.truncated_ends, m.truncated_ends, None, texts.snippet_of(m.truncated_ends - 1)),
        lambda m: (m.boilerplate_start, m.boilerplate_end, m.boilerplate_kind, texts.snippet_of(m.boilerplate_start)),
        lambda m: (m.entity_start, m.entity_end, m.entity_label, m.snippets_of(texts, "entity_start")),
    )
    size = max(1, chunk_snippets or CHUNK_SNIPPETS)
    for kind in kinds:
        columns = [kind(m) for m in marks]
        if not columns:
            break
        # Records are held in snippet order, so each share's items are one slice of each
        # annotator's columns; should they not be, the kind is counted in one piece.
        in_order = all(_non_decreasing(snippet) for *_, snippet in columns)
        bounds = list(range(0, snippets, size)) + [snippets] if in_order and snippets > size else [0, snippets]
        for low, high in zip(bounds, bounds[1:]):
            parts = []
            for start, end, choice, snippet in columns:
                first, stop = np.searchsorted(snippet, [low, high]).tolist() if len(bounds) > 2 else (0, snippet.size)
                parts.append((
                    start[first:stop], end[first:stop],
                    choice[first:stop] if choice is not None else np.zeros(stop - first, dtype=start.dtype),
                    snippet[first:stop],
                ))
            _count_share(parts, annotators_per_snippet, disagreed[low:high], total[low:high], low)
    return disagreed, total


def _non_decreasing(values: np.ndarray) -> bool:
    return bool(values.size < 2 or (values[1:] >= values[:-1]).all())


def _count_share(parts: list[tuple[np.ndarray, ...]], annotators_per_snippet: np.ndarray, disagreed: np.ndarray, total: np.ndarray, low: int) -> None:
    """Add the decisions of ``parts`` (each annotator's start, end, choice and snippet
    columns, snippets from ``low`` on) to ``disagreed`` and ``total`` (views from ``low``)."""
    start, end, choice, snippet = (np.concatenate(column) for column in zip(*parts))
    if not start.size:
        return
    order = item_order(start, end, choice)
    sorted_start, sorted_end = start[order], end[order]
    new_item = np.concatenate(([True], (sorted_start[1:] != sorted_start[:-1]) | (sorted_end[1:] != sorted_end[:-1])))
    del sorted_start, sorted_end
    first = np.flatnonzero(new_item)
    last = np.concatenate((first[1:], [start.size])) - 1
    markers = last - first + 1
    first_at, last_at = order[first], order[last]
    del order
    owner = snippet[first_at]
    agreed = (markers == annotators_per_snippet[owner]) & (choice[first_at] == choice[last_at])
    owner = owner - low
    total += np.bincount(owner, minlength=total.size)
    disagreed += np.bincount(owner, weights=~agreed, minlength=total.size).astype(np.int64)


def item_order(start: np.ndarray, end: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """``np.lexsort((choice, end, start))``: by start, then end, then choice, ties in the given
    order. Non-negative values whose start, length and choice fit 62 bits together are sorted
    as one key by a stable sort, which merges the already sorted runs of each annotator."""
    if start.size and int(start.min()) >= 0 and int(choice.min()) >= 0 and int((end - start).min()) >= 0:
        length = np.subtract(end, start, dtype=np.int64)  # shifted below: 64 bits whatever the offsets'
        length_bits, choice_bits = int(length.max()).bit_length(), int(choice.max()).bit_length()
        if int(start.max()).bit_length() + length_bits + choice_bits <= 62:
            key = np.left_shift(start, length_bits + choice_bits, dtype=np.int64)  # one new array, the rest in place
            length <<= choice_bits
            key |= length
            del length
            key |= choice
            return np.argsort(key, kind="stable")
    return np.lexsort((choice, end, start))


def disagreement_scores(texts: Texts, marks: list[Marks]) -> np.ndarray:
    """Per snippet, :func:`snippet_disagreement` of its annotators' records (0.0 when fewer than two did it)."""
    disagreed, total = disagreement_counts(texts, marks)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(total > 0, disagreed / np.maximum(total, 1), 0.0)
    if marks:
        scores[np.sum([m.done for m in marks], axis=0) < 2] = 0.0
    return scores
