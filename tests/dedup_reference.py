"""The in-memory near-duplicate clustering `curate.dedup` had before it streamed (every story text
in a list, every signature in one array, a Python union-find over every story), kept as the
reference the streamed clustering must equal: same clusters, members, similarities and order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from curate.dedup import (
    DEFAULT_THRESHOLD,
    ESTIMATE_SURE,
    NUM_PERM,
    SHINGLE_WORDS,
    Cluster,
    StoryRef,
    _best_ranges,
    _UnionFind,
    bands,
    candidate_pairs,
    hashed_shingles,
    signatures,
)

_BATCH = 250
_PAIR_BLOCK = 20_000


def reference_corpus_stories(corpus) -> list[StoryRef]:
    stories = []
    for position, ranges, _ in _best_ranges(corpus):
        snippet = corpus.snippet(position)  # the text as pydantic reads it, not dedup's own read
        for start, end in ranges or [(0, len(snippet.text))]:
            stories.append(StoryRef(snippet.id, start, end, snippet.text[start:end]))
    return stories


def _verified(texts: Sequence[str], pairs: np.ndarray, size: int) -> Iterable[tuple[float, int, int]]:
    for block in range(0, len(pairs), _PAIR_BLOCK):
        chunk = pairs[block : block + _PAIR_BLOCK]
        sets: dict[int, set[int]] = {}
        wanted = np.unique(chunk).tolist()
        for first in range(0, len(wanted), _BATCH):
            batch = wanted[first : first + _BATCH]
            hashed, starts, _ = hashed_shingles([texts[index] for index in batch], size)
            hashed = hashed.tolist()
            for number, index in enumerate(batch):
                sets[index] = set(hashed[starts[number] : starts[number + 1]])
        for first, second in chunk.tolist():
            one, two = sets[first], sets[second]
            shared = len(one & two)
            yield shared / (len(one) + len(two) - shared), first, second


def reference_cluster_stories(stories: Sequence[StoryRef], threshold: float = DEFAULT_THRESHOLD, *, size: int = SHINGLE_WORDS, num_perm: int = NUM_PERM) -> list[Cluster]:
    texts = [story.text for story in stories]
    signature, keys = signatures(texts, size, num_perm)
    links = _UnionFind(len(stories))
    lowest: dict[int, float] = {}
    first_of_key: dict[bytes, int] = {}
    representatives: list[int] = []
    involved: set[int] = set()
    for index, key in enumerate(keys.tolist()):
        if not key:  # no words
            continue
        twin = first_of_key.setdefault(key, index)
        if twin != index:
            links.union(twin, index)
            lowest[index] = 1.0
            involved.update((twin, index))
        else:
            representatives.append(index)
    chosen = np.asarray(representatives, dtype=np.int64)
    pairs = chosen[candidate_pairs(signature, *bands(threshold, num_perm), among=chosen)] if len(chosen) else np.zeros((0, 2), dtype=np.int64)
    estimate = (signature[pairs[:, 0]] == signature[pairs[:, 1]]).mean(axis=1) if len(pairs) else np.zeros(0)
    sure = estimate >= threshold + ESTIMATE_SURE
    unsure = ~sure & (estimate >= threshold - ESTIMATE_SURE - 0.1)
    linked = [(float(value), first, second) for value, (first, second) in zip(estimate[sure].tolist(), pairs[sure].tolist())]
    linked += [found for found in _verified(texts, pairs[unsure], size) if found[0] >= threshold]
    for similarity, first, second in linked:
        links.union(first, second)
        lowest[second] = min(lowest.get(second, 1.0), similarity)
        involved.update((first, second))
    groups: dict[int, list[int]] = {}
    for index in sorted(involved):
        groups.setdefault(links.find(index), []).append(index)
    similarity_of: dict[int, float] = {}
    for index, value in lowest.items():
        root = links.find(index)
        similarity_of[root] = min(similarity_of.get(root, 1.0), value)
    found = [members for members in groups.values() if len(members) >= 2]
    found.sort(key=lambda members: (-len(members), members[0]))
    return [Cluster(number, similarity_of.get(members[0], 1.0), [stories[index] for index in members]) for number, members in enumerate(found, start=1)]
