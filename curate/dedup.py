"""Near-duplicate stories: MinHash over word shingles, LSH to find candidate pairs, union-find.

Scraped news repeats wire stories on many pages with a word or a dateline changed. This module
finds them, for `curate dedup` and for export's leakage-free splits (twins go in one split).

The pure part (`shingles`, `cluster_stories`, `page_groups`) works on plain texts; `corpus_stories`
picks each snippet's stories from its best record (gold, else a done record, else a suggestion,
else the whole snippet) and `find_duplicates` caches the clusters under .curate/ keyed by the
signatures of the files they came from and the threshold.

Shingles are word 3-grams: a story of n words with two words changed far apart loses up to 6 of
its n - 2 shingles on each side, so its Jaccard similarity with the original is (n - 8) / (n + 4),
0.86 for an 80-word story; over 5-grams it is (n - 14) / (n + 6), 0.77, under the 0.8 default.
Two pages that each changed two words of a 200-word wire story: 0.89 over 3-grams.

How (numpy, no per-word Python; `scripts/bench_dedup.py` measures it): words are hashed over
their code points (`word_hashes`), shingles are sums of the words' hashes times fixed odd
constants, mixed to 32 bits (`hashed_shingles`), and each text's MinHash signature takes the
minimum of `a*x + b mod 2**32` per permutation over its shingles (`signatures`), a few hundred
texts at a time, in one worker process per core from `PARALLEL_FROM` stories. Banded LSH
sorts band keys to find buckets (`candidate_pairs`); a candidate whose MinHash estimate is
clearly over the threshold (`ESTIMATE_SURE`) is kept, one clearly under it dropped, and the
rest are decided by the exact Jaccard similarity of the two hashed shingle sets. The bands are
chosen (`bands`) so that a pair at the threshold is proposed with probability >= `LSH_RECALL`.
This replaced datasketch's MinHash objects (sha1 per shingle, one object per story, 256
permutations) and MinHashLSH, which took 9x the CPU time on 10k stories
(`scripts/bench_dedup.py --baseline`) and decided every pair by its estimate alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

SHINGLE_WORDS = 3
NUM_PERM = 128
LSH_RECALL = 0.995
"""Banded LSH proposes a pair at exactly the threshold with at least this probability (higher above it)."""
BUCKET_PAIRS = 64
ESTIMATE_SURE = 0.1
"""A candidate whose MinHash estimate (128 permutations: standard error 0.035 at 0.8) is this
far over the threshold is kept without the exact check: one at 0.8 is estimated 0.9 or more
about once in 400 (2.8 standard errors), and a wire twin is usually at 0.95. Within this band
(and 0.1 more under it), the exact Jaccard similarity decides."""
PARALLEL_FROM = 20_000
"""Stories from which signatures are made in worker processes (under it, starting them costs more)."""
_CHUNK = 5_000
_BATCH = 250
_PAIR_BLOCK = 20_000
DEFAULT_THRESHOLD = 0.8
CACHE_VERSION = 2  # 2: pairs near the threshold are decided by their exact Jaccard similarity

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class StoryRef:
    """One story: its snippet, its character range in the snippet text, and its text."""

    snippet_id: str
    start: int
    end: int
    text: str


def words(text: str) -> list[str]:
    """The lower-cased words of `text` (punctuation and case do not make two stories differ)."""
    return _WORD.findall(text.casefold())


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """The word `size`-grams of `text` as bytes; a story shorter than `size` words is one shingle."""
    tokens = words(text)
    if not tokens:
        return set()
    if len(tokens) < size:
        return {" ".join(tokens).encode("utf-8")}
    return {" ".join(tokens[index : index + size]).encode("utf-8") for index in range(len(tokens) - size + 1)}


def jaccard(first: set, second: set) -> float:
    if not first and not second:
        return 1.0
    return len(first & second) / len(first | second)


@dataclass
class Cluster:
    id: int
    similarity: float
    """The lowest Jaccard similarity of the pairs that linked the cluster (exact, or the MinHash
    estimate for a pair clearly over the threshold; 1.0 for stories of the same words)."""
    members: list[StoryRef]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "similarity": round(self.similarity, 3),
            "members": [{"snippet_id": member.snippet_id, "start": member.start, "end": member.end} for member in self.members],
        }


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, first: int, second: int) -> None:
        first, second = self.find(first), self.find(second)
        if first != second:
            self.parent[max(first, second)] = min(first, second)


def bands(threshold: float, num_perm: int = NUM_PERM, recall: float = LSH_RECALL) -> tuple[int, int]:
    """(bands, rows) for banded LSH: two stories whose Jaccard similarity is `threshold` share a
    band with probability at least `recall`, with as many rows per band as that allows (fewer
    candidates under the threshold). Every candidate is checked exactly, so only misses cost."""
    for rows in range(num_perm, 0, -1):
        count = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** count >= recall:
            return count, rows
    return num_perm, 1


_word_table: np.ndarray | None = None
_ROLL = 0x100000001B3
_ROLL_INVERSE = pow(_ROLL, -1, 1 << 64)
_PAD = 0x5BD1E9955BD1E995
"""The hash of the padding word that makes a text shorter than a shingle one shingle (no word hashes to it in practice)."""


def _is_word_char() -> np.ndarray:
    """A table over every code point: is it a character of `\\w` (what `words` matches)?"""
    global _word_table
    if _word_table is None:
        table = np.fromiter((chr(point).isalnum() for point in range(0x110000)), dtype=bool, count=0x110000)
        table[ord("_")] = True
        _word_table = table
    return _word_table


def _fmix64(values: np.ndarray) -> np.ndarray:
    values = values ^ (values >> np.uint64(33))
    values *= np.uint64(0xFF51AFD7ED558CCD)
    values ^= values >> np.uint64(33)
    values *= np.uint64(0xC4CEB9FE1A85EC53)
    values ^= values >> np.uint64(33)
    return values


def word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hash of every word of `texts` (the words `words` finds, in order, all texts
    one after the other) and how many words each text has: numpy over the code points, several
    times quicker than a regex and a dict per word. A word's hash is a polynomial over its code
    points (mod 2**64, from prefix sums), mixed, so equal words hash equal in every process."""
    folded = [text.casefold() for text in texts]
    points = np.frombuffer("\n".join(folded).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if not len(points):
        return np.zeros(0, dtype=np.uint64), np.zeros(len(texts), dtype=np.int64)
    inside = _is_word_char()[points].view(np.int8)
    edges = np.diff(inside, prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    powers = np.full(len(points), _ROLL, dtype=np.uint64)
    powers[0] = 1
    np.cumprod(powers, out=powers)
    sums = np.zeros(len(points) + 1, dtype=np.uint64)
    np.cumsum(points.astype(np.uint64) * powers, out=sums[1:])
    inverse = np.full(len(points), _ROLL_INVERSE, dtype=np.uint64)
    inverse[0] = 1
    np.cumprod(inverse, out=inverse)
    hashes = (sums[ends] - sums[starts]) * inverse[starts] + (ends - starts).astype(np.uint64)
    text_starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum([len(text) + 1 for text in folded[:-1]], out=text_starts[1:])
    owner = np.searchsorted(text_starts, starts, side="right") - 1
    return _fmix64(hashes), np.bincount(owner, minlength=len(texts)).astype(np.int64)


_permutations: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _permutation(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """The `num_perm` hash functions x -> a*x + b mod 2**32 (a odd), fixed by a seed."""
    if num_perm not in _permutations:
        generator = np.random.default_rng(1)
        a = generator.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
        b = generator.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
        _permutations[num_perm] = (a, b)
    return _permutations[num_perm]


def _mix32(values: np.ndarray) -> np.ndarray:
    """64-bit values to well-spread 32-bit ones (a murmur-style finaliser, then the high half)."""
    values = values ^ (values >> np.uint64(33))
    values *= np.uint64(0xFF51AFD7ED558CCD)
    values ^= values >> np.uint64(33)
    return (values >> np.uint64(32)).astype(np.uint32)


_GRAM_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5, 0x85EBCA77C2B2AE63)


def hashed_shingles(texts: Sequence[str], size: int = SHINGLE_WORDS) -> tuple[np.ndarray, np.ndarray, list[bytes | None]]:
    """The word `size`-gram hashes of each text (32-bit, concatenated), the offsets where each
    text's run starts (len(texts) + 1 of them) and each text's word key (None: no words), the key
    two texts with the same words share. A text shorter than `size` words is one shingle."""
    if not 1 <= size <= len(_GRAM_MULTIPLIERS):
        raise ValueError(f"shingles of {size} words: give 1 to {len(_GRAM_MULTIPLIERS)}")
    ids, counts = word_hashes(texts)
    short = np.flatnonzero((counts > 0) & (counts < size))
    if len(short):  # pad a text shorter than a shingle to one shingle
        ends = np.cumsum(counts)[short]
        ids = np.insert(ids, np.repeat(ends, size - counts[short]), np.uint64(_PAD))
        counts[short] = size
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    keys = [hashlib.blake2b(ids[start:stop].tobytes(), digest_size=16).digest() if stop > start else None for start, stop in zip(starts[:-1].tolist(), starts[1:].tolist())]
    grams = np.zeros(max(len(ids) - size + 1, 0), dtype=np.uint64)
    for offset in range(size):
        grams += ids[offset : offset + len(grams)] * np.uint64(_GRAM_MULTIPLIERS[offset])
    # keep the shingles that start and end in one text: drop the size - 1 before each boundary
    keep = np.ones(len(grams), dtype=bool)
    crossing = (starts[1:-1, None] - np.arange(1, size)[None, :]).ravel()
    keep[crossing[(crossing >= 0) & (crossing < len(grams))]] = False
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.where(counts > 0, counts - size + 1, 0), out=offsets[1:])
    return _mix32(grams[keep]), offsets, keys


def signatures(texts: Sequence[str], size: int = SHINGLE_WORDS, num_perm: int = NUM_PERM) -> tuple[np.ndarray, list[bytes | None]]:
    """Each text's MinHash signature (len(texts) x num_perm, uint32; a text of no words gets all
    ones, and is nobody's twin) and its word key (see `hashed_shingles`)."""
    a, b = _permutation(num_perm)
    result = np.full((len(texts), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    keys: list[bytes | None] = []
    for first in range(0, len(texts), _BATCH):
        batch = texts[first : first + _BATCH]
        hashed, starts, batch_keys = hashed_shingles(batch, size)
        keys.extend(batch_keys)
        filled = np.flatnonzero(starts[1:] > starts[:-1])
        if not len(filled):
            continue
        offsets = starts[filled]
        rows = result[first + filled]
        for column in range(num_perm):
            values = hashed * a[column]
            values += b[column]
            rows[:, column] = np.minimum.reduceat(values, offsets)
        result[first + filled] = rows
    return result, keys


_forked_texts: Sequence[str] = ()
"""The texts a forked worker reads by range (it inherits them: nothing is pickled to it)."""


def _signatures_job(job: tuple[Sequence[str] | None, int, int, int, int]) -> tuple[np.ndarray, list[bytes | None]]:
    texts, first, stop, size, num_perm = job
    return signatures((_forked_texts if texts is None else texts)[first:stop], size, num_perm)


def workers() -> int:
    """Processes that hash stories: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _all_signatures(texts: list[str], size: int, num_perm: int, on_progress: Callable[[int], None] | None) -> tuple[np.ndarray, list[bytes | None]]:
    """`signatures` of every text, in worker processes when there are many and more than one core."""
    global _forked_texts
    processes = workers()
    signature = np.empty((len(texts), num_perm), dtype=np.uint32)  # filled in place: no second copy
    keys: list[bytes | None] = []
    done = 0

    def collect(result: tuple[np.ndarray, list[bytes | None]]) -> None:
        nonlocal done
        signature[done : done + len(result[1])] = result[0]
        keys.extend(result[1])
        done += len(result[1])
        if on_progress is not None:
            on_progress(done)

    if len(texts) >= PARALLEL_FROM and processes >= 2:
        import multiprocessing
        import threading
        from collections import deque
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # fork is quickest (workers inherit the texts and read them by range), but forking a
        # process that runs threads (the UI's workers) is unsafe: then forkserver, which starts
        # clean processes, and each job carries its texts
        forking = threading.active_count() == 1
        context = multiprocessing.get_context("fork" if forking else "forkserver")
        _is_word_char()  # built once here, so forked workers share it
        if forking:
            _forked_texts = texts
        try:
            with ProcessPoolExecutor(processes, mp_context=context) as pool:
                pending: deque = deque()
                for first in range(0, len(texts), _CHUNK):
                    stop = min(first + _CHUNK, len(texts))
                    job = (None, first, stop, size, num_perm) if forking else (texts[first:stop], 0, stop - first, size, num_perm)
                    pending.append(pool.submit(_signatures_job, job))
                    if len(pending) > 2 * processes:  # a few jobs queued, not every text pickled at once
                        collect(pending.popleft().result())
                while pending:
                    collect(pending.popleft().result())
        except (BrokenProcessPool, OSError):
            pass  # no worker could start (a script without a __main__ guard, no fork allowed): here, below
        finally:
            _forked_texts = ()
    # the texts no worker did (all of them under PARALLEL_FROM, or on one core), in this process
    for first in range(done, len(texts), _CHUNK):
        collect(_signatures_job((texts, first, min(first + _CHUNK, len(texts)), size, num_perm)))
    return signature, keys


def candidate_pairs(signature: np.ndarray, band_count: int, rows: int, among: np.ndarray | None = None) -> np.ndarray:
    """Pairs (i < j, one per row of an n x 2 int64 array, sorted, no repeats) of signatures equal
    in all `rows` values of at least one band, among the rows `among` (default all; the pairs
    are of their positions in `among`). A bucket of more than `BUCKET_PAIRS` members pairs each
    member with the next `BUCKET_PAIRS` ones only (a chain still joins them all)."""
    found = []
    count = len(signature) if among is None else len(among)
    for band in range(band_count):
        columns = slice(band * rows, (band + 1) * rows)
        block = (signature[:, columns] if among is None else signature[among, columns]).astype(np.uint64)
        key = np.full(count, 0xCBF29CE484222325, dtype=np.uint64)
        for column in range(rows):
            key ^= block[:, column]
            key *= np.uint64(0x100000001B3)
            key ^= key >> np.uint64(29)
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        # pairs of members `gap` places apart in a run of equal keys, for gap 1, 2, ...
        same = ordered[1:] == ordered[:-1]
        gap = 1
        while same.any() and gap <= BUCKET_PAIRS:
            firsts = np.flatnonzero(same)
            found.append(np.stack([order[firsts], order[firsts + gap]], axis=1))
            same = same[:-1] & (ordered[1 + gap :] == ordered[: -1 - gap]) if len(same) > 1 else same[:0]
            gap += 1
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1).astype(np.int64)
    return np.unique(pairs, axis=0)


def _verified(texts: Sequence[str], pairs: np.ndarray, size: int) -> Iterable[tuple[float, int, int]]:
    """(Jaccard similarity over the two texts' hashed shingles, i, j) of each candidate pair, a
    block of pairs at a time so that only one block's shingle sets are held."""
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


def cluster_stories(
    stories: Sequence[StoryRef],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    size: int = SHINGLE_WORDS,
    num_perm: int = NUM_PERM,
    on_progress: Callable[[int], None] | None = None,
) -> list[Cluster]:
    """Clusters (two members or more) of stories whose Jaccard similarity over word shingles is at
    least `threshold`, linked transitively; largest first, then by first member.

    Stories with the same words are joined by their word key before MinHash counts. Banded LSH
    over the MinHash signatures proposes candidate pairs; a pair whose MinHash estimate is
    `ESTIMATE_SURE` or more above the threshold is kept, one that far (and 0.1 more) under it is
    dropped, and every other is kept only when its Jaccard similarity over the two stories'
    (hashed) shingles reaches `threshold`. Signatures are made in worker processes when the
    stories are many (`PARALLEL_FROM`) and the machine has more than one core.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"--threshold {threshold}: give a similarity above 0 and at most 1")
    texts = [story.text for story in stories]
    signature, keys = _all_signatures(texts, size, num_perm, on_progress)
    links = _UnionFind(len(stories))
    lowest: dict[int, float] = {}
    first_of_key: dict[bytes, int] = {}
    representatives: list[int] = []
    involved: set[int] = set()
    for index, key in enumerate(keys):
        if key is None:
            continue  # a story of no words (punctuation, a blank range) is nobody's twin
        twin = first_of_key.setdefault(key, index)
        if twin != index:
            links.union(twin, index)
            lowest[index] = 1.0
            involved.update((twin, index))
        else:
            representatives.append(index)
    chosen = np.asarray(representatives, dtype=np.int64)
    pairs = chosen[candidate_pairs(signature, *bands(threshold, num_perm), among=chosen)] if len(chosen) else np.zeros((0, 2), dtype=np.int64)
    # the estimate settles the clear cases (see ESTIMATE_SURE); the rest are checked exactly
    estimate = np.empty(len(pairs))
    for block in range(0, len(pairs), _PAIR_BLOCK):
        chunk = pairs[block : block + _PAIR_BLOCK]
        estimate[block : block + _PAIR_BLOCK] = (signature[chunk[:, 0]] == signature[chunk[:, 1]]).mean(axis=1)
    del signature
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


def page_groups(clusters: Iterable[Cluster]) -> list[list[str]]:
    """Snippet ids linked by a shared near-duplicate story, as connected components (two ids or
    more each, sorted), sorted by their smallest id."""
    linked = [sorted({member.snippet_id for member in cluster.members}) for cluster in clusters]
    ids = sorted({snippet_id for group in linked for snippet_id in group})
    number = {snippet_id: index for index, snippet_id in enumerate(ids)}
    links = _UnionFind(len(ids))
    for group in linked:
        for other in group[1:]:
            links.union(number[group[0]], number[other])
    components: dict[int, list[str]] = {}
    for index, snippet_id in enumerate(ids):
        components.setdefault(links.find(index), []).append(snippet_id)
    return sorted((group for group in components.values() if len(group) >= 2), key=lambda group: group[0])


# ---------------------------------------------------------------- over a corpus


@dataclass
class DedupResult:
    stories: int
    clusters: list[Cluster]
    threshold: float
    cached: bool = False

    @property
    def clustered(self) -> int:
        return sum(len(cluster.members) for cluster in self.clusters)

    def to_json(self) -> dict:
        return {"stories": self.stories, "clustered": self.clustered, "clusters": [cluster.to_json() for cluster in self.clusters]}


def annotated_record(gold, journals: Sequence, snippet_id: str, position: int | None):
    """The snippet's gold record (not skipped or flagged), else the first `done` record of
    `journals`; None when it has neither (`position` None: a snippet the corpus lacks)."""
    record = gold.get(snippet_id) if gold is not None else None
    if record is not None and record.status not in ("skipped", "flagged"):
        return record
    if position is not None:
        for journal in journals:
            if journal.status_of(position) == "done":
                record = journal.record_at(position)
                if record is not None:
                    return record
    return None


def _best_ranges(corpus) -> Iterable[tuple[int, list[tuple[int, int]] | None]]:
    """(position, story ranges) of every snippet from its best record; None: the whole snippet.

    Gold is streamed in corpus order (`curate.export.rows.GoldSource`: the records
    `corpus.gold()` holds, not skipped or flagged, read one at a time), so a large corpus's gold
    is never all in memory at once."""
    from curate.export.rows import GoldSource

    gold = iter(GoldSource(corpus).records()) if corpus.layout.gold.exists() else iter(())
    next_gold = next(gold, None)
    journals = [corpus.journal(name) for name in corpus.annotators()]
    suggestions = corpus.suggestions() if corpus.layout.suggestions.exists() else None
    try:
        for position in range(len(corpus)):
            if next_gold is not None and next_gold[0] == position:
                record = next_gold[1]
                next_gold = next(gold, None)
            else:
                record = annotated_record(None, journals, "", position)
            if record is None and suggestions is not None and suggestions.has_record(position):
                record = suggestions.record_at(position)
            yield position, ([(story.start, story.end) for story in record.stories] if record is not None and record.stories else None)
    finally:
        for journal in journals:
            journal.close()
        if suggestions is not None:
            suggestions.close()


def corpus_stories(corpus) -> list[StoryRef]:
    """Every story of the corpus, from each snippet's best record (see the module docstring)."""
    stories = []
    for position, ranges in _best_ranges(corpus):
        snippet = corpus.snippet(position)
        for start, end in ranges or [(0, len(snippet.text))]:
            stories.append(StoryRef(snippet.id, start, end, snippet.text[start:end]))
    return stories


def _cache_key(corpus, threshold: float) -> dict:
    from curate.store import file_signature

    layout = corpus.layout
    files = [layout.snippets, layout.gold, layout.suggestions] + [corpus.journal_path(name) for name in corpus.annotators()]
    signatures = {}
    for path in files:
        try:
            signatures[str(path.relative_to(layout.root))] = file_signature(path)
        except OSError:
            signatures[str(path.relative_to(layout.root))] = None
    return {"version": CACHE_VERSION, "threshold": threshold, "shingle_words": SHINGLE_WORDS, "num_perm": NUM_PERM, "files": signatures}


def _from_cache(data: dict, threshold: float) -> DedupResult:
    """The result saved in the cache; ValueError when it is not in the shape `to_json` writes
    (a file edited or damaged by hand while its key still matches)."""

    def typed(value, kind, what: str):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{what}: {type(value).__name__}")
        return value

    result = typed(data["result"], dict, "result")
    clusters = [
        Cluster(
            typed(item["id"], int, "id"),
            float(typed(item["similarity"], (int, float), "similarity")),
            [StoryRef(typed(member["snippet_id"], str, "snippet_id"), typed(member["start"], int, "start"), typed(member["end"], int, "end"), "") for member in typed(item["members"], list, "members")],
        )
        for item in typed(result["clusters"], list, "clusters")
    ]
    return DedupResult(typed(result["stories"], int, "stories"), clusters, threshold, cached=True)


def find_duplicates(
    corpus,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    use_cache: bool = True,
) -> DedupResult:
    """The corpus's near-duplicate clusters, from .curate/dedup.json when it was made from the
    same files with the same threshold, else computed and saved there (a failed save is harmless)."""
    from curate.store import atomic_write_bytes

    key = _cache_key(corpus, threshold)
    cache = corpus.layout.dedup_cache
    if use_cache:
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("key") == key:
                return _from_cache(data, threshold)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a cache that cannot be read is found again and written anew
    stories = corpus_stories(corpus)
    if on_total is not None:
        on_total(len(stories))
    result = DedupResult(len(stories), cluster_stories(stories, threshold, on_progress=on_progress), threshold)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cache, [json.dumps({"key": key, "result": result.to_json()}).encode("utf-8")])
    except OSError:
        pass
    return result
