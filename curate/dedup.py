"""Near-duplicate stories: MinHash over word shingles, LSH to find candidate pairs, union-find.

Scraped news repeats wire stories on many pages with a word or a dateline changed. This module
finds them, for `curate dedup` and for export's leakage-free splits (twins go in one split).

The pure part (`shingles`, `cluster_stories`, `page_groups`) works on plain texts;
`corpus_clusters` picks each snippet's stories from its best record (gold, else a done record,
else a suggestion, else the whole snippet) and clusters them without holding the corpus's texts,
and `find_duplicates` caches the clusters under .curate/ keyed by the signatures of the files
they came from and the threshold.

Shingles are word 3-grams: a story of n words with two words changed far apart loses up to 6 of
its n - 2 shingles on each side, so its Jaccard similarity with the original is (n - 8) / (n + 4),
0.86 for an 80-word story; over 5-grams it is (n - 14) / (n + 6), 0.77, under the 0.8 default.
Two pages that each changed two words of a 200-word wire story: 0.89 over 3-grams.

How (numpy, no per-word Python; `scripts/bench_dedup.py` measures it): words are hashed over
their code points (`word_hashes`), shingles are sums of the words' hashes times fixed odd
constants, mixed to 32 bits (`hashed_shingles`), and each text's MinHash signature takes the
minimum of `a*x + b mod 2**32` per permutation over its shingles (`signatures`), a few hundred
texts at a time, in one worker process per core from `PARALLEL_FROM` stories
(`signature_chunks`: chunks of texts go to the workers as they are read). Banded LSH sorts band
keys to find buckets (`candidate_pairs`); a candidate whose MinHash estimate is clearly over the
threshold (`ESTIMATE_SURE`) is kept, one clearly under it dropped, and the rest are decided by
the exact Jaccard similarity of the two hashed shingle sets. The bands are chosen (`bands`) so
that a pair at the threshold is proposed with probability >= `LSH_RECALL`.
This replaced datasketch's MinHash objects (sha1 per shingle, one object per story, 256
permutations) and MinHashLSH, which took 9x the CPU time on 10k stories
(`scripts/bench_dedup.py --baseline`) and decided every pair by its estimate alone.

Memory (`_cluster_stream`): texts are read a chunk at a time to sign them, and again by story
number for the pairs checked exactly; signatures and band keys go to unnamed scratch files
(`_Scratch`, in .curate/ for a corpus) and come back a band, or a block of pairs' rows, at a
time; per story only its word key (16 bytes) and, for a corpus, its place (snippet position,
start, end) stay in numpy arrays; twins and components are found with numpy (no Python object
per story). tests/dedup_reference.py keeps the in-memory clustering this replaced, and
tests/functional/test_dedup_stream.py holds the two equal.
"""

from __future__ import annotations

import json
import os
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

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
_PERM_BLOCK = 32
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


_word_tables: dict[int, np.ndarray] = {}
_ROLL = 0x100000001B3
_ROLL_INVERSE = pow(_ROLL, -1, 1 << 64)
_PAD = 0x5BD1E9955BD1E995
"""The hash of the padding word that makes a text shorter than a shingle one shingle (no word hashes to it in practice)."""
_BMP = 0x10000


def _is_word_char(limit: int = 0x110000) -> np.ndarray:
    """A table over the code points under `limit` (the Basic Multilingual Plane's 65,536 when
    `limit` is no more, else every one): is it a character of `\\w` (what `words` matches)?"""
    size = _BMP if limit <= _BMP else 0x110000
    table = _word_tables.get(size)
    if table is None:
        # One regex pass over a string of the code points finds the runs of word characters
        # (~20 ms for every code point, under 1 ms for the first plane, which most text keeps
        # to; asking each code point `isalnum()` took ~0.5 s, a first export's largest cost).
        table = np.zeros(size, dtype=bool)
        every = np.arange(size, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
        for run in re.finditer(r"\w+", every):
            table[run.start() : run.end()] = True
        _word_tables[size] = table
    return table


def _code_points(text: str) -> np.ndarray:
    """The code points of `text` as the narrowest array that holds them (uint8 for Latin-1,
    uint16 for the first plane, else uint32): narrower arrays are quicker to look up."""
    try:
        return np.frombuffer(text.encode("latin-1"), dtype=np.uint8)
    except UnicodeEncodeError:
        pass
    encoded = text.encode("utf-16-le", "surrogatepass")
    if len(encoded) == 2 * len(text):  # no pair of surrogates: every unit is a code point
        return np.frombuffer(encoded, dtype=np.uint16)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


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
    points = _code_points("\n".join(folded))
    if not len(points):
        return np.zeros(0, dtype=np.uint64), np.zeros(len(texts), dtype=np.int64)
    inside = _is_word_char(1 << (8 * points.itemsize))[points].view(np.int8)
    edges = np.diff(inside, prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    powers, inverse = _roll_powers(len(points))
    sums = np.zeros(len(points) + 1, dtype=np.uint64)
    np.cumsum(points.astype(np.uint64) * powers, out=sums[1:])
    hashes = (sums[ends] - sums[starts]) * inverse[starts] + (ends - starts).astype(np.uint64)
    # words per text: the word starts between where one text begins and where the next does
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(text) + 1 for text in folded], out=bounds[1:])
    return _fmix64(hashes), np.diff(np.searchsorted(starts, bounds)).astype(np.int64)


_powers = np.ones(1, dtype=np.uint64)
_inverse_powers = np.ones(1, dtype=np.uint64)


def _roll_powers(count: int) -> tuple[np.ndarray, np.ndarray]:
    """`_ROLL**i` and its inverse `_ROLL_INVERSE**i` (mod 2**64) for i < `count`, kept between
    calls (made again, twice as long, when a longer batch comes): they are the same every time."""
    global _powers, _inverse_powers
    if len(_powers) < count:
        size = max(count, 2 * len(_powers))
        powers = np.full(size, _ROLL, dtype=np.uint64)
        powers[0] = 1
        np.cumprod(powers, out=powers)
        inverse = np.full(size, _ROLL_INVERSE, dtype=np.uint64)
        inverse[0] = 1
        np.cumprod(inverse, out=inverse)
        _powers, _inverse_powers = powers, inverse
    return _powers[:count], _inverse_powers[:count]


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


_KEY_MULTIPLIERS = (0xD6E8FEB86659FD93, 0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3)
_NO_WORDS = b""
"""The word key of a text without words (`S16` arrays read sixteen zero bytes back as b"")."""


def _word_keys(ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each text's word key (`S16`): two 64-bit sums over its words of a mix of the word's hash
    and its place in the text (two mixes apart), plus the count of words; texts with the same
    words in the same order get the same key, others two independent 64-bit chances of
    meeting (no harder to make meet on purpose than the 64-bit word hashes themselves). A text
    of no words gets `_NO_WORDS`; one that works out to sixteen zero bytes is moved off it.
    numpy over a batch: a blake2b digest per text cost ~3 us a story, most of it in Python."""
    counts = np.diff(starts)
    keys = np.zeros((len(counts), 2), dtype=np.uint64)
    worded = np.flatnonzero(counts > 0)
    if len(worded):
        place = np.arange(1, len(ids) + 1, dtype=np.uint64) - np.repeat(starts[:-1], counts).astype(np.uint64)
        first = _fmix64(ids ^ (place * np.uint64(_KEY_MULTIPLIERS[0])))
        second = _fmix64(ids * np.uint64(_KEY_MULTIPLIERS[1]) + place * np.uint64(_KEY_MULTIPLIERS[2]))
        length = counts[worded].astype(np.uint64) * np.uint64(_KEY_MULTIPLIERS[3])
        keys[worded, 0] = np.add.reduceat(first, starts[worded]) + length
        keys[worded, 1] = np.add.reduceat(second, starts[worded]) ^ length
        zero = worded[(keys[worded, 0] == 0) & (keys[worded, 1] == 0)]
        keys[zero, 0] = 1
    return keys.view("S16").reshape(len(counts))


def hashed_shingles(texts: Sequence[str], size: int = SHINGLE_WORDS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The word `size`-gram hashes of each text (32-bit, concatenated), the offsets where each
    text's run starts (len(texts) + 1 of them) and each text's word key (`S16`; `_NO_WORDS`: no
    words), the key two texts with the same words share (`_word_keys`). A text shorter than
    `size` words is one shingle."""
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
    keys = _word_keys(ids, starts)
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


def signatures(texts: Sequence[str], size: int = SHINGLE_WORDS, num_perm: int = NUM_PERM) -> tuple[np.ndarray, np.ndarray]:
    """Each text's MinHash signature (len(texts) x num_perm, uint32; a text of no words gets all
    ones, and is nobody's twin) and its word key (see `hashed_shingles`)."""
    a, b = _permutation(num_perm)
    result = np.full((len(texts), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    keys = np.zeros(len(texts), dtype="S16")
    # One buffer for every block's values, grown as a batch needs: a new array each time made the
    # kernel hand over fresh pages (~40k page faults for 15k stories, 0.06 s of system time).
    scratch = np.empty(0, dtype=np.uint32)
    for first in range(0, len(texts), _BATCH):
        batch = texts[first : first + _BATCH]
        hashed, starts, keys[first : first + _BATCH] = hashed_shingles(batch, size)
        filled = np.flatnonzero(starts[1:] > starts[:-1])
        if not len(filled):
            continue
        offsets = starts[filled]
        rows = np.empty((num_perm, len(filled)), dtype=np.uint32)
        if len(scratch) < _PERM_BLOCK * len(hashed):
            scratch = np.empty(_PERM_BLOCK * len(hashed), dtype=np.uint32)
        for column in range(0, num_perm, _PERM_BLOCK):  # a block of permutations over every shingle at once
            block = min(_PERM_BLOCK, num_perm - column)
            values = scratch[: block * len(hashed)].reshape(block, len(hashed))
            np.multiply(a[column : column + block, None], hashed[None, :], out=values)
            values += b[column : column + block, None]
            np.minimum.reduceat(values, offsets, axis=1, out=rows[column : column + block])
        result[first + filled] = rows.T
    return result, keys


def _signatures_job(job: tuple[Sequence[str], int, int]) -> tuple[np.ndarray, np.ndarray]:
    texts, size, num_perm = job
    return signatures(texts, size, num_perm)


def workers() -> int:
    """Processes that hash stories: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def signature_chunks(
    chunks: Iterable[Sequence[str]], size: int = SHINGLE_WORDS, num_perm: int = NUM_PERM, *, parallel: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`signatures` of each chunk of texts, in order, as the chunks come (a chunk is dropped once
    hashed: texts are never all held). With `parallel` and more than one core, in worker
    processes, a few chunks ahead; a pool that cannot start or breaks leaves the rest to this
    process, from the first chunk it did not give back."""
    chunks = iter(chunks)
    if parallel and workers() >= 2:
        yield from _pooled_signatures(chunks, size, num_perm)
    for texts in chunks:
        yield signatures(texts, size, num_perm)


def _pooled_signatures(chunks: Iterator[Sequence[str]], size: int, num_perm: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pool part of `signature_chunks`. A pool that cannot start returns at once (leaving
    every chunk to the caller); one that breaks later has this process hash the chunks it did
    not give back, and every later one. An error of `chunks` itself goes to the caller."""
    import multiprocessing
    import threading
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    processes = workers()
    # fork is quickest, but forking a process that runs threads (the UI's workers) is unsafe:
    # then forkserver, which starts clean processes
    context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "forkserver")
    _is_word_char(_BMP), _is_word_char()  # built once here, so forked workers share them
    try:
        pool = ProcessPoolExecutor(processes, mp_context=context)
    except (BrokenProcessPool, OSError):
        return  # no worker could start (no fork allowed, a script without a __main__ guard)
    pending: deque = deque()  # (future or None, texts), in chunk order
    healthy = True

    def submit(texts: Sequence[str]) -> None:
        nonlocal healthy
        if healthy:
            try:
                pending.append((pool.submit(_signatures_job, (texts, size, num_perm)), texts))
                return
            except (BrokenProcessPool, OSError):
                healthy = False
        pending.append((None, texts))

    def first() -> tuple[np.ndarray, np.ndarray]:
        nonlocal healthy
        future, texts = pending.popleft()
        if future is not None and healthy:
            try:
                return future.result()
            except (BrokenProcessPool, OSError):
                healthy = False  # a worker died: this chunk and the rest are hashed here
        return signatures(texts, size, num_perm)

    try:
        for texts in chunks:
            submit(texts)
            while len(pending) > 2 * processes or (pending and not healthy):  # a few chunks ahead, not every text read
                yield first()
        while pending:
            yield first()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _band_keys(signature: np.ndarray, band_count: int, rows: int) -> np.ndarray:
    """The LSH key of each band of each signature (n x band_count, uint64): a hash of its `rows` values."""
    keys = np.empty((len(signature), band_count), dtype=np.uint64)
    for band in range(band_count):
        block = signature[:, band * rows : (band + 1) * rows].astype(np.uint64)
        key = np.full(len(signature), 0xCBF29CE484222325, dtype=np.uint64)
        for column in range(rows):
            key ^= block[:, column]
            key *= np.uint64(0x100000001B3)
            key ^= key >> np.uint64(29)
        keys[:, band] = key
    return keys


def _bucket_pairs(key: np.ndarray) -> np.ndarray:
    """Pairs of places (as `i << 32 | j`, i < j, uint64, unsorted, maybe repeated) whose keys are
    equal: a bucket of more than `BUCKET_PAIRS` members pairs each member with the next
    `BUCKET_PAIRS` ones only (a chain still joins them all)."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    found = []
    # pairs of members `gap` places apart in a run of equal keys, for gap 1, 2, ...
    same = ordered[1:] == ordered[:-1]
    gap = 1
    while same.any() and gap <= BUCKET_PAIRS:
        firsts = np.flatnonzero(same)
        one, two = order[firsts].astype(np.uint64), order[firsts + gap].astype(np.uint64)
        found.append((np.minimum(one, two) << np.uint64(32)) | np.maximum(one, two))
        same = same[:-1] & (ordered[1 + gap :] == ordered[: -1 - gap]) if len(same) > 1 else same[:0]
        gap += 1
    return np.concatenate(found) if found else np.zeros(0, dtype=np.uint64)


def _as_pairs(codes: np.ndarray) -> np.ndarray:
    """`i << 32 | j` codes as an n x 2 int64 array of (i, j)."""
    return np.stack([(codes >> np.uint64(32)).astype(np.int64), (codes & np.uint64(0xFFFFFFFF)).astype(np.int64)], axis=1) if len(codes) else np.zeros((0, 2), dtype=np.int64)


def candidate_pairs(signature: np.ndarray, band_count: int, rows: int, among: np.ndarray | None = None) -> np.ndarray:
    """Pairs (i < j, one per row of an n x 2 int64 array, sorted, no repeats) of signatures equal
    in all `rows` values of at least one band, among the rows `among` (default all; the pairs
    are of their positions in `among`). A bucket of more than `BUCKET_PAIRS` members pairs each
    member with the next `BUCKET_PAIRS` ones only (a chain still joins them all)."""
    keys = _band_keys(signature if among is None else signature[among], band_count, rows)
    codes = np.zeros(0, dtype=np.uint64)
    for band in range(band_count):
        codes = np.unique(np.concatenate([codes, _bucket_pairs(np.ascontiguousarray(keys[:, band]))]))
    return _as_pairs(codes)


class _ScratchFailed(Exception):
    """A scratch file could not be made, written or read back (a full or read-only disk)."""


class _Scratch:
    """The signatures (one row of `num_perm` uint32 a story) and each band's LSH keys (uint64 a
    story), appended chunk by chunk to unnamed temporary files in `folder` and read back a band
    or a few rows at a time, so that neither is held for every story. The files vanish when
    closed. `folder` "memory": held in numpy arrays instead (where no file can be written)."""

    def __init__(self, band_count: int, num_perm: int, folder: Path | str | None) -> None:
        import tempfile

        self.row_bytes = num_perm * 4
        self.num_perm = num_perm
        self.count = 0
        self.files: list = []
        self.held: list[list[np.ndarray]] | None = [[] for _ in range(band_count + 1)] if folder == "memory" else None
        if self.held is None:
            try:
                for _ in range(band_count + 1):
                    self.files.append(tempfile.TemporaryFile(dir=folder))
            except OSError as error:
                self.close()
                raise _ScratchFailed(str(error)) from error

    def add(self, signature: np.ndarray, keys: np.ndarray) -> None:
        parts = [np.ascontiguousarray(signature, dtype=np.uint32), *(np.ascontiguousarray(keys[:, band]) for band in range(keys.shape[1]))]
        if self.held is not None:
            for held, part in zip(self.held, parts):
                held.append(part)
        else:
            try:
                for handle, part in zip(self.files, parts):
                    handle.write(part.tobytes())
            except OSError as error:
                raise _ScratchFailed(str(error)) from error
        self.count += len(signature)

    def band(self, band: int) -> np.ndarray:
        if self.held is not None:
            return np.concatenate(self.held[1 + band]) if self.held[1 + band] else np.zeros(0, dtype=np.uint64)
        handle = self.files[1 + band]
        try:
            handle.flush()
            handle.seek(0)
            found = np.fromfile(handle, dtype=np.uint64, count=self.count)
        except OSError as error:
            raise _ScratchFailed(str(error)) from error
        if len(found) != self.count:
            raise _ScratchFailed("a scratch file came back short")
        return found

    def rows(self, indexes: np.ndarray) -> np.ndarray:
        """The signatures of stories `indexes` (sorted, unique), read by offset."""
        if self.held is not None:
            if len(self.held[0]) > 1:
                self.held[0] = [np.concatenate(self.held[0])]
            return self.held[0][0][indexes] if self.held[0] else np.zeros((0, self.num_perm), dtype=np.uint32)
        found = bytearray()
        try:
            self.files[0].flush()
            fd = self.files[0].fileno()
            for index in indexes.tolist():
                row = os.pread(fd, self.row_bytes, index * self.row_bytes)
                if len(row) != self.row_bytes:
                    raise _ScratchFailed("a scratch file came back short")
                found += row
        except OSError as error:
            raise _ScratchFailed(str(error)) from error
        return np.frombuffer(found, dtype=np.uint32).reshape(len(indexes), self.num_perm)

    def close(self) -> None:
        for handle in self.files:
            try:
                handle.close()
            except OSError:
                pass  # unflushed bytes of a file that vanishes anyway
        self.files, self.held = [], None


def _estimates(scratch: _Scratch, pairs: np.ndarray) -> np.ndarray:
    """The MinHash estimate of each pair's similarity (the share of equal signature values)."""
    estimate = np.empty(len(pairs))
    block_pairs = max(1, _PAIR_BLOCK // 4)  # up to twice as many rows of 512 bytes read at once
    for block in range(0, len(pairs), block_pairs):
        chunk = pairs[block : block + block_pairs]
        wanted, places = np.unique(chunk, return_inverse=True)
        places = places.reshape(chunk.shape)
        rows = scratch.rows(wanted)
        estimate[block : block + block_pairs] = (rows[places[:, 0]] == rows[places[:, 1]]).mean(axis=1)
    return estimate


def _segments(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """values[starts[k] : starts[k] + lengths[k]] for every k, one after the other."""
    total = int(lengths.sum())
    if not total:
        return values[:0]
    ends = np.cumsum(lengths)
    places = np.arange(total) - np.repeat(ends - lengths, lengths) + np.repeat(starts, lengths)
    return values[places]


def _exact_similarities(texts_of: Callable[[np.ndarray], list[str]], pairs: np.ndarray, size: int) -> np.ndarray:
    """The Jaccard similarity of each pair's two sets of hashed shingles (numpy: each story's
    distinct hashes, then the shared ones counted a block of pairs at a time by one sort)."""
    found = np.empty(len(pairs))
    block_pairs = max(1, _PAIR_BLOCK // 4)
    for block in range(0, len(pairs), block_pairs):
        chunk = pairs[block : block + block_pairs]
        wanted, places = np.unique(chunk, return_inverse=True)
        places = places.reshape(chunk.shape)
        hashes, starts = [], [0]
        for first in range(0, len(wanted), _BATCH):  # texts read a batch at a time, never a block's all at once
            hashed, offsets, _ = hashed_shingles(texts_of(wanted[first : first + _BATCH]), size)
            story = np.repeat(np.arange(len(offsets) - 1, dtype=np.uint64), np.diff(offsets))
            distinct = np.unique((story << np.uint64(32)) | hashed.astype(np.uint64))  # each story's hashes once, sorted
            counts = np.bincount((distinct >> np.uint64(32)).astype(np.int64), minlength=len(offsets) - 1)
            hashes.append((distinct & np.uint64(0xFFFFFFFF)).astype(np.uint32))
            starts.extend((starts[-1] + np.cumsum(counts)).tolist())
        values = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint32)
        offsets = np.asarray(starts, dtype=np.int64)
        counts = np.diff(offsets)
        tags = np.arange(len(chunk), dtype=np.uint64)
        joined = []
        for side in (0, 1):
            lengths = counts[places[:, side]]
            joined.append((np.repeat(tags, lengths) << np.uint64(32)) | _segments(values, offsets[places[:, side]], lengths).astype(np.uint64))
        both = np.sort(np.concatenate(joined))
        shared_at = both[1:][both[1:] == both[:-1]]  # a story's hashes are distinct: a repeat is in both
        shared = np.bincount((shared_at >> np.uint64(32)).astype(np.int64), minlength=len(chunk))
        found[block : block + len(chunk)] = shared / (counts[places[:, 0]] + counts[places[:, 1]] - shared)
    return found


def _components(count: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The smallest member of each place's connected component over the links (first[k], second[k])
    (numpy: roots hooked to the smaller root, then paths halved until every place points to its root)."""
    root = np.arange(count, dtype=np.int64)
    while True:
        one, two = root[first], root[second]
        apart = one != two
        if not apart.any():
            return root
        np.minimum.at(root, np.maximum(one, two)[apart], np.minimum(one, two)[apart])
        while True:
            above = root[root]
            if np.array_equal(above, root):
                break
            root = above


def _cluster_stream(
    chunks: Iterable[Sequence[str]],
    texts_of: Callable[[np.ndarray], list[str]],
    threshold: float,
    size: int,
    num_perm: int,
    *,
    parallel: bool,
    scratch_folder: Path | str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[int, list[tuple[np.ndarray, float]]]:
    """How many stories `chunks` held (their texts, in story order, a chunk at a time) and the
    clusters among them: each a sorted array of story numbers and its similarity, largest first,
    then by first member (see `cluster_stories` for the rules). Texts are read twice, never held
    all at once: in chunks to sign them, and by number (`texts_of`, sorted unique numbers) for
    the pairs whose similarity is checked exactly. Per story only numpy values are kept (its word
    key); signatures and band keys go to scratch files (`_Scratch`) in `scratch_folder`."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"--threshold {threshold}: give a similarity above 0 and at most 1")
    band_count, rows = bands(threshold, num_perm)
    scratch = _Scratch(band_count, num_perm, scratch_folder)
    try:
        keys = bytearray()
        for signature, chunk_keys in signature_chunks(chunks, size, num_perm, parallel=parallel):
            scratch.add(signature, _band_keys(signature, band_count, rows))
            keys += chunk_keys.tobytes()
            if on_progress is not None:
                on_progress(scratch.count)
        count = scratch.count
        # Stories with the same words are twins: each is linked to the first story with its key.
        word_key = np.frombuffer(keys, dtype="S16")
        worded = np.flatnonzero(word_key != _NO_WORDS)  # a story of no words (punctuation, a blank range) is nobody's twin
        order = worded[np.argsort(word_key[worded], kind="stable")]
        ordered = word_key[order]
        del keys, word_key
        starts = np.ones(len(order), dtype=bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        del ordered
        firsts = order[starts]
        twin_of = firsts[np.cumsum(starts) - 1]
        links_first, links_second = [twin_of[~starts]], [order[~starts]]
        similarity = [np.ones(int((~starts).sum()))]
        chosen = np.sort(firsts)
        del order, starts, firsts, twin_of
        # Banded LSH over the first story of each key, a band at a time from the scratch files.
        codes = np.zeros(0, dtype=np.uint64)
        for band in range(band_count):
            codes = np.unique(np.concatenate([codes, _bucket_pairs(scratch.band(band)[chosen])]))
        pairs = chosen[_as_pairs(codes)]
        del codes, chosen
        # the estimate settles the clear cases (see ESTIMATE_SURE); the rest are checked exactly
        estimate = _estimates(scratch, pairs)
    finally:
        scratch.close()
    sure = estimate >= threshold + ESTIMATE_SURE
    unsure = ~sure & (estimate >= threshold - ESTIMATE_SURE - 0.1)
    links_first.append(pairs[sure, 0])
    links_second.append(pairs[sure, 1])
    similarity.append(estimate[sure])
    exact = _exact_similarities(texts_of, pairs[unsure], size)
    kept = exact >= threshold
    links_first.append(pairs[unsure][kept, 0])
    links_second.append(pairs[unsure][kept, 1])
    similarity.append(exact[kept])
    first, second, similarity = np.concatenate(links_first), np.concatenate(links_second), np.concatenate(similarity)
    del pairs, estimate, exact
    involved = np.unique(np.concatenate([first, second]))
    # components over the involved stories only (numbered 0..len(involved)-1, in story order)
    root = _components(len(involved), np.searchsorted(involved, first), np.searchsorted(involved, second))
    lowest = np.ones(len(involved))
    np.minimum.at(lowest, root[np.searchsorted(involved, second)], similarity)
    order = np.argsort(root, kind="stable")
    bounds = np.flatnonzero(np.diff(root[order])) + 1
    groups = [involved[members] for members in np.split(order, bounds)] if len(order) else []
    lows = [float(lowest[root[members[0]]]) for members in np.split(order, bounds)] if len(order) else []
    found = sorted(zip(groups, lows), key=lambda group: (-len(group[0]), int(group[0][0])))
    return count, found


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
    `find_duplicates` does the same over a corpus without holding its texts.
    """

    def texts_of(indexes: np.ndarray) -> list[str]:
        return [stories[index].text for index in indexes.tolist()]

    for place in (None, "memory"):  # scratch files in the system's temporary folder, else in memory
        chunks = ([story.text for story in stories[first : first + _CHUNK]] for first in range(0, len(stories), _CHUNK))
        try:
            _, found = _cluster_stream(chunks, texts_of, threshold, size, num_perm, parallel=len(stories) >= PARALLEL_FROM, scratch_folder=place, on_progress=on_progress)
            break
        except _ScratchFailed:
            continue
    return [Cluster(number, similarity, [stories[index] for index in members.tolist()]) for number, (members, similarity) in enumerate(found, start=1)]


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


def _best_ranges(corpus) -> Iterable[tuple[int, list[tuple[int, int]] | None, str]]:
    """(position, story ranges, text) of every snippet, the ranges from its best record; None:
    the whole snippet.

    Gold is streamed in corpus order (`curate.export.rows.gold_source`: the records
    `corpus.gold()` holds, not skipped or flagged, read one at a time), so a large corpus's gold
    is never all in memory at once. Each snippet's line is read once (`read_snippet`)."""
    from curate.export.rows import gold_source, read_snippet

    # In an export, the gold source its progress total kept (its lines are found once, and the
    # lines this read checks are only decoded by the export's own read after it).
    reader = partial(read_snippet, corpus)
    gold = gold_source(corpus).pairs(reader) if corpus.layout.gold.exists() else iter(())
    next_gold = next(gold, None)
    journals = [corpus.journal(name) for name in corpus.annotators()]
    suggestions = corpus.suggestions() if corpus.layout.suggestions.exists() else None
    try:
        for position in range(len(corpus)):
            if next_gold is not None and next_gold[0] == position:
                _, snippet, record = next_gold
                next_gold = next(gold, None)
            else:
                snippet, record = None, annotated_record(None, journals, "", position)
            if record is None and suggestions is not None and suggestions.has_record(position):
                record = suggestions.record_at(position)
            text = (snippet or reader(position)).text
            yield position, ([(story.start, story.end) for story in record.stories] if record is not None and record.stories else None), text
    finally:
        for journal in journals:
            journal.close()
        if suggestions is not None:
            suggestions.close()


class _CorpusStories:
    """The stories of a corpus, from each snippet's best record (see the module docstring), as
    arrays: story number -> snippet position, start and end. Texts are read from snippets.jsonl
    when asked (`chunks`, then `texts_of`), never kept."""

    def __init__(self, corpus) -> None:
        self.corpus = corpus
        self._positions, self._starts, self._ends = array("q"), array("q"), array("q")
        self.positions = self.starts = self.ends = np.zeros(0, dtype=np.int64)

    def chunks(self, on_progress: Callable[[int], None] | None = None) -> Iterator[list[str]]:
        """The story texts in chunks of about `_CHUNK`, in corpus order, recording where each lies;
        `on_progress(snippets read)` after each chunk."""
        texts: list[str] = []
        for position, ranges, text in _best_ranges(self.corpus):
            for start, end in ranges or [(0, len(text))]:
                self._positions.append(position)
                self._starts.append(start)
                self._ends.append(end)
                texts.append(text[start:end])
            if len(texts) >= _CHUNK:
                yield texts
                texts = []
                if on_progress is not None:
                    on_progress(position + 1)
        if texts:
            yield texts
        if on_progress is not None:
            on_progress(len(self.corpus))
        self.positions, self.starts, self.ends = (np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, dtype=np.int64) for values in (self._positions, self._starts, self._ends))

    def texts_of(self, indexes: np.ndarray) -> list[str]:
        """The texts of stories `indexes` (sorted), each snippet read once."""
        from curate.export.rows import read_snippet

        texts = []
        position, text = -1, ""
        for index in indexes.tolist():
            if self.positions[index] != position:
                position = int(self.positions[index])
                text = read_snippet(self.corpus, position).text
            texts.append(text[int(self.starts[index]) : int(self.ends[index])])
        return texts

    def refs(self, indexes: np.ndarray, ids: dict[int, str]) -> list[StoryRef]:
        """StoryRefs of stories `indexes`, with no text (as a cached result has); `ids` caches snippet ids by position."""
        found = []
        for index in indexes.tolist():
            position = int(self.positions[index])
            if position not in ids:
                ids[position] = self.corpus.snippet_id(position)
            found.append(StoryRef(ids[position], int(self.starts[index]), int(self.ends[index]), ""))
        return found


def _scratch_folder(corpus) -> Path | None:
    """Where near-duplicate detection keeps its scratch files: the corpus's .curate/ folder (the
    corpus's disk, not a small /tmp), else the system's temporary folder."""
    folder = corpus.layout.dedup_cache.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def corpus_clusters(
    corpus,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DedupResult:
    """`cluster_stories` over every story of the corpus (see `_CorpusStories`), streamed: the
    texts are read a chunk at a time to sign them and again for the pairs checked exactly, and
    per story only numpy values are kept. Progress counts snippets (`on_total(len(corpus))`)."""
    if on_total is not None:
        on_total(len(corpus))
    # Scratch files in .curate/, else in the system's temporary folder, else (both full or
    # read-only) in memory: the result does not depend on where, so a failed attempt is redone.
    places = [_scratch_folder(corpus), None, "memory"]
    for place in places[1:] if places[0] is None else places:
        stories = _CorpusStories(corpus)
        try:
            count, found = _cluster_stream(
                stories.chunks(on_progress), stories.texts_of, threshold, SHINGLE_WORDS, NUM_PERM, parallel=len(corpus) >= PARALLEL_FROM, scratch_folder=place
            )
            break
        except _ScratchFailed:
            continue
    ids: dict[int, str] = {}
    clusters = [Cluster(number, similarity, stories.refs(members, ids)) for number, (members, similarity) in enumerate(found, start=1)]
    return DedupResult(count, clusters, threshold)


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


def cache_holds(corpus, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether .curate/dedup.json was made from the corpus's files as they are, with this
    threshold: only its key, at the start of the file, is read (not its clusters)."""
    head = f'{{"key": {json.dumps(_cache_key(corpus, threshold))}, "result": '.encode("utf-8")
    try:
        with corpus.layout.dedup_cache.open("rb") as cache:
            return cache.read(len(head)) == head
    except OSError:
        return False


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


def _cache_chunks(key: dict, result: DedupResult) -> Iterator[bytes]:
    """`json.dumps({"key": key, "result": result.to_json()})`, made a cluster at a time."""
    yield f'{{"key": {json.dumps(key)}, "result": {{"stories": {result.stories}, "clustered": {result.clustered}, "clusters": ['.encode("utf-8")
    batch: list[str] = []
    for number, cluster in enumerate(result.clusters):
        batch.append((", " if number else "") + json.dumps(cluster.to_json()))
        if len(batch) >= 1024:
            yield "".join(batch).encode("utf-8")
            batch = []
    batch.append("]}}")
    yield "".join(batch).encode("utf-8")


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
    result = corpus_clusters(corpus, threshold, on_total=on_total, on_progress=on_progress)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cache, _cache_chunks(key, result))
    except OSError:
        pass
    return result
