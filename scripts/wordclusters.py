"""Word clusters learned from a corpus's own text, annotated or not, as entity-tagger features:
an idea of issue 16 item 3 that scripts/bench_suggest.py measures (`--idea clusters`,
`--idea clusters-pool`) and curate does not use: 5-fold cross-validation on the Reuters dev pages
gave entity F1 0.8832 against 0.8829 without (the pool: 0.8796) for 38% more CRF training time.

A corpus usually holds far more snippets than editors have annotated. Words that occur in the
same contexts ("Lazio" and "Sampdoria" both between a date and a score) fall in one cluster,
so what the tagger learns of one word carries to the others, seen in no annotated snippet.

Each word (lower case, digits read as 0) is described by the words just before and just after
it (the 1,000 most frequent as contexts, a line's start and end as two more), weighted by
positive pointwise mutual information, reduced to DIMENSIONS by a randomised SVD, and grouped
by spherical k-means at several sizes: coarse clusters gather a word class, fine ones a
family of names. All numpy; seeded, so the same texts give the same clusters.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from curate.text import text_tokens

# Cluster counts, coarse to fine; a word gets one feature per size.
SIZES = (32, 128, 512)
DIMENSIONS = 64
CONTEXT_WORDS = 1000
# Words seen fewer times than this get no cluster.
MIN_COUNT = 2
# Text read at most (tokens): a corpus larger than this is read from its start.
MAX_TOKENS = 1_000_000
# Words clustered at most, the most frequent.
MAX_WORDS = 50_000
_LINE_START, _LINE_END = "<s>", "</s>"
_DIGITS = str.maketrans("0123456789", "0000000000")


def normal(word: str) -> str:
    """The form a word is clustered under: lower case, every digit 0."""
    return word.lower().translate(_DIGITS)


def _lines_of_words(texts: Iterable[str], limit: int) -> list[list[str]]:
    """The texts' lines as normal word forms, until `limit` tokens are read."""
    lines: list[list[str]] = []
    read = 0
    for text in texts:
        tokens = text_tokens(text)
        current: list[str] = []
        previous_end = 0
        for start, end in tokens:
            if current and "\n" in text[previous_end:start]:
                lines.append(current)
                current = []
            current.append(normal(text[start:end]))
            previous_end = end
        if current:
            lines.append(current)
        read += len(tokens)
        if read >= limit:
            break
    return lines


class _Sparse:
    """A sparse matrix as (row, column, value) triples, with the two products the SVD needs."""

    def __init__(self, rows: np.ndarray, columns: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> None:
        self.rows, self.columns, self.values, self.shape = rows, columns, values, shape

    def times(self, dense: np.ndarray) -> np.ndarray:
        """self @ dense"""
        return np.stack([np.bincount(self.rows, weights=self.values * dense[self.columns, column], minlength=self.shape[0]) for column in range(dense.shape[1])], axis=1)

    def transposed_times(self, dense: np.ndarray) -> np.ndarray:
        """self.T @ dense"""
        return np.stack([np.bincount(self.columns, weights=self.values * dense[self.rows, column], minlength=self.shape[1]) for column in range(dense.shape[1])], axis=1)


def _ppmi_vectors(lines: Sequence[Sequence[str]], min_count: int, seed: int) -> tuple[list[str], np.ndarray]:
    """The vocabulary (words seen `min_count` times, at most MAX_WORDS, the most frequent first) and a unit vector per word."""
    counts = Counter(word for line in lines for word in line)
    vocabulary = [word for word, count in counts.most_common(MAX_WORDS) if count >= min_count]
    index = {word: number for number, word in enumerate(vocabulary)}
    contexts = [_LINE_START, _LINE_END] + [word for word, _ in counts.most_common(CONTEXT_WORDS)]
    context_index = {word: number for number, word in enumerate(contexts)}
    width = len(contexts)
    rows: list[int] = []
    columns: list[int] = []
    for line in lines:
        padded = [_LINE_START, *line, _LINE_END]
        for position in range(1, len(padded) - 1):
            row = index.get(padded[position])
            if row is None:
                continue
            left = context_index.get(padded[position - 1])
            right = context_index.get(padded[position + 1])
            if left is not None:
                rows.append(row)
                columns.append(left)
            if right is not None:
                rows.append(row)
                columns.append(width + right)
    if not rows:
        return vocabulary, np.zeros((len(vocabulary), 1))
    pairs, pair_counts = np.unique(np.asarray(rows, dtype=np.int64) * (2 * width) + np.asarray(columns, dtype=np.int64), return_counts=True)
    pair_rows, pair_columns = pairs // (2 * width), pairs % (2 * width)
    shape = (len(vocabulary), 2 * width)
    row_sums = np.bincount(pair_rows, weights=pair_counts, minlength=shape[0])
    column_sums = np.bincount(pair_columns, weights=pair_counts, minlength=shape[1]) ** 0.75  # context smoothing, as word2vec does
    column_sums /= column_sums.sum()
    pmi = np.log(pair_counts / row_sums[pair_rows] / column_sums[pair_columns])
    keep = pmi > 0
    ppmi = _Sparse(pair_rows[keep], pair_columns[keep], pmi[keep], shape)
    return vocabulary, _reduce(ppmi, DIMENSIONS, seed)


def _reduce(matrix: _Sparse, dimensions: int, seed: int) -> np.ndarray:
    """Rows of `matrix` in `dimensions` by a randomised SVD (two power iterations), unit length."""
    rank = min(dimensions, *matrix.shape)
    generator = np.random.default_rng(seed)
    sketch = matrix.times(generator.standard_normal((matrix.shape[1], rank + 10)))
    for _ in range(2):
        sketch, _ = np.linalg.qr(sketch)
        sketch = matrix.times(matrix.transposed_times(sketch))
    basis, _ = np.linalg.qr(sketch)
    small_u, singular, _ = np.linalg.svd(matrix.transposed_times(basis).T, full_matrices=False)
    vectors = (basis @ small_u[:, :rank]) * np.sqrt(singular[:rank])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _kmeans(vectors: np.ndarray, size: int, seed: int, iterations: int = 25) -> np.ndarray:
    """Spherical k-means (k-means++ start) of unit rows; the cluster of each row."""
    count = len(vectors)
    size = min(size, count)
    generator = np.random.default_rng(seed)
    centres = np.empty((size, vectors.shape[1]))
    centres[0] = vectors[generator.integers(count)]
    distance = 1.0 - vectors @ centres[0]
    for number in range(1, size):
        weights = np.maximum(distance, 0.0)
        total = weights.sum()
        chosen = generator.choice(count, p=weights / total) if total > 0 else generator.integers(count)
        centres[number] = vectors[chosen]
        distance = np.minimum(distance, 1.0 - vectors @ centres[number])
    assigned = np.zeros(count, dtype=np.int64)
    for step in range(iterations):
        new = np.argmax(vectors @ centres.T, axis=1)
        if step and np.array_equal(new, assigned):
            break
        assigned = new
        sums = np.zeros_like(centres)
        np.add.at(sums, assigned, vectors)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        centres = np.where(empty[:, None], centres, sums / np.maximum(norms, 1e-12))
    return assigned


def learn_clusters(texts: Iterable[str], *, sizes: Sequence[int] = SIZES, min_count: int = MIN_COUNT, seed: int = 0) -> dict[str, list[int]]:
    """Normal word form -> its cluster at each of `sizes` (empty when the texts are too few)."""
    lines = _lines_of_words(texts, MAX_TOKENS)
    vocabulary, vectors = _ppmi_vectors(lines, min_count, seed)
    if len(vocabulary) < 2:
        return {}
    assignments = [_kmeans(vectors, size, seed + number) for number, size in enumerate(sizes)]
    return {word: [int(assigned[row]) for assigned in assignments] for row, word in enumerate(vocabulary)}


class WordClusters:
    """Learned clusters and the CRF features they give a word."""

    def __init__(self, clusters: dict[str, list[int]]) -> None:
        self.clusters = clusters
        self._features: dict[str, tuple[str, ...]] = {}

    def features(self, word: str) -> tuple[str, ...]:
        key = normal(word)
        found = self._features.get(key)
        if found is None:
            ids = self.clusters.get(key)
            found = tuple(f"cl{level}={cluster}" for level, cluster in enumerate(ids)) if ids else ("cl=none",)
            self._features[key] = found
        return found


@contextlib.contextmanager
def tagger_with_clusters(clusters: WordClusters) -> Iterator[None]:
    """While inside, curate's entity tagger gives every token its word's cluster features, and its
    neighbours (±1 on the line) see them too; as a hook in tagger.token_features would."""
    from curate.suggest import tagger

    original_features, original_reach = tagger.token_features, tagger._reach

    def token_features(model, predicted, gazetteer_tags, known_words, folded_gazetteer_tags=None, pos_tags=None):
        facts = tagger._text_facts(model, predicted)
        own = tagger._own_features(facts, predicted, gazetteer_tags, known_words, folded_gazetteer_tags, pos_tags)
        for features, word in zip(own, facts.words):
            features.update(dict.fromkeys(clusters.features(word)))
        return tagger._with_neighbours(own, facts.words, facts.line_of, pos_tags)

    def reach(feature: str) -> int:
        return 1 if feature.startswith("cl") else original_reach(feature)

    tagger.token_features, tagger._reach = token_features, reach
    try:
        yield
    finally:
        tagger.token_features, tagger._reach = original_features, original_reach
