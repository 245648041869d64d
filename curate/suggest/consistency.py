"""Page-level consistency of proposed entities: one string, one label on a page.

A name is usually written several times in a story and keeps its label; when the tagger gives
the same string different labels on one page, the label it gave most often is likely the right
one for all of them ("Cofinec" a company throughout, not a company twice and a place once).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from curate.model import Entity


def one_label_per_string(text: str, entities: Sequence[Entity]) -> list[Entity]:
    """`entities` with every exact string given the label it has most often on the page.

    A tie between labels leaves that string's entities as they are. Order and spans are kept.
    """
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for entity in entities:
        votes[text[entity.start : entity.end]][entity.label] += 1
    result = []
    for entity in entities:
        ranked = votes[text[entity.start : entity.end]].most_common(2)
        if len(ranked) == 2 and ranked[0][1] > ranked[1][1] and ranked[0][0] != entity.label:
            entity = Entity(start=entity.start, end=entity.end, label=ranked[0][0])
        result.append(entity)
    return result
