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


def disagreement_counts(texts: Texts, marks: list[Marks]) -> tuple[np.ndarray, np.ndarray]:
    """Per snippet, (decisions disagreed on, decisions) among the annotators who did it, the
    same counting as :func:`snippet_disagreement`, over all snippets at once."""
    snippets = len(texts)
    annotators_per_snippet = np.sum([m.done for m in marks], axis=0) if marks else np.zeros(snippets)
    disagreed = np.zeros(snippets, dtype=np.int64)
    total = np.zeros(snippets, dtype=np.int64)
    # Per kind of decision: (start, end, choice, snippet of each item) of one annotator.
    kinds = (
        lambda m: (m.story_starts, m.story_starts, np.zeros_like(m.story_starts), m.snippets_of(texts, "story_starts")),
        lambda m: (m.truncated_ends, m.truncated_ends, np.zeros_like(m.truncated_ends), texts.snippet_of(m.truncated_ends - 1)),
        lambda m: (m.boilerplate_start, m.boilerplate_end, m.boilerplate_kind, texts.snippet_of(m.boilerplate_start)),
        lambda m: (m.entity_start, m.entity_end, m.entity_label, m.snippets_of(texts, "entity_start")),
    )
    for columns in kinds:
        parts = [columns(m) for m in marks]
        if not parts:
            break
        start, end, choice, snippet = (np.concatenate(column) for column in zip(*parts))
        if not start.size:
            continue
        order = item_order(start, end, choice)
        sorted_start, sorted_end = start[order], end[order]
        new_item = np.concatenate(([True], (sorted_start[1:] != sorted_start[:-1]) | (sorted_end[1:] != sorted_end[:-1])))
        first = np.flatnonzero(new_item)
        last = np.concatenate((first[1:], [start.size])) - 1
        markers = last - first + 1
        first_at, last_at = order[first], order[last]
        owner = snippet[first_at]
        agreed = (markers == annotators_per_snippet[owner]) & (choice[first_at] == choice[last_at])
        total += np.bincount(owner, minlength=snippets)
        disagreed += np.bincount(owner, weights=~agreed, minlength=snippets).astype(np.int64)
    return disagreed, total


def item_order(start: np.ndarray, end: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """``np.lexsort((choice, end, start))``: by start, then end, then choice, ties in the given
    order. Non-negative values whose start, length and choice fit 62 bits together are sorted
    as one key by a stable sort, which merges the already sorted runs of each annotator."""
    if start.size and int(start.min()) >= 0 and int(choice.min()) >= 0 and int((end - start).min()) >= 0:
        length = end - start
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
