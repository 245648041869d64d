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
reading the best records, clustering, writing .curate/dedup.json) in a child process of its own,
with its wall and CPU seconds (workers included), its peak resident memory (VmHWM) and its
largest worker's, `--corpus-runs` times (medians), and warm (the cache read back). With
`--compare-with DIR` (another version of the `curate` package, e.g. `git archive COMMIT curate |
tar -x -C DIR`) that version's cold run is timed on the same corpus in the same run, alternating,
and the two versions' clusters are compared.
`--baseline N` times datasketch's own MinHash + MinHashLSH (the code path before issue 18 item 5:
256 permutations, one MinHash object per story, pairs kept by their estimate) and
`cluster_stories` on the same N stories, the anchor measured in the same run. Prints one JSON
object (progress lines go to stderr).

    .venv/bin/python scripts/bench_dedup.py [--sizes 100000,1000000] [--corpus 100000] [--baseline 10000] [--corpus-runs 3] [--compare-with DIR]
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


# find_duplicates, cold, in a process of its own (its peak memory its own, not the setup's):
# wall and CPU seconds (its hashing workers' included), its VmHWM and its largest worker's peak.
CHILD = """
import hashlib, json, resource, sys, time
from pathlib import Path
sys.path.insert(0, __SCRIPTS_DIR__)
from benchkit import peak_rss_mb
import curate.dedup
from curate.dedup import find_duplicates
from curate.store import Corpus

def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

with Corpus.open(sys.argv[1]) as corpus:
    len(corpus)
    started, used = time.perf_counter(), cpu()
    result = find_duplicates(corpus, float(sys.argv[2]), use_cache=False)
    seconds, used = time.perf_counter() - started, cpu() - used
clusters = json.dumps([[[member.snippet_id, member.start, member.end] for member in cluster.members] + [round(cluster.similarity, 12)] for cluster in result.clusters])
print(json.dumps({"seconds": round(seconds, 2), "cpu_s": round(used, 2), "peak_rss_mb": round(peak_rss_mb()), "largest_worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
                  "stories": result.stories, "clusters": len(result.clusters), "clusters_sha256": hashlib.sha256(clusters.encode()).hexdigest(), "module": curate.dedup.__file__}))
""".replace("__SCRIPTS_DIR__", repr(str(Path(__file__).resolve().parent)))


def timed_find(corpus_dir: Path, threshold: float, code: Path | None) -> dict:
    """`find_duplicates` cold in a child process, importing curate from `code` (default: this checkout)."""
    import subprocess

    env = dict(os.environ)
    env["PYTHONPATH"] = str(code if code is not None else Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", CHILD, str(corpus_dir), str(threshold)], cwd=corpus_dir, env=env, capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.splitlines()[-1])
    assert code is None or figures["module"].startswith(str(code)), figures["module"]
    return figures


def run_corpus(count: int, threshold: float, compare_with: Path | None = None, runs: int = 1) -> dict:
    """A corpus folder of `count` snippets (one story each): `find_duplicates` cold in a child
    process (`runs` times, medians), beside the curate package in `compare_with` when given
    (same corpus, same run, alternating), and warm (the cache read back) in this process."""
    import statistics

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
        del texts
        corpus_dir = root / "corpus"
        started = time.perf_counter()
        ingest([source], corpus_dir)
        ingest_s = time.perf_counter() - started
        source.unlink()
        versions = {"this checkout": None} if compare_with is None else {"compared": compare_with.resolve(), "this checkout": None}
        found: dict[str, list[dict]] = {name: [] for name in versions}
        for _ in range(runs):
            for name, code in versions.items():
                found[name].append(timed_find(corpus_dir, threshold, code))
                print(f"{count} snippets, {name}: {found[name][-1]['seconds']} s, {found[name][-1]['peak_rss_mb']} MB", file=sys.stderr, flush=True)

        def median(name: str) -> dict:
            figures = {key: statistics.median(run[key] for run in found[name]) for key in ("seconds", "cpu_s", "peak_rss_mb", "largest_worker_mb")}
            return figures | {"clusters": found[name][0]["clusters"], "all_s": [run["seconds"] for run in found[name]], "all_peak_rss_mb": [run["peak_rss_mb"] for run in found[name]]}

        out = {"snippets": count, "ingest_s": round(ingest_s, 2), "runs": runs, "find_duplicates_cold": median("this checkout")}
        if compare_with is not None:
            out["compared_with"] = str(compare_with)
            out["compared_cold"] = median("compared")
            out["same_clusters_as_compared"] = len({run["clusters_sha256"] for runs_of in found.values() for run in runs_of}) == 1
        with Corpus.open(corpus_dir) as corpus:
            find_duplicates(corpus, threshold)  # makes the cache
            started = time.perf_counter()
            result = find_duplicates(corpus, threshold)
            out["find_duplicates_warm"] = {"seconds": round(time.perf_counter() - started, 3), "cached": result.cached}
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated story counts to time")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--corpus", type=int, default=100_000, help="snippets of the corpus-folder run (0: skip)")
    parser.add_argument("--baseline", type=int, default=10_000, help="stories for the datasketch-only anchor (0: skip)")
    parser.add_argument("--corpus-runs", type=int, default=1, help="cold find_duplicates runs of the corpus-folder run (medians)")
    parser.add_argument("--compare-with", type=Path, metavar="DIR", help="also time find_duplicates of the curate package in DIR (an earlier version: git archive COMMIT curate | tar -x -C DIR) on the same corpus")
    options = parser.parse_args()
    from curate.dedup import NUM_PERM, SHINGLE_WORDS, workers

    out: dict = {"cores": os.cpu_count(), "threshold": options.threshold, "num_perm": NUM_PERM, "shingle_words": SHINGLE_WORDS, "workers": workers(), "goal": "100k stories in <= 60 s"}
    if options.baseline:
        out["baseline_datasketch"] = run_baseline(options.baseline, options.threshold)
    out["sizes"] = [run_size(int(size), options.threshold) for size in options.sizes.split(",") if size]
    if options.corpus:
        out["corpus"] = run_corpus(options.corpus, options.threshold, options.compare_with, options.corpus_runs)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
