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
    kinds = (
        lambda m: (m.story_starts, m.story_starts, np.zeros_like(m.story_starts), m.story_starts),
        lambda m: (m.truncated_ends, m.truncated_ends, np.zeros_like(m.truncated_ends), m.truncated_ends - 1),
        lambda m: (m.boilerplate_start, m.boilerplate_end, m.boilerplate_kind, m.boilerplate_start),
        lambda m: (m.entity_start, m.entity_end, m.entity_label, m.entity_start),
    )
    for columns in kinds:
        parts = [columns(m) for m in marks]
        if not parts:
            break
        start, end, choice, anchor = (np.concatenate(column) for column in zip(*parts))
        if not start.size:
            continue
        order = np.lexsort((choice, end, start))
        start, end, choice, anchor = start[order], end[order], choice[order], anchor[order]
        new_item = np.concatenate(([True], (start[1:] != start[:-1]) | (end[1:] != end[:-1])))
        first = np.flatnonzero(new_item)
        last = np.concatenate((first[1:], [start.size])) - 1
        markers = last - first + 1
        owner = texts.snippet_of(anchor[first])
        agreed = (markers == annotators_per_snippet[owner]) & (choice[first] == choice[last])
        total += np.bincount(owner, minlength=snippets)
        disagreed += np.bincount(owner, weights=~agreed, minlength=snippets).astype(np.int64)
    return disagreed, total


def disagreement_scores(texts: Texts, marks: list[Marks]) -> np.ndarray:
    """Per snippet, :func:`snippet_disagreement` of its annotators' records (0.0 when fewer than two did it)."""
    disagreed, total = disagreement_counts(texts, marks)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(total > 0, disagreed / np.maximum(total, 1), 0.0)
    if marks:
        scores[np.sum([m.done for m in marks], axis=0) < 2] = 0.0
    return scores
