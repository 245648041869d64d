"""Benchmark of near-duplicate detection (`curate.dedup`) on synthetic wire stories, with recall and precision.

Stories are made here, never read from or written to the project: originals are random word
sequences (30-330 words, mean 180, like the Reuters dev stories' mean of 183) drawn from a
20,000-word vocabulary with Zipf frequencies (so unrelated stories share common words and
some 3-grams, as real text does), each opened by a dateline ("PARIS, March 3 (Reuters) -").
A fifth of the originals are syndicated: 1-3 copies each, every copy with one word replaced,
or its dateline's city and date changed, or both. Copies are shuffled among the originals.

Truth is the planted families (an original and its copies). Figures are over pairs of stories:
recall = found pairs that are planted / planted pairs, precision = found pairs that are planted /
found pairs (a found pair is two stories in one cluster). A copy of a short story with its dateline
changed can fall under the threshold, so `recall_over_threshold` counts only the planted pairs
whose exact Jaccard similarity over word 3-grams (Python sets) reaches it.

Each size (`--sizes`, default 100000 and 1000000) is timed through `cluster_stories` (the whole
clustering: words, exact twins, MinHash, LSH, verification, union-find) in wall seconds and in CPU
seconds of this process and its workers (the machine is shared: CPU seconds say what the work costs
when wall seconds include waiting for a core), with the peak resident memory of this process and of
its hashing workers. `--corpus N` also builds a corpus folder of N snippets (one story each, in a
temporary folder under /tmp, removed afterwards) and times `find_duplicates` cold (no cache:
reading the best records, clustering, writing .curate/dedup.json) and warm (the cache read back).
`--baseline N` times datasketch's own MinHash + MinHashLSH (the code path before issue 18 item 5:
256 permutations, one MinHash object per story, pairs kept by their estimate) and
`cluster_stories` on the same N stories, the anchor measured in the same run. Prints one JSON
object (progress lines go to stderr).

    .venv/bin/python scripts/bench_dedup.py [--sizes 100000,1000000] [--corpus 100000] [--baseline 10000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CITIES = ["PARIS", "LONDON", "NEW YORK", "TOKYO", "BERLIN", "MOSCOW", "BEIJING", "SYDNEY", "CAIRO", "NAIROBI", "LIMA", "OTTAWA"]
MONTHS = ["Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 9))))
    return sorted(words)


def dateline(rng: random.Random) -> str:
    return f"{rng.choice(CITIES)}, {rng.choice(MONTHS)} {rng.randint(1, 28)} (Reuters) -"


def synthetic_stories(count: int, seed: int = 18) -> tuple[list[str], np.ndarray]:
    """`count` story texts and, for each, the number of its planted family (original and copies)."""
    rng = random.Random(seed)
    generator = np.random.default_rng(seed)
    vocab = vocabulary(20_000, rng)
    weights = np.cumsum(1.0 / np.arange(1, len(vocab) + 1))
    weights /= weights[-1]
    texts: list[str] = []
    family: list[int] = []
    originals = 0
    while len(texts) < count:
        length = rng.randint(30, 330)
        body = [vocab[index] for index in np.searchsorted(weights, generator.random(length)).tolist()]
        head = dateline(rng)
        texts.append(head + " " + " ".join(body) + ".")
        family.append(originals)
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 3)):
                if len(texts) >= count:
                    break
                kind = rng.random()
                copy = list(body)
                copy_head = head
                if kind < 0.6 or kind >= 0.8:
                    copy[rng.randrange(length)] = rng.choice(vocab)
                if kind >= 0.6:
                    copy_head = dateline(rng)
                texts.append(copy_head + " " + " ".join(copy) + ".")
                family.append(originals)
        originals += 1
    order = list(range(count))
    rng.shuffle(order)
    return [texts[index] for index in order], np.asarray([family[index] for index in order], dtype=np.int64)


def pair_scores(clusters, family: np.ndarray, position: dict[tuple[str, int], int], texts: list[str], threshold: float) -> dict:
    """Recall and precision over pairs of stories against the planted families; and recall over
    the planted pairs whose exact Jaccard similarity (Python sets of `curate.dedup.shingles`,
    not the hashed shingles the clustering uses) reaches the threshold: the pairs a perfect
    clustering at this threshold finds directly (a short story with its dateline changed can
    fall under it)."""
    from curate.dedup import jaccard, shingles

    sizes = np.bincount(family)
    planted = int((sizes * (sizes - 1) // 2).sum())
    cluster_of = np.full(len(family), -1, dtype=np.int64)
    found = true = 0
    for number, cluster in enumerate(clusters):
        indexes = [position[(member.snippet_id, member.start)] for member in cluster.members]
        cluster_of[indexes] = number
        members = family[indexes]
        found += len(members) * (len(members) - 1) // 2
        counts = np.unique(members, return_counts=True)[1]
        true += int((counts * (counts - 1) // 2).sum())
    order = np.argsort(family, kind="stable")
    bounds = np.flatnonzero(np.diff(family[order])) + 1
    over = over_found = 0
    for group in np.split(order, bounds):
        if len(group) < 2:
            continue
        sets = [shingles(texts[index]) for index in group]
        for first in range(len(group)):
            for second in range(first + 1, len(group)):
                if jaccard(sets[first], sets[second]) >= threshold:
                    over += 1
                    over_found += cluster_of[group[first]] == cluster_of[group[second]] != -1
    return {
        "planted_pairs": planted,
        "found_pairs": found,
        "true_pairs": true,
        "recall": round(true / planted, 5) if planted else 1.0,
        "precision": round(true / found, 5) if found else 1.0,
        "planted_pairs_over_threshold": over,
        "recall_over_threshold": round(int(over_found) / over, 5) if over else 1.0,
    }


def peak_rss_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_mb": round(own), "largest_worker_mb": round(children)}


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the hashing workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_size(count: int, threshold: float) -> dict:
    from curate.dedup import StoryRef, cluster_stories

    made = time.perf_counter()
    texts, family = synthetic_stories(count)
    made = time.perf_counter() - made
    stories = [StoryRef(f"s{index:07d}", 0, len(text), text) for index, text in enumerate(texts)]
    position = {(story.snippet_id, story.start): index for index, story in enumerate(stories)}
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), cpu_seconds()
    clusters = cluster_stories(stories, threshold)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    print(f"{count} stories: {seconds:.1f} s", file=sys.stderr, flush=True)
    result = {
        "stories": count,
        "words": sum(len(story.text.split()) for story in stories),
        "generate_s": round(made, 2),
        "cluster_s": round(seconds, 2),
        "cluster_cpu_s": round(cpu, 2),
        "stories_per_s": round(count / seconds),
        "clusters": len(clusters),
        "peak_rss_before_mb": round(rss_before),
        "peak_rss": peak_rss_mb(),
    }
    scored = time.perf_counter()
    result.update(pair_scores(clusters, family, position, texts, threshold))
    result["score_s"] = round(time.perf_counter() - scored, 2)
    return result


def run_baseline(count: int, threshold: float) -> dict:
    """datasketch's MinHash (256 permutations, one object per story) and MinHashLSH, the code
    before this bench (candidates kept by their MinHash estimate); pairs only, no union-find."""
    from datasketch import MinHash, MinHashLSH

    from curate.dedup import shingles

    texts, _ = synthetic_stories(count)
    started, cpu = time.perf_counter(), cpu_seconds()
    lsh = MinHashLSH(threshold=threshold - 0.15, num_perm=256)  # the old LSH_MARGIN
    hashes = {}
    pairs = []
    for index, text in enumerate(texts):
        signature = MinHash(num_perm=256, seed=1)
        signature.update_batch(shingles(text))
        for other in lsh.query(signature):
            if signature.jaccard(hashes[other]) >= threshold:
                pairs.append((other, index))
        lsh.insert(index, signature)
        hashes[index] = signature
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    from curate.dedup import StoryRef, cluster_stories

    stories = [StoryRef(f"s{index:07d}", 0, len(text), text) for index, text in enumerate(texts)]
    started, our_cpu = time.perf_counter(), cpu_seconds()
    cluster_stories(stories, threshold)
    ours, our_cpu = time.perf_counter() - started, cpu_seconds() - our_cpu
    return {
        "stories": count,
        "datasketch_s": round(seconds, 2),
        "datasketch_cpu_s": round(cpu, 2),
        "cluster_stories_s": round(ours, 2),
        "cluster_stories_cpu_s": round(our_cpu, 2),
        "speedup_cpu": round(cpu / our_cpu, 1),
        "datasketch_pairs": len(pairs),
    }


def run_corpus(count: int, threshold: float) -> dict:
    from curate.dedup import find_duplicates
    from curate.ingest import ingest
    from curate.store import Corpus

    texts, _ = synthetic_stories(count)
    root = Path(tempfile.mkdtemp(prefix="bench_dedup_", dir="/tmp"))
    try:
        source = root / "pages.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for index, text in enumerate(texts):
                handle.write(json.dumps({"id": f"page-{index:07d}", "text": text}) + "\n")
        corpus_dir = root / "corpus"
        started = time.perf_counter()
        ingest([source], corpus_dir)
        ingest_s = time.perf_counter() - started
        timings = {}
        for name in ("cold", "warm"):
            with Corpus.open(corpus_dir) as corpus:
                started = time.perf_counter()
                result = find_duplicates(corpus, threshold)
                timings[name] = {"seconds": round(time.perf_counter() - started, 3), "cached": result.cached, "clusters": len(result.clusters)}
        return {"snippets": count, "ingest_s": round(ingest_s, 2), "find_duplicates": timings}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated story counts to time")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--corpus", type=int, default=100_000, help="snippets of the corpus-folder run (0: skip)")
    parser.add_argument("--baseline", type=int, default=10_000, help="stories for the datasketch-only anchor (0: skip)")
    options = parser.parse_args()
    from curate.dedup import NUM_PERM, SHINGLE_WORDS, workers

    out: dict = {"cores": os.cpu_count(), "threshold": options.threshold, "num_perm": NUM_PERM, "shingle_words": SHINGLE_WORDS, "workers": workers(), "goal": "100k stories in <= 60 s"}
    if options.baseline:
        out["baseline_datasketch"] = run_baseline(options.baseline, options.threshold)
    out["sizes"] = [run_size(int(size), options.threshold) for size in options.sizes.split(",") if size]
    if options.corpus:
        out["corpus"] = run_corpus(options.corpus, options.threshold)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
