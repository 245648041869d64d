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
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

SHINGLE_WORDS = 3
NUM_PERM = 256
LSH_MARGIN = 0.15
"""LSH looks for candidates this far under the threshold: banded LSH misses about half the pairs
that sit just over its own threshold, and every candidate is checked against the threshold anyway."""
DEFAULT_THRESHOLD = 0.8
CACHE_VERSION = 1

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
    return [word.casefold() for word in _WORD.findall(text)]


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
    """The lowest estimated Jaccard similarity of the pairs that linked the cluster."""
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


def cluster_stories(
    stories: Sequence[StoryRef],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    size: int = SHINGLE_WORDS,
    num_perm: int = NUM_PERM,
    on_progress: Callable[[int], None] | None = None,
) -> list[Cluster]:
    """Clusters (two members or more) of stories whose estimated Jaccard similarity over word
    shingles is at least `threshold`, linked transitively; largest first, then by first member.

    Exact twins (same words) are joined by their text hash before MinHash sees them; LSH then
    proposes candidate pairs and each is kept only when its MinHash estimate reaches `threshold`.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"--threshold {threshold}: give a similarity above 0 and at most 1")
    from datasketch import MinHash, MinHashLSH

    links = _UnionFind(len(stories))
    lowest: dict[tuple[int, int], float] = {}
    first_of_text: dict[bytes, int] = {}
    representatives: list[int] = []
    for index, story in enumerate(stories):
        story_words = words(story.text)
        if not story_words:
            continue  # a story of no words (punctuation, a blank range) is nobody's twin
        key = hashlib.blake2b(" ".join(story_words).encode("utf-8"), digest_size=16).digest()
        twin = first_of_text.setdefault(key, index)
        if twin != index:
            links.union(twin, index)
            lowest[(twin, index)] = 1.0
        else:
            representatives.append(index)
    lsh = MinHashLSH(threshold=max(0.05, threshold - LSH_MARGIN), num_perm=num_perm)
    hashes: dict[int, MinHash] = {}
    for count, index in enumerate(representatives, start=1):
        grams = shingles(stories[index].text, size)
        if grams:
            signature = MinHash(num_perm=num_perm, seed=1)
            signature.update_batch(grams)
            for other in lsh.query(signature):
                similarity = signature.jaccard(hashes[other])
                if similarity >= threshold:
                    links.union(other, index)
                    lowest[(other, index)] = similarity
            lsh.insert(index, signature)
            hashes[index] = signature
        if on_progress is not None:
            on_progress(count)
    groups: dict[int, list[int]] = {}
    for index in range(len(stories)):
        groups.setdefault(links.find(index), []).append(index)
    similarity_of: dict[int, float] = {}
    for (first, _), value in lowest.items():
        root = links.find(first)
        similarity_of[root] = min(similarity_of.get(root, 1.0), value)
    found = [members for members in groups.values() if len(members) >= 2]
    found.sort(key=lambda members: (-len(members), members[0]))
    return [Cluster(number, similarity_of.get(members[0], 1.0), [stories[index] for index in members]) for number, members in enumerate(found, start=1)]


def page_groups(clusters: Iterable[Cluster]) -> list[list[str]]:
    """Snippet ids linked by a shared near-duplicate story, as connected components (two ids or
    more each, sorted), sorted by their smallest id."""
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for cluster in clusters:
        ids = sorted({member.snippet_id for member in cluster.members})
        for other in ids[1:]:
            first, second = find(ids[0]), find(other)
            if first != second:
                parent[max(first, second)] = min(first, second)
    components: dict[str, list[str]] = {}
    for item in list(parent):
        components.setdefault(find(item), []).append(item)
    return sorted((sorted(ids) for ids in components.values() if len(ids) >= 2), key=lambda ids: ids[0])


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


def _best_ranges(corpus) -> Iterable[tuple[int, list[tuple[int, int]] | None]]:
    """(position, story ranges) of every snippet from its best record; None: the whole snippet."""
    gold = corpus.gold() if corpus.layout.gold.exists() else None
    journals = [corpus.journal(name) for name in corpus.annotators()]
    suggestions = corpus.suggestions() if corpus.layout.suggestions.exists() else None
    try:
        for position in range(len(corpus)):
            record = None
            if gold is not None:
                record = gold.get(corpus.snippet_id(position))
                if record is not None and record.status in ("skipped", "flagged"):
                    record = None
            if record is None:
                for journal in journals:
                    if journal.status_of(position) == "done":
                        record = journal.record_at(position)
                        if record is not None:
                            break
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
    clusters = [
        Cluster(item["id"], item["similarity"], [StoryRef(member["snippet_id"], member["start"], member["end"], "") for member in item["members"]])
        for item in data["result"]["clusters"]
    ]
    return DedupResult(data["result"]["stories"], clusters, threshold, cached=True)


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
            if data.get("key") == key:
                return _from_cache(data, threshold)
        except (OSError, ValueError, KeyError, TypeError):
            pass
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
