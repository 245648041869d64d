"""Benchmark `curate suggest --engine ray` beside `--n-process`; prints one JSON object.

On the Reuters dev pages (`--copies` copies, each with its own id; en_core_web_sm and the
hand-set story-start weights), characters per second of:

- `local_1`, `local_2`: `run_suggest` in this process with --n-process 1 and 2 (the anchor,
  measured in the same run);
- `ray_1`, `ray_2`: `--engine ray` with 1 and 2 Ray workers on a local cluster of 2 CPUs that
  this script started once (as a cluster that is already up: workers that ran a batch before
  keep their model loaded);
- `ray_own_cluster_2`: `curate suggest --engine ray --n-process 2` in a fresh process that
  starts and stops its own local cluster (the first-run cost a user sees without --address).

Each figure is the median of --repeats runs with --redo, the configurations alternating in
each round. `ratio_ray_N` is ray_N's throughput over local_N's.

Usage: python scripts/bench_suggest_ray.py [--bench ../shared/bench] [--copies 2] [--repeats 3]
The corpus is built under a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from curate.ingest import ingest
from curate.store import Corpus
from curate.suggest.service import SuggestOptions, run_suggest

HERE = Path(__file__).resolve().parent
DEFAULT_BENCH = HERE.parent.parent / "shared" / "bench"
BATCH = 16


def build_corpus(bench: Path, work: Path, copies: int) -> tuple[Path, int, int]:
    with (bench / "reuters-pages-dev" / "snippets.jsonl").open(encoding="utf-8") as handle:
        pages = [json.loads(line) for line in handle if line.strip()]
    rows = [{"id": f"{page['id']}-{copy}", "text": page["text"]} for copy in range(copies) for page in pages]
    source = work / "source.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    directory = work / "corpus"
    ingest([source], directory, labels=["PER", "ORG", "LOC", "MISC"])
    return directory, len(rows), sum(len(row["text"]) for row in rows)


def timed(directory: Path, **options) -> float:
    started = time.perf_counter()
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions(redo=True, batch_size=BATCH, **options))
    seconds = time.perf_counter() - started
    assert report.written > 0
    return seconds


def timed_own_cluster(directory: Path) -> float:
    command = [sys.executable, "-m", "curate.cli", "suggest", str(directory), "--engine", "ray", "--n-process", "2", "--redo", "--batch-size", str(BATCH)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    parser.add_argument("--copies", type=int, default=2, help="copies of the 55 Reuters pages")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="bench-suggest-ray-"))
    try:
        directory, snippets, characters = build_corpus(args.bench, work, args.copies)
        started = time.perf_counter()
        ray.init(address="local", num_cpus=2, object_store_memory=128 * 1024 * 1024, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        cluster_start = time.perf_counter() - started
        configurations = {
            "local_1": lambda: timed(directory, n_process=1),
            "local_2": lambda: timed(directory, n_process=2),
            "ray_1": lambda: timed(directory, engine="ray", n_process=1),
            "ray_2": lambda: timed(directory, engine="ray", n_process=2),
        }
        seconds: dict[str, list[float]] = {name: [] for name in configurations}
        names = list(configurations)
        for round_number in range(args.repeats):
            for name in names[round_number % len(names) :] + names[: round_number % len(names)]:
                seconds[name].append(timed_configuration := configurations[name]())
                print(f"{name}: {timed_configuration:.1f} s", file=sys.stderr)
        ray.shutdown()
        own = [timed_own_cluster(directory) for _ in range(max(1, args.repeats // 2))]
        result: dict = {
            "snippets": snippets,
            "characters": characters,
            "batch_size": BATCH,
            "repeats": args.repeats,
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 1),
            "ray_version": ray.__version__,
            "ray_cluster_start_seconds": round(cluster_start, 2),
        }
        for name, values in seconds.items():
            median = statistics.median(values)
            result[f"{name}_seconds"] = round(median, 2)
            result[f"{name}_chars_per_second"] = round(characters / median)
        for workers in (1, 2):
            result[f"ratio_ray_{workers}"] = round(statistics.median(seconds[f"local_{workers}"]) / statistics.median(seconds[f"ray_{workers}"]), 3)
        result["ray_own_cluster_2_seconds"] = round(statistics.median(own), 2)
        result["ray_own_cluster_2_chars_per_second"] = round(characters / statistics.median(own))
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
