"""Near-duplicate detection over a corpus streams (curate.dedup.corpus_clusters: texts read a chunk
at a time, signatures and band keys in scratch files, per story only numpy values) and finds what
the in-memory clustering it replaced found (tests/dedup_reference.py): the same clusters, members,
similarities and order, on a generated corpus with planted near-duplicates on both sides of the
threshold, exact twins, wordless stories and snippets cut into several stories."""

from __future__ import annotations

import json
import random

import pytest
from dedup_reference import reference_cluster_stories, reference_corpus_stories

import curate.dedup as dedup
from curate.dedup import ESTIMATE_SURE, StoryRef, cluster_stories, find_duplicates
from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout

WORDS = [f"w{number}" for number in range(400)]


def _story(rng: random.Random, length: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(length)]


def _changed(rng: random.Random, story: list[str], count: int) -> list[str]:
    copy = list(story)
    for _ in range(count):
        copy[rng.randrange(len(copy))] = f"new{rng.randrange(10**6)}"
    return copy


def planted_pages(count: int, seed: int = 5, long_words: int = 0) -> dict[str, str]:
    """Snippet id -> text: families of a story and copies with 0 to 14 words changed (pairs land on
    both sides of 0.8), copies in other case and punctuation (exact twins), pages of two stories
    (the second a copy of another family's story), pages of punctuation only; shuffled."""
    rng = random.Random(seed)
    pages: list[str] = []
    families: list[list[str]] = []
    while len(pages) < count:
        story = _story(rng, rng.randint(8, 90)) + ["x" * long_words] * bool(long_words)
        families.append(story)
        pages.append(" ".join(story) + ".")
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            kind = rng.random()
            if kind < 0.15:
                pages.append(" ".join(story).upper() + "!")
            elif kind < 0.25:
                pages.append("...")
            else:
                pages.append(" ".join(_changed(rng, story, rng.randint(0, 14))) + ".")
        if len(families) > 3 and rng.random() < 0.2:
            other = rng.choice(families[:-1])
            pages.append(" ".join(_story(rng, 30)) + ".\n" + " ".join(_changed(rng, other, rng.randint(0, 3))) + ".")
    rng.shuffle(pages)
    return {f"p{number:05d}": text for number, text in enumerate(pages[:count])}


def build(tmp_path, pages: dict[str, str]):
    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in pages.items()))
    folder = tmp_path / "corpus"
    ingest([source], folder)
    # pages of two stories are cut in gold (most) or by an annotator's done record
    gold, done = [], []
    for number, (key, text) in enumerate(pages.items()):
        cut = text.find(".\n")
        if cut > 0:
            record = {"snippet_id": key, "annotator": "ana", "stories": [{"start": 0, "end": cut + 2}, {"start": cut + 2, "end": len(text)}], "status": "done"}
            (done if number % 3 == 0 else gold).append(record)
    CorpusLayout(folder).gold.write_text("".join(json.dumps({**record, "annotator": "gold", "sources": ["ana"], "adjudicator": "cy"}) + "\n" for record in gold))
    journal = CorpusLayout(folder).journal("ana")
    journal.parent.mkdir(exist_ok=True)
    journal.write_text("".join(json.dumps(record) + "\n" for record in done))
    return folder


def described(clusters) -> list[tuple[int, float, list[tuple[str, int, int]]]]:
    return [(cluster.id, cluster.similarity, [(member.snippet_id, member.start, member.end) for member in cluster.members]) for cluster in clusters]


@pytest.mark.parametrize(("threshold", "chunk", "pair_block", "pool"), [(0.8, 5_000, 20_000, False), (0.8, 37, 8, True), (0.6, 50, 12, False)])
def test_the_streamed_corpus_clustering_is_the_in_memory_one(tmp_path, monkeypatch, threshold, chunk, pair_block, pool):
    folder = build(tmp_path, planted_pages(700))
    monkeypatch.setattr(dedup, "_CHUNK", chunk)
    monkeypatch.setattr(dedup, "_PAIR_BLOCK", pair_block)
    if pool:
        monkeypatch.setattr(dedup, "PARALLEL_FROM", 100)
        monkeypatch.setattr(dedup, "workers", lambda: 2)
    with Corpus.open(folder) as corpus:
        stories = reference_corpus_stories(corpus)
        expected = reference_cluster_stories(stories, threshold)
        found = find_duplicates(corpus, threshold, use_cache=False)
    assert found.stories == len(stories) > 700  # pages of two stories were cut
    assert described(found.clusters) == described(expected)
    # the corpus tests what it should: many clusters, some joined by a pair checked exactly
    assert len(expected) > 50 and any(cluster.similarity < threshold + ESTIMATE_SURE for cluster in expected)
    assert any(cluster.similarity == 1.0 for cluster in expected) and any(member.start > 0 for cluster in expected for member in cluster.members)


def test_cluster_stories_over_a_list_is_the_in_memory_one(monkeypatch):
    pages = planted_pages(900, seed=8)
    stories = [StoryRef(key, 0, len(text), text) for key, text in pages.items()]
    expected = reference_cluster_stories(stories, 0.7)
    monkeypatch.setattr(dedup, "_CHUNK", 64)
    monkeypatch.setattr(dedup, "_PAIR_BLOCK", 40)
    found = cluster_stories(stories, 0.7)
    assert described(found) == described(expected) and len(expected) > 50
    assert [[member.text for member in cluster.members] for cluster in found] == [[member.text for member in cluster.members] for cluster in expected]


def test_the_corpus_clustering_does_not_hold_the_texts(tmp_path, monkeypatch):
    """The peak allocation of finding the duplicates stays well under the corpus's text (the
    in-memory clustering held every story text, and a 512-byte signature a story, at once)."""
    import tracemalloc

    pages = planted_pages(2_000, seed=9, long_words=2_000)  # each text carries a 2,000-character word: long texts, few shingles
    folder = build(tmp_path, pages)
    text_bytes = sum(len(text) for text in pages.values())
    monkeypatch.setattr(dedup, "_CHUNK", 100)
    monkeypatch.setattr(dedup, "_BATCH", 5)  # hashing holds arrays of 8 bytes a character of a batch
    dedup._is_word_char()  # the code point table, built once a process
    with Corpus.open(folder) as corpus:
        find_duplicates(corpus, 0.8, use_cache=False)  # once untraced: the modules it imports are not counted
        tracemalloc.start()
        try:
            found = find_duplicates(corpus, 0.8, use_cache=False)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        expected = reference_cluster_stories(reference_corpus_stories(corpus), 0.8)
    assert described(found.clusters) == described(expected)
    assert peak < text_bytes / 2, f"peak {peak / 1e6:.1f} MB for {text_bytes / 1e6:.1f} MB of text"


def test_a_full_disk_moves_the_scratch_files_elsewhere_and_changes_nothing(tmp_path, monkeypatch):
    """Scratch files go to .curate/; on a full corpus disk to the system's temporary folder, and
    where no file can be written at all, into memory: the same clusters every time, and nothing
    is left in the corpus folder (the cache, which cannot be saved either, is not half-written)."""
    import tempfile

    from disk_faults import FullDisk, files_under

    folder = build(tmp_path, planted_pages(400, seed=11))
    with Corpus.open(folder) as corpus:
        expected = reference_cluster_stories(reference_corpus_stories(corpus), 0.8)
    before = files_under(folder)
    places = []

    class Recorded(dedup._Scratch):
        def __init__(self, band_count, num_perm, place):
            places.append(place)
            super().__init__(band_count, num_perm, place)

    monkeypatch.setattr(dedup, "_Scratch", Recorded)
    with monkeypatch.context() as patch:
        FullDisk(folder, patch)
        with Corpus.open(folder) as corpus:
            found = find_duplicates(corpus, 0.8)
    assert described(found.clusters) == described(expected)
    assert places == [folder / ".curate", None]  # .curate/ could not take the bytes: the system's temporary folder did
    assert files_under(folder) == before

    made = []
    real = tempfile.TemporaryFile

    def no_scratch(*args, **kwargs):
        if len(made) >= 5:  # some scratch files are made, then none can be
            raise OSError(28, "No space left on device")
        made.append(kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", no_scratch)
    with Corpus.open(folder) as corpus:
        found = find_duplicates(corpus, 0.8, use_cache=False)
    assert described(found.clusters) == described(expected)
    assert made and made[0] == folder / ".curate"
    assert places[-3:] == [folder / ".curate", None, "memory"]
    with Corpus.open(folder) as corpus:
        stories = reference_corpus_stories(corpus)
    assert described(cluster_stories(stories, 0.8)) == described(expected)
    assert places[-2:] == [None, "memory"]


def test_an_error_reading_the_corpus_is_not_taken_for_a_scratch_failure(tmp_path, monkeypatch):
    from curate.store import StoreError

    folder = build(tmp_path, planted_pages(300, seed=12))
    reads = []
    real = Corpus._line  # what every read of a snippet's line goes through (dedup reads the line itself)

    def failing(self, position):
        reads.append(position)
        if len(reads) == 150:
            raise StoreError("snippets.jsonl: shorter than its index; was it changed after ingest?")
        return real(self, position)

    monkeypatch.setattr(Corpus, "_line", failing)
    with Corpus.open(folder) as corpus, pytest.raises(StoreError, match="shorter than its index"):
        find_duplicates(corpus, 0.8, use_cache=False)
    assert len(reads) == 150  # read once: not redone as if a scratch file had failed


def test_progress_counts_snippets_read_up_to_the_corpus_size(tmp_path, monkeypatch):
    folder = build(tmp_path, planted_pages(300, seed=13))
    monkeypatch.setattr(dedup, "_CHUNK", 40)
    totals, done = [], []
    with Corpus.open(folder) as corpus:
        find_duplicates(corpus, 0.8, use_cache=False, on_total=totals.append, on_progress=done.append)
        size = len(corpus)
    assert totals == [size]
    assert len(done) >= 300 // 40 and done == sorted(done) and done[-1] == size and 0 < done[0] < size
