"""curate.dedup's pure functions: shingles, clusters of near-duplicate stories, page groups."""

from __future__ import annotations

import pytest
from wire_corpus import page_variant, shingle_set, wire_pages, wire_story

from curate.dedup import StoryRef, cluster_stories, jaccard, page_groups, shingles


def refs(texts: dict[str, str]) -> list[StoryRef]:
    return [StoryRef(snippet_id, 0, len(text), text) for snippet_id, text in texts.items()]


def test_two_changed_words_stay_above_the_threshold_with_3_grams_but_not_5_grams():
    story = wire_story(0, length=80)
    first, second = " ".join(story) + ".", page_variant(story, 1)
    assert jaccard(shingles(first), shingles(second)) >= 0.8
    # word 5-grams, as the issue measures leakage, fall under 0.8 for the same pair (why 3-grams)
    five = jaccard(shingle_set(first), shingle_set(second))
    assert 0.5 <= five < 0.8


def test_exact_twins_cluster_with_similarity_one():
    text = " ".join(wire_story(3))
    clusters = cluster_stories(refs({"a": text, "b": text, "c": " ".join(wire_story(4))}))
    assert [[member.snippet_id for member in cluster.members] for cluster in clusters] == [["a", "b"]]
    assert clusters[0].similarity == 1.0


def test_twins_that_differ_in_case_and_punctuation_are_exact_twins():
    text = " ".join(wire_story(5))
    clusters = cluster_stories(refs({"a": text, "b": text.upper() + "!"}))
    assert len(clusters) == 1 and clusters[0].similarity == 1.0


def test_a_story_with_two_words_changed_clusters_at_0_8():
    story = wire_story(1, length=80)
    clusters = cluster_stories(refs({"a": " ".join(story), "b": page_variant(story, 1)}), 0.8)
    assert len(clusters) == 1
    assert 0.8 <= clusters[0].similarity < 1.0


def test_stories_without_words_are_not_twins():
    assert cluster_stories(refs({"a": "  \n ", "b": "—", "c": ""})) == []


def test_unrelated_stories_do_not_cluster():
    assert cluster_stories(refs({f"s{number}": " ".join(wire_story(number)) for number in range(30)})) == []


def test_the_wire_corpus_gives_twenty_clusters_of_three_pages():
    pages = wire_pages()
    clusters = cluster_stories(refs(pages), 0.8)
    assert len(clusters) == 20
    assert all(len(cluster.members) == 3 for cluster in clusters)
    # each cluster is one wire story's pages: their texts share the story's words
    for cluster in clusters:
        texts = [pages[member.snippet_id] for member in cluster.members]
        assert all(jaccard(shingles(texts[0]), shingles(text)) >= 0.7 for text in texts[1:])
    groups = page_groups(clusters)
    assert len(groups) == 20 and sorted(snippet_id for group in groups for snippet_id in group) == sorted(pages)


def test_page_groups_joins_clusters_that_share_a_page():
    a = [StoryRef("p1", 0, 5, ""), StoryRef("p2", 0, 5, "")]
    b = [StoryRef("p2", 10, 20, ""), StoryRef("p3", 0, 5, "")]
    c = [StoryRef("p9", 0, 5, ""), StoryRef("p9", 10, 20, "")]
    from curate.dedup import Cluster

    assert page_groups([Cluster(1, 0.9, a), Cluster(2, 0.9, b), Cluster(3, 1.0, c)]) == [["p1", "p2", "p3"]]


def test_a_threshold_out_of_range_is_refused():
    import pytest

    with pytest.raises(ValueError, match="--threshold"):
        cluster_stories([], 1.5)


# ---------------------------------------------------------------- the fast path (issue 18, item 5)


def test_the_word_character_table_is_isalnum_or_underscore_at_every_code_point(monkeypatch):
    import numpy as np

    from curate import dedup

    monkeypatch.setattr(dedup, "_word_tables", {})
    table = dedup._is_word_char()
    expected = np.fromiter((chr(point).isalnum() or chr(point) == "_" for point in range(0x110000)), dtype=bool, count=0x110000)
    assert np.array_equal(table, expected)
    first_plane = dedup._is_word_char(0x10000)  # the table most text needs, built apart (quicker)
    assert len(first_plane) == 0x10000 and np.array_equal(first_plane, expected[:0x10000])


def test_word_hashes_find_the_words_the_regex_finds_even_in_hostile_unicode():
    import numpy as np

    from curate.dedup import word_hashes, words

    texts = ["İstanbul ß STRASSE Straße — “quoted” naïve café ٣٤ 中文字 e\u0301 x_y", "", "\ud800 lone surrogate, tab\tand\nnewline", "Plain words, plain WORDS."]
    hashes, counts = word_hashes(texts)
    expected = [words(text) for text in texts]
    assert counts.tolist() == [len(found) for found in expected]
    flat = [word for found in expected for word in found]
    # equal words hash equal, different words differently
    seen: dict[str, int] = {}
    for word, value in zip(flat, hashes.tolist()):
        assert seen.setdefault(word, value) == value
    assert len(set(seen.values())) == len(seen)
    assert hashes.dtype == np.uint64


def reference_word_hash(word: str) -> int:
    """The documented word hash in plain Python ints: sum of code point * 0x100000001B3**k plus
    the length, mod 2**64, then murmur3's 64-bit finaliser."""
    mask = (1 << 64) - 1
    value = (sum(ord(char) * pow(0x100000001B3, index, 1 << 64) for index, char in enumerate(word)) + len(word)) & mask
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        value = ((value ^ (value >> 33)) * multiplier) & mask
    return value ^ (value >> 33)


@pytest.mark.parametrize(
    "texts",
    [
        ["plain ascii words, twice: words", "Élan café naïve ÆØÅ ß"],  # Latin-1: one byte a code point
        ["İstanbul — “quoted” ٣٤ 中文字 e\u0301 ǅ ﬃ", "", "\ud800 lone surrogate"],  # the first plane
        ["𝒜𝒷𝒸 script 𠀀𠀁 astral", "mixed 中文 and 𝒜 and plain"],  # beyond it
    ],
)
def test_word_hashes_are_the_documented_hash_of_each_casefolded_word_at_every_width(texts):
    """Signatures (and any dedup cache) depend on these values: every way of reading the code
    points (uint8, uint16, uint32) gives the same hash a plain-Python reference does."""
    from curate.dedup import word_hashes, words

    hashes, counts = word_hashes(texts)
    expected = [word for text in texts for word in words(text)]
    assert counts.tolist() == [len(words(text)) for text in texts]
    assert hashes.tolist() == [reference_word_hash(word) for word in expected]


def test_hashed_shingle_similarity_equals_the_exact_jaccard_of_shingle_sets():
    from curate.dedup import hashed_shingles

    story = wire_story(11, length=60)
    texts = [" ".join(story), page_variant(story, 1), page_variant(story, 2), " ".join(wire_story(12, length=60)), "two words", ""]
    hashed, starts, keys = hashed_shingles(texts)
    sets = [set(hashed[starts[index] : starts[index + 1]].tolist()) for index in range(len(texts))]
    for first in range(len(texts)):
        for second in range(first + 1, len(texts)):
            assert jaccard(sets[first], sets[second]) == jaccard(shingles(texts[first]), shingles(texts[second]))
    assert keys[-1] == b"" and len(sets[4]) == 1  # a text shorter than a shingle is one shingle


def test_bands_find_a_pair_at_the_threshold_with_the_promised_probability():
    from curate.dedup import LSH_RECALL, bands

    for threshold in (0.5, 0.8, 0.95):
        for num_perm in (64, 128):
            count, rows = bands(threshold, num_perm)
            assert count * rows <= num_perm
            assert 1 - (1 - threshold**rows) ** count >= LSH_RECALL
            # one more row per band would break the promise: rows is as large as it can be
            if rows < num_perm:
                assert 1 - (1 - threshold ** (rows + 1)) ** (num_perm // (rows + 1)) < LSH_RECALL


def test_a_bucket_larger_than_the_pair_cap_is_still_joined_by_a_chain():
    import numpy as np

    from curate.dedup import BUCKET_PAIRS, _UnionFind, candidate_pairs

    same = np.ones((BUCKET_PAIRS * 3, 8), dtype=np.uint32)
    other = np.arange(8 * 5, dtype=np.uint32).reshape(5, 8) + 10
    pairs = candidate_pairs(np.concatenate([same, other]), 2, 4)
    assert len(pairs) < len(same) * (len(same) - 1) // 2
    links = _UnionFind(len(same) + len(other))
    for first, second in pairs.tolist():
        links.union(first, second)
    assert {links.find(index) for index in range(len(same))} == {0}
    assert all(links.find(len(same) + index) == len(same) + index for index in range(len(other)))


def _varied_stories(count: int = 120) -> list[StoryRef]:
    """Stories in families whose members differ from the family's first by 1 to 12 words, so
    pairs land on both sides of 0.8."""
    import random

    rng = random.Random(3)
    texts = {}
    for family in range(count // 4):
        story = wire_story(100 + family, length=rng.randint(20, 120))
        for member in range(4):
            changed = list(story)
            for _ in range(rng.randint(0, 12) if member else 0):
                changed[rng.randrange(len(changed))] = f"w{rng.randrange(10**6)}"
            texts[f"f{family:03d}-{member}"] = " ".join(changed)
    return refs(texts)


def test_clusters_equal_those_of_exact_jaccard_over_all_pairs():
    stories = _varied_stories()
    sets = [shingles(story.text) for story in stories]
    links = {}

    def find(item):
        while links.get(item, item) != item:
            item = links[item]
        return item

    near = 0
    for first in range(len(stories)):
        for second in range(first + 1, len(stories)):
            similarity = jaccard(sets[first], sets[second])
            near += 0.75 < similarity < 0.8 or 0.8 <= similarity < 0.85
            if similarity >= 0.8:
                one, two = find(first), find(second)
                if one != two:
                    links[max(one, two)] = min(one, two)
    groups: dict[int, list[str]] = {}
    for index, story in enumerate(stories):
        groups.setdefault(find(index), []).append(story.snippet_id)
    expected = sorted(sorted(ids) for ids in groups.values() if len(ids) >= 2)
    found = sorted(sorted(member.snippet_id for member in cluster.members) for cluster in cluster_stories(stories, 0.8))
    assert near >= 5  # the corpus has pairs near the threshold, where an estimate would err
    assert found == expected


def _signed(texts: list[str], num_perm: int, chunk: int, parallel: bool, chunks=None):
    """Every text's signature and word key through `signature_chunks`, chunks of `chunk` texts."""
    import numpy as np

    import curate.dedup as dedup

    if chunks is None:
        chunks = (texts[first : first + chunk] for first in range(0, len(texts), chunk))
    found = list(dedup.signature_chunks(chunks, 3, num_perm, parallel=parallel))
    return np.concatenate([signature for signature, _ in found]), [key for _, keys in found for key in keys], len(found)


def test_workers_give_the_same_signatures_as_one_process(monkeypatch):
    import numpy as np

    import curate.dedup as dedup

    texts = [story.text for story in _varied_stories(80)] * 3
    serial, serial_keys, _ = _signed(texts, 64, 1000, False)
    monkeypatch.setattr(dedup, "workers", lambda: 2)
    parallel, parallel_keys, chunks = _signed(texts, 64, 50, True)
    assert np.array_equal(serial, parallel) and serial_keys == parallel_keys
    assert chunks == 5  # 240 texts, in chunks of 50, given back in order


def test_a_pool_that_cannot_start_falls_back_to_one_process(monkeypatch):
    import concurrent.futures
    from concurrent.futures.process import BrokenProcessPool

    import numpy as np

    import curate.dedup as dedup

    class Broken:
        def __init__(self, *args, **kwargs):
            raise BrokenProcessPool("no workers here")

    texts = [story.text for story in _varied_stories(40)]
    serial, _, _ = _signed(texts, 64, 1000, False)
    monkeypatch.setattr(dedup, "workers", lambda: 2)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Broken)
    fallback, _, _ = _signed(texts, 64, 7, True)
    assert np.array_equal(serial, fallback)


def _job_that_dies_on_one_chunk(arguments):
    """A worker's job that kills its process on the chunk starting with `dedup._dying_text` (at module level: workers find it by name)."""
    import os

    import curate.dedup as dedup

    if arguments[0][0] == dedup._dying_text:
        os._exit(3)  # the worker process dies (killed, out of memory)
    return dedup._real_signatures_job(arguments)


def test_a_worker_that_dies_midway_leaves_the_rest_to_this_process(monkeypatch):
    """The chunks a broken pool did not give back, and every later one, are hashed here, in order."""
    import threading

    import numpy as np

    import curate.dedup as dedup

    texts = [story.text for story in _varied_stories(80)]
    serial, serial_keys, _ = _signed(texts, 32, 1000, False)
    monkeypatch.setattr(dedup, "_real_signatures_job", dedup._signatures_job, raising=False)
    monkeypatch.setattr(dedup, "_dying_text", texts[30], raising=False)
    monkeypatch.setattr(dedup, "_signatures_job", _job_that_dies_on_one_chunk)
    monkeypatch.setattr(dedup, "workers", lambda: 2)
    # Forked workers see the patches above; a thread left by an earlier test would have the
    # pool start clean forkserver workers, which would not.
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    parallel, parallel_keys, chunks = _signed(texts, 32, 10, True)
    assert np.array_equal(serial, parallel) and serial_keys == parallel_keys
    assert chunks == 8


def test_an_error_reading_the_texts_is_not_taken_for_a_broken_pool(monkeypatch):
    import pytest

    import curate.dedup as dedup

    texts = [story.text for story in _varied_stories(40)]

    def chunks():
        yield texts[:10]
        yield texts[10:20]
        raise OSError(5, "snippets.jsonl: input/output error")

    monkeypatch.setattr(dedup, "workers", lambda: 2)
    for parallel in (True, False):
        with pytest.raises(OSError, match="input/output error"):
            _signed(texts, 32, 10, parallel, chunks())


def test_workers_started_beside_a_thread_get_their_texts_and_agree(monkeypatch):
    """With a thread running (the UI's workers), workers are not forked: jobs carry their texts."""
    import threading

    import numpy as np

    import curate.dedup as dedup

    texts = [story.text for story in _varied_stories(40)] * 2
    serial, serial_keys, _ = _signed(texts, 32, 1000, False)
    monkeypatch.setattr(dedup, "workers", lambda: 2)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        import multiprocessing

        chosen = []
        real = multiprocessing.get_context
        monkeypatch.setattr(multiprocessing, "get_context", lambda method: chosen.append(method) or real(method))
        parallel, parallel_keys, _ = _signed(texts, 32, 20, True)
    finally:
        stop.set()
        thread.join()
    assert chosen == ["forkserver"]
    assert np.array_equal(serial, parallel) and serial_keys == parallel_keys


def test_signatures_are_the_minimum_of_each_permutation_over_each_texts_shingles(monkeypatch):
    """The MinHash rows (worked out a block of permutations at a time) equal a plain loop:
    per text and permutation, min((a*x + b) mod 2**32) over its hashed shingles; batches split
    texts without changing a row, and a text without words keeps all ones."""

    from curate import dedup

    monkeypatch.setattr(dedup, "_BATCH", 3)  # batches of three texts: several batches, a short last one
    texts = [" ".join(wire_story(seed, length=40 + seed)) for seed in range(5)] + ["", "two words", "... !"]
    signature, keys = dedup.signatures(texts, num_perm=40)  # 40: blocks of 32 and a short one
    a, b = dedup._permutation(40)
    hashed, starts, _ = dedup.hashed_shingles(texts)
    for number in range(len(texts)):
        own = [int(value) for value in hashed[starts[number] : starts[number + 1]]]
        expected = [min(((int(a[column]) * value + int(b[column])) % 2**32 for value in own), default=2**32 - 1) for column in range(40)]
        assert signature[number].tolist() == expected
    assert keys[5] == b"" and keys[7] == b"" and keys[6] != b""


def test_word_keys_are_equal_exactly_for_the_same_words_in_the_same_order():
    from curate.dedup import hashed_shingles

    story = wire_story(21, length=50)
    texts = [
        " ".join(story),
        " ".join(story).upper() + " !!",  # same words: case and punctuation do not count
        " ".join(story[1:] + story[:1]),  # a word moved
        " ".join(story[:-1]),  # a word dropped
        " ".join(story + story[-1:]),  # a word repeated
        " ".join(story[:25] + story[26:25:-1] + story[25:26] + story[27:]),  # two words swapped
        "a b", "b a", "a", "", "—",  # short texts, no words
    ] + [" ".join(wire_story(seed, length=30)) for seed in range(200)]
    _, _, keys = hashed_shingles(texts)
    keys = keys.tolist()
    assert keys[0] == keys[1]
    distinct = [keys[0]] + keys[2:9] + keys[11:]
    assert len(set(distinct)) == len(distinct) and all(len(key) for key in distinct)
    assert keys[9] == keys[10] == b""
    _, _, again = hashed_shingles(list(reversed(texts)))  # a text's key does not depend on its batch
    assert again.tolist()[::-1] == keys
