"""Benchmark `curate agreement`: a synthetic corpus of N snippets x 3 annotators in /tmp.

    .venv/bin/python scripts/bench_agreement.py [--snippets 100000] [--annotators 3] [--keep]

Generates the corpus (snippets.jsonl through `curate ingest`, journals written as JSONL and
indexed once, as any earlier `curate` command leaves them), then times the agreement service
(`curate.agreement.agreement`, the path the command takes) in a fresh process and prints one
JSON object: wall time, CPU time and peak memory (max RSS) of that process and of its
reading and comparing workers (large comparisons are read and compared by two forked
processes; total_cpu_seconds counts all of them), medians of --rounds runs, each beside the
anchor measured just before it: a plain Python loop json-parsing every journal line once
(its wall and CPU seconds; the ratios are wall to wall and CPU to CPU). On a busy machine
wall time says little: critical_path_cpu_seconds is this process's CPU time plus, for the
reading and the comparing, the CPU time of the busiest worker, i.e. about what the run takes
with a core for each process (not counting waits for the disk). Goal (issue 19): <= 6 s for 100k snippets x 3 annotators on a quiet
machine. `--corpus DIR/corpus` measures a corpus kept by an earlier run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import json_loop, peak_rss_mb

WORDS = (
    "the council said on monday that a new plan for the harbour would cost more than "
    "expected and officials were asked to report again before the vote in spring while "
    "residents in the north of the city gathered to hear what the plan means for them"
).split()
NAMES = ["Ana Lopez", "Ben Okafor", "Mara Quist", "Harbour Trust", "Northgate", "Vell River",
         "Oda Finch", "Kestrel Group", "Lanport", "Ivo Brandt", "Saltmere", "Tam Rowe"]
LABELS = ["PERSON", "ORG", "GPE", "LOC"]


def make_snippet(rng: random.Random) -> tuple[str, list[tuple[int, int, str]], list[int], list[tuple[int, int]]]:
    """Text, entity spans, true story starts and caption paragraphs of one snippet."""
    paragraphs, entities, line_starts, captions = [], [], [], []
    offset = 0
    for number in range(rng.randint(3, 7)):
        line_starts.append(offset)
        if number and rng.random() < 0.15:
            line = f"Photo: {rng.choice(NAMES)}"
            captions.append((offset, offset + len(line)))
        else:
            parts = []
            position = offset
            for _ in range(rng.randint(12, 24)):
                if rng.random() < 0.2:
                    name = rng.choice(NAMES)
                    entities.append((position, position + len(name), LABELS[NAMES.index(name) % len(LABELS)]))
                    word = name
                else:
                    word = rng.choice(WORDS)
                parts.append(word)
                position += len(word) + 1
            line = " ".join(parts) + "."
        paragraphs.append(line)
        offset += len(line) + 1
    story_starts = [start for start in line_starts[1:] if rng.random() < 0.3]
    return "\n".join(paragraphs), entities, line_starts, story_starts, captions


def annotate(rng: random.Random, name: str, snippet_id: str, text: str, truth, noise: float) -> dict:
    entities, line_starts, true_starts, captions = truth
    starts = sorted(true_starts)
    if rng.random() < noise and line_starts[1:]:
        starts = sorted(set(starts) ^ {rng.choice(line_starts[1:])})
    edges = [0, *starts, len(text)]
    stories = [{"start": s, "end": e, "truncated": e == len(text) and rng.random() < 0.3} for s, e in zip(edges, edges[1:])]
    marked = []
    for start, end, label in entities:
        roll = rng.random()
        if roll < noise / 2:
            continue
        if roll < noise:
            label = rng.choice(LABELS)
        if any(s < end and start < s for s in starts):
            continue
        marked.append({"start": start, "end": end, "label": label})
    boilerplate = [{"start": s, "end": e, "kind": "caption"} for s, e in captions if rng.random() > noise]
    return {"snippet_id": snippet_id, "annotator": name, "text_sha256": None, "stories": stories,
            "boilerplate": boilerplate, "entities": marked, "status": "done", "note": None,
            "seconds": 30.0, "updated_at": "2026-11-28T10:00:00Z"}


def generate(directory: Path, snippets: int, annotators: int, seed: int = 7) -> None:
    """Write the corpus snippet by snippet: each snippet is made again from its own seed for
    each journal, so a 1M-snippet corpus never sits in memory."""
    from curate.ingest import ingest
    from curate.store import Corpus, CorpusLayout

    def snippet(number: int):
        return make_snippet(random.Random(f"{seed}-{number}"))

    source = directory / "source.jsonl"
    with source.open("w") as handle:
        for number in range(snippets):
            handle.write(json.dumps({"id": f"s{number:06d}", "text": snippet(number)[0]}) + "\n")
    corpus_dir = directory / "corpus"
    ingest([source], corpus_dir, labels=LABELS)
    source.unlink()
    layout = CorpusLayout(corpus_dir)
    layout.annotations.mkdir(exist_ok=True)
    names = [f"annotator{number}" for number in range(annotators)]
    rng = random.Random(seed)
    for name in names:
        with layout.journal(name).open("w") as handle:
            for number in range(snippets):
                if rng.random() < 0.97:
                    text, *truth = snippet(number)
                    handle.write(json.dumps(annotate(rng, name, f"s{number:06d}", text, truth, noise=0.2)) + "\n")
    with Corpus.open(corpus_dir) as corpus:
        for name in names:
            corpus.journal(name).close()  # builds the journal index, as any earlier command would


def _timed_in_workers(service, name: str, log: Path) -> None:
    """Wrap the worker function ``service.<name>`` so that each call appends
    ``name pid cpu-seconds`` to ``log`` (forked workers find the wrapper by the same name)."""
    real = getattr(service, name)

    def timed(*arguments):
        started = time.process_time()
        result = real(*arguments)
        with log.open("a") as handle:
            handle.write(f"{name} {os.getpid()} {time.process_time() - started} {peak_rss_mb()}\n")
        return result

    timed.__module__, timed.__qualname__, timed.__name__ = real.__module__, real.__qualname__, real.__name__
    setattr(service, name, timed)


def _busiest(log: Path, name: str) -> float:
    """The CPU seconds of the busiest worker process in one phase."""
    per_process: dict[str, float] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        phase, pid, seconds, _ = line.split()
        if phase == name:
            per_process[pid] = per_process.get(pid, 0.0) + float(seconds)
    return max(per_process.values(), default=0.0)


def _peak_of(log: Path, name: str) -> float:
    """The highest peak RSS (MB, VmHWM: memory shared with the parent at fork included) of
    the worker processes of one phase."""
    lines = log.read_text().splitlines() if log.exists() else []
    return max((float(line.split()[3]) for line in lines if line.split()[0] == name), default=0.0)


def measure(corpus_dir: str) -> None:
    from curate.agreement import service
    from curate.store import Corpus

    log = Path(tempfile.mkdtemp(prefix="curate-bench-agreement-log-", dir="/tmp")) / "workers"
    _timed_in_workers(service, "_read_part_at", log)
    _timed_in_workers(service, "_run_shared_task", log)
    wall = time.perf_counter()
    cpu = time.process_time()
    with Corpus.open(corpus_dir) as corpus:
        # The two halves of curate.agreement.agreement(), timed apart.
        comparison = service.read_comparison(corpus)
        read = time.perf_counter() - wall
        read_rss = peak_rss_mb()
        report = service.compare_marks(comparison)
    # What the run would take with a core for each process: this process's CPU time (its
    # imports included, as the command has them) plus, per phase, the busiest worker's (the
    # phases run one after the other).
    critical = _cpu(resource.RUSAGE_SELF) + _busiest(log, "_read_part_at") + _busiest(log, "_run_shared_task")
    peaks = {"read_max_rss_mb": round(read_rss, 1), "reading_worker_max_rss_mb": round(_peak_of(log, "_read_part_at"), 1),
             "comparing_worker_max_rss_mb": round(_peak_of(log, "_run_shared_task"), 1),
             "busiest_comparing_worker_cpu_seconds": round(_busiest(log, "_run_shared_task"), 3)}
    shutil.rmtree(log.parent, ignore_errors=True)
    result = {
        **peaks,
        "seconds": round(time.perf_counter() - wall, 3),
        "read_seconds": round(read, 3),
        "compare_seconds": round(time.perf_counter() - wall - read, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "max_rss_mb": round(peak_rss_mb(), 1),
        "worker_max_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "worker_cpu_seconds": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime, 3),
        "total_cpu_seconds": round(_cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN), 3),
        "critical_path_cpu_seconds": round(critical, 3),
        "snippets_compared": report.snippets,
        "boundary_alpha": report.boundary_alpha,
        "entity_alpha": report.entity_alpha,
        "entity_alpha_u": report.entity_alpha_u,
    }
    print(json.dumps(result))


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snippets", type=int, default=100_000, help="number of snippets (default 100000)")
    parser.add_argument("--annotators", type=int, default=3, help="number of annotators (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpus in /tmp")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs, each beside the anchor; medians count (default 3)")
    parser.add_argument("--corpus", type=Path, help="measure this corpus (one generated before with --keep) instead of generating one")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    directory = args.corpus.parent if args.corpus else Path(tempfile.mkdtemp(prefix="curate-bench-agreement-", dir="/tmp"))
    try:
        started = time.perf_counter()
        if not args.corpus:
            generate(directory, args.snippets, args.annotators)
        generated = time.perf_counter() - started
        corpus_dir = directory / "corpus"
        from curate.store import CorpusLayout

        layout = CorpusLayout(corpus_dir)
        lengths = [len(json.loads(line)["text"]) for line in layout.snippets.open()]
        journals = sorted(layout.annotations.glob("*.jsonl"))
        runs, loops, loop_cpus = [], [], []
        for _ in range(args.rounds):
            cpu = _cpu(resource.RUSAGE_SELF)
            loops.append(json_loop(journals))
            loop_cpus.append(_cpu(resource.RUSAGE_SELF) - cpu)
            run = subprocess.run([sys.executable, __file__, "--measure", str(corpus_dir)], check=True, capture_output=True, text=True)
            runs.append(json.loads(run.stdout))
        figures = {key: statistics.median(run[key] for run in runs) for key in runs[0] if isinstance(runs[0][key], (int, float))}
        figures["max_rss_mb"] = max(run["max_rss_mb"] for run in runs)
        for key in ("worker_max_rss_mb", "read_max_rss_mb", "reading_worker_max_rss_mb", "comparing_worker_max_rss_mb"):
            figures[key] = max(run[key] for run in runs)
        print(json.dumps({
            "benchmark": "agreement",
            "snippets": len(lengths),
            "annotators": len(journals),
            "characters": sum(lengths),
            "generate_seconds": round(generated, 1),
            "rounds": args.rounds,
            **figures,
            "runs_seconds": [run["seconds"] for run in runs],
            # The first run after generating: its journal indexes were made by a quick scan
            # (as after a first `curate stats` on a fresh clone), so its records are validated
            # in this run (issue 19, item 3: this one too within the goal).
            "first_run_seconds": runs[0]["seconds"] if not args.corpus else None,
            "first_run_critical_path_cpu_seconds": runs[0]["critical_path_cpu_seconds"] if not args.corpus else None,
            "first_run_total_cpu_seconds": runs[0]["total_cpu_seconds"] if not args.corpus else None,
            "json_loop_seconds": round(statistics.median(loops), 3),
            "ratio_to_json_loop": round(statistics.median(run["seconds"] / loop for run, loop in zip(runs, loops)), 3),
            "json_loop_cpu_seconds": round(statistics.median(loop_cpus), 3),
            "cpu_ratio_to_json_loop": round(statistics.median(run["total_cpu_seconds"] / loop for run, loop in zip(runs, loop_cpus)), 3),
            "goal_seconds": 6,
            "corpus": str(corpus_dir) if args.keep else None,
        }, indent=2))
    finally:
        if not args.keep and not args.corpus:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
