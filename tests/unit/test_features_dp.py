"""dp_segmentation with its counts' logarithms worked out once cuts where the plain dynamic programme cuts."""

from __future__ import annotations

import math
import random
from collections import Counter

from curate.suggest.features import dp_segmentation


def _reference(words: list[Counter[str]], max_units: int = 80, penalty_scale: float = 1.0) -> tuple[set[int], list[float]]:
    """The dynamic programme as first written (a logarithm per word and step); also the best costs."""
    count = len(words)
    vocabulary = len({word for counts in words for word in counts})
    total = sum(sum(counts.values()) for counts in words)
    if count < 2 or total == 0:
        return set(), []
    penalty = penalty_scale * math.log(total)
    best = [0.0] + [math.inf] * count
    back = [0] * (count + 1)
    for first in range(count):
        if best[first] == math.inf:
            continue
        counts: Counter[str] = Counter()
        size = 0
        entropy_term = 0.0
        for last in range(first, min(count, first + max_units)):
            for word, extra in words[last].items():
                old = counts[word]
                if old:
                    entropy_term -= old * math.log(old + 1)
                counts[word] = old + extra
                entropy_term += (old + extra) * math.log(old + extra + 1)
                size += extra
            cost = size * math.log(size + vocabulary) - entropy_term + penalty if size else penalty
            if best[first] + cost < best[last + 1]:
                best[last + 1] = best[first] + cost
                back[last + 1] = first
    starts = set()
    position = count
    while position > 0:
        position = back[position]
        if position > 0:
            starts.add(position)
    return starts, best


def test_the_segmentation_equals_the_plain_dynamic_programme_on_random_pages() -> None:
    chooser = random.Random(7)
    cut_somewhere = 0
    for _ in range(60):
        topics = [[f"t{topic}w{index}" for index in range(8)] for topic in range(chooser.randint(1, 4))]
        words = []
        for topic in topics:
            for _ in range(chooser.randint(1, 12)):
                words.append(Counter(chooser.choice(topic + ["common"]) for _ in range(chooser.randint(0, 9))))
        max_units = chooser.choice([3, 10, 80])
        expected, _ = _reference(words, max_units)
        assert dp_segmentation(words, max_units) == expected
        cut_somewhere += bool(expected)
    assert cut_somewhere > 20
