"""Benchmark the corpus store and ingest; prints one JSON object.

    python scripts/bench_store.py                     # 1M snippets (heavy: ~1.5 GB in /tmp)
    python scripts/bench_store.py --snippets 100000   # a quick run

Figures:
- ingest of a generated N-snippet JSONL, beside `datasets.Dataset.from_json` on the same file
  (ratio = curate / datasets; goal <= 1.5);
- opening the corpus and reading 1,000 random snippets;
- journal append+fsync latency (p50/p95, ms) with 1k and with N lines already in the journal
  (goal: flat, <= 2 ms), each append paired with a bare os.write + os.fsync on the same disk
  (the floor no journal can beat);
- opening a corpus whose journal holds N lines: the first open (no journal index yet, every
  line read) and later opens (with the index);
- `open_and_stats` (``--parts open,stats``): on an N-snippet corpus with an N-record journal
  as annotate writes them (each record's stories end at its text's length, text_sha256 set,
  statuses mixed), medians of 3, each run beside the anchor in the same run: a plain Python
  loop that json-parses every journal line once. The first open of the journal with no journal
  index, and with no `.curate/` at all (a fresh clone); `corpus_stats` with every index, and
  with no `.curate/`; each as seconds and as a ratio to the loop (goals: first open <= 2 s,
  stats <= 0.25x with the index and <= 1.0x without); and `corpus_stats` right after a first
  open (`stats_after_first_open`: annotate's first open leaves the records' text facts and
  seconds out of the journal index, so stats reads the journal once more for them). `curate stats` as a command is timed
  too, with the index and with no `.curate/` (it adds the interpreter's start and imports),
  each in a fresh process whose peak RSS is reported (`peak_rss_mb`, its VmHWM). `cpu_s` is the
  CPU time of each case (all processes; the json loop uses one core: `json_loop_cpu_s`), and
  `cpu_this_process_s` that of this process alone: with two idle cores a forked child reads
  half of each file meanwhile, so that is about the wall time a quiet machine would show. On a
  busy machine the wall time says more about the other processes than about curate.

  "First open" is what `curate annotate` does before its first screen, in this process: open
  the corpus (with the snippet index left for later, as annotate opens it), open the
  annotator's desk (the journal for writing: its index loaded, or built by reading every line
  (records' text facts and seconds left for `curate stats`), and saved; with no `.curate/` the
  snippet index is built and saved beside that scan; the to-do queue made from it), go where
  the annotator starts, read that snippet and its record, and count the statuses. After it,
  `curate stats` reads the journal from the saved index.
  (`curate stats` with no `.curate/` also reads every text once for its length and sha256.)

    python scripts/bench_store.py --snippets 200000 --parts open,stats   # issue 19's setting
    python scripts/bench_store.py --parts open,stats --workdir /tmp/b --keep --reuse   # again on the same data

To compare two versions, run the bench with each on PYTHONPATH (the `curate` figure says which
package was measured): each run has its own anchor, so the ratios compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import curate
from curate.ingest import ingest
from curate.model import Annotation
from curate.stats import corpus_stats
from curate.store import Corpus, CorpusLayout

PARTS = ("ingest", "read", "append", "open", "stats")

WORDS = (
    "the minister said on Friday that talks with union leaders in Brussels would resume next week after "
    "a strike closed ports \u2014 \u201cwe are close\u201d she told reporters Shares rose 2.5% to 1,703 pence "
    "Photo: Reuters caf\u00e9 Z\u00fcrich"
).split()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate_snippets(path: Path, count: int, seed: int = 7) -> int:
    """A JSONL of `count` snippets of 1-5 paragraphs (about 600 characters on average)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        batch = []
        for index in range(count):
            paragraphs = [" ".join(rng.choices(WORDS, k=rng.randint(10, 60))) for _ in range(rng.randint(1, 5))]
            batch.append(json.dumps({"id": f"s{index:07d}", "text": "\n".join(paragraphs), "meta": {"source": "bench"}}, ensure_ascii=False))
            if len(batch) == 10000:
                handle.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            handle.write("\n".join(batch) + "\n")
    return path.stat().st_size


def warm_page_cache(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def journal_line(snippet_id: str) -> bytes:
    record = Annotation(snippet_id=snippet_id, annotator="bench", stories=[{"start": 0, "end": 100}], entities=[{"start": 0, "end": 5, "label": "ORG"}], status="done", seconds=12.5, updated_at="2026-11-28T10:00:00Z")
    return record.model_dump_json().encode() + b"\n"


def write_journal(corpus: Corpus, annotator: str, lines: int) -> None:
    """`lines` records, one per snippet, written directly (as the store writes them)."""
    template = journal_line("s0000000")
    path = corpus.journal_path(annotator)
    path.parent.mkdir(exist_ok=True)
    with path.open("wb") as handle:
        chunk = []
        for position in range(lines):
            chunk.append(template.replace(b"s0000000", f"s{position:07d}".encode(), 1))
            if len(chunk) == 10000:
                handle.write(b"".join(chunk))
                chunk.clear()
        handle.write(b"".join(chunk))


def write_annotated_journal(corpus_dir: Path, source: Path, annotator: str) -> int:
    """One record per snippet of `source`, as annotate saves them: stories end at the text's
    length, text_sha256 is the text's, two entities, statuses done, skipped, flagged or in
    progress. Returns the journal's size in bytes."""
    path = Corpus.open(corpus_dir).journal_path(annotator)
    path.parent.mkdir(exist_ok=True)
    statuses = ["done"] * 7 + ["skipped", "flagged", None]
    with source.open("rb") as lines, path.open("w", encoding="utf-8") as out:
        batch = []
        for number, line in enumerate(lines):
            snippet = json.loads(line)
            text = snippet["text"]
            end = len(text)
            record = {
                "snippet_id": snippet["id"], "annotator": annotator,
                "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "stories": [{"start": 0, "end": end // 2, "truncated": False}, {"start": end // 2, "end": end, "truncated": False}],
                "boilerplate": [], "entities": [{"start": 0, "end": 3, "label": "ORG"}, {"start": 4, "end": 8, "label": "PERSON"}],
                "status": statuses[number % len(statuses)], "note": None, "seconds": 12.5, "updated_at": "2026-11-28T10:00:00Z",
            }
            batch.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            if len(batch) == 10000:
                out.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")
    return path.stat().st_size


def json_loop(path: Path) -> int:
    """The anchor: a plain Python loop that json-parses every journal line once."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            count += 1
    return count


def open_and_stats(corpus_dir: Path, annotator: str, rounds: int, parts: set[str]) -> dict[str, object]:
    """First opens and stats beside the json loop, medians of `rounds` (see the docstring)."""
    layout = CorpusLayout(corpus_dir)
    journal_path = layout.journal(annotator)
    warm_page_cache(layout.snippets)
    warm_page_cache(journal_path)

    def first_open(drop) -> float:
        """The first open (see the module's docstring), after `drop` was removed."""
        from curate.annotating import AnnotatorDesk

        shutil.rmtree(drop, ignore_errors=True)
        start = time.perf_counter()
        corpus = Corpus.open(corpus_dir, index_later=True)  # as `curate annotate` opens it
        desk = AnnotatorDesk(corpus, annotator)
        desk.start_at()
        position = desk.position
        if position is not None:
            corpus.snippet(position)
            desk.journal.record_at(position)
        desk.journal.counts()
        seconds = time.perf_counter() - start
        desk.close()
        return seconds

    def stats_once(drop=None) -> float:
        if drop is not None:
            shutil.rmtree(drop, ignore_errors=True)
        start = time.perf_counter()
        corpus = Corpus.open(corpus_dir, index_later=True)  # as `curate stats` opens it
        corpus_stats(corpus)
        seconds = time.perf_counter() - start
        corpus.close()
        return seconds

    peak_rss: dict[str, float] = {}

    def command_once(name: str, drop=None) -> float:
        """`curate stats` in a fresh process; its peak RSS (from wait4) is kept under `name`."""
        if drop is not None:
            shutil.rmtree(drop, ignore_errors=True)
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", STATS_COMMAND, str(corpus_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        if run.returncode:
            raise SystemExit(f"curate stats failed with exit code {run.returncode}: {run.stderr[-500:]}")
        peak_rss[name] = max(peak_rss.get(name, 0.0), float(run.stderr.strip().splitlines()[-1]))
        return seconds

    cases = {}
    prepare: dict[str, object] = {}
    if "open" in parts:
        cases["first_open_without_journal_index"] = lambda: first_open(layout.journal_indexes)
        cases["first_open_without_curate_dir"] = lambda: first_open(layout.index_dir)
    if "stats" in parts:
        cases["stats_without_curate_dir"] = lambda: stats_once(layout.index_dir)
        cases["stats_with_index"] = stats_once
        cases["stats_after_first_open"] = stats_once
        # Untimed, before it: the journal index as annotate's first open saves it (no facts yet).
        prepare["stats_after_first_open"] = lambda: first_open(layout.journal_indexes)
        cases["stats_command_with_index"] = lambda: command_once("stats_command_with_index")
        cases["stats_command_without_curate_dir"] = lambda: command_once("stats_command_without_curate_dir", layout.index_dir)
    runs: dict[str, list[float]] = {name: [] for name in cases}
    loops: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    cpu_self: dict[str, list[float]] = {name: [] for name in cases}
    loop_cpu: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(rounds):
        for name, case in cases.items():
            log(f"{name} (round {round_ + 1}) and the json loop")
            before = time.process_time()
            loops[name].append(timed(lambda: json_loop(journal_path))[0])
            loop_cpu[name].append(time.process_time() - before)
            if name in prepare:
                prepare[name]()  # type: ignore[operator]
            before = os.times()
            runs[name].append(case())
            after = os.times()
            # CPU seconds of this process and of the children it waited for (forked index readers, commands).
            cpu[name].append(sum(after[:4]) - sum(before[:4]))
            cpu_self[name].append(sum(after[:2]) - sum(before[:2]))
    result: dict[str, object] = {"journal_bytes": journal_path.stat().st_size, "rounds": rounds}
    for name in cases:
        ratios = [run / loop for run, loop in zip(runs[name], loops[name])]
        result[name] = {
            "s": round(statistics.median(runs[name]), 3),
            "json_loop_s": round(statistics.median(loops[name]), 3),
            "ratio": round(statistics.median(ratios), 3),
            "runs_s": [round(run, 3) for run in runs[name]],
            "cpu_s": round(statistics.median(cpu[name]), 3),
            "cpu_this_process_s": round(statistics.median(cpu_self[name]), 3),
            "json_loop_cpu_s": round(statistics.median(loop_cpu[name]), 3),
        }
        if name in peak_rss:
            result[name]["peak_rss_mb"] = round(peak_rss[name], 1)
    result["goals"] = {"first_open_s": 2.0, "stats_with_index_ratio": 0.25, "stats_without_index_ratio": 1.0}
    return result


# `curate stats DIR` as the command runs it, then its own peak RSS in MB on stderr's last line
# (VmHWM of this process after exec: ru_maxrss would count the bench's memory at the fork).
STATS_COMMAND = """
import sys
from curate.cli import app
try:
    app(["stats", sys.argv[1]])
except SystemExit as exit:
    if exit.code:
        raise
finally:
    status = open("/proc/self/status").read()
    print(int(status.split("VmHWM:")[1].split()[0]) / 1024, file=sys.stderr)
"""


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def append_latencies(corpus: Corpus, annotator: str, appends: int, rng: random.Random, directory: Path) -> dict[str, object]:
    """Journal append+fsync latency, each append paired with a bare os.write + os.fsync of a
    line of the same size on the same disk (this disk's fsync time drifts between runs)."""
    bare_line = journal_line("s0000000")
    bare_path = directory / "bare-fsync.bin"
    journal_times, bare_times = [], []
    with corpus.journal(annotator, writable=True) as journal, bare_path.open("ab", buffering=0) as bare:
        for _ in range(appends):
            snippet_id = f"s{rng.randrange(len(corpus)):07d}"
            record = Annotation(snippet_id=snippet_id, annotator=annotator, stories=[{"start": 0, "end": 100}], status="done")
            start = time.perf_counter()
            journal.append(record)
            journal_times.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            os.write(bare.fileno(), bare_line)
            os.fsync(bare.fileno())
            bare_times.append((time.perf_counter() - start) * 1000)
    bare_path.unlink()
    overhead = [journal_time - bare_time for journal_time, bare_time in zip(journal_times, bare_times)]
    return {
        "appends": appends,
        "journal": percentiles(journal_times),
        "bare_write_fsync": percentiles(bare_times),
        "journal_minus_bare_p50_ms": round(statistics.median(overhead), 3),
    }


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def timed_with_cpu(function) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all threads of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def ingest_beside_datasets(source: Path, corpus_dir: Path, workdir: Path, rounds: int) -> dict[str, object]:
    """curate ingest beside datasets.Dataset.from_json on the same file, best of `rounds` each."""
    import datasets  # noqa: E402 (only the ingest figure needs it)

    datasets.disable_progress_bars()
    hf_runs, curate_runs = [], []
    # Alternating runs, best of each: the machine is shared, and a run must not pay for
    # the write-back of the one before (os.sync between runs).
    for round_ in range(rounds):
        log(f"datasets.Dataset.from_json (round {round_ + 1})")
        os.sync()
        hf_runs.append(timed_with_cpu(lambda: datasets.Dataset.from_json(str(source), cache_dir=str(workdir / "hf-cache"))))
        shutil.rmtree(workdir / "hf-cache", ignore_errors=True)
        log(f"curate ingest (round {round_ + 1})")
        shutil.rmtree(corpus_dir, ignore_errors=True)
        os.sync()
        curate_runs.append(timed_with_cpu(lambda: ingest([source], corpus_dir)))
    best_curate, best_hf = min(curate_runs), min(hf_runs)
    return {
        "curate_s": round(best_curate[0], 2),
        "datasets_from_json_s": round(best_hf[0], 2),
        "ratio": round(best_curate[0] / best_hf[0], 2),
        "goal_ratio": 1.5,
        "cpu_s": {"curate": round(best_curate[1], 2), "datasets_from_json": round(best_hf[1], 2)},
        "runs_wall_s": {"curate": [round(run[0], 2) for run in curate_runs], "datasets_from_json": [round(run[0], 2) for run in hf_runs]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snippets", type=int, default=1_000_000, help="snippets to generate (default 1,000,000)")
    parser.add_argument("--appends", type=int, default=300, help="appends timed per journal size (default 300)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the data (default: a new folder in /tmp)")
    parser.add_argument("--rounds", type=int, default=2, help="ingest runs of each kind; the best counts (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--reuse", action="store_true", help="with --workdir: use the snippets and the open/stats corpus a --keep run left there instead of making them again")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated figures to measure, of {', '.join(PARTS)} (default all)")
    parser.add_argument("--stats-rounds", type=int, default=3, help="runs of each open/stats figure; the median counts (default 3)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="curate-bench-", dir="/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    result: dict[str, object] = {"snippets": args.snippets, "curate": str(Path(curate.__file__).parent)}
    try:
        source = workdir / "snippets-in.jsonl"
        stats_dir = workdir / "corpus-stats"
        reuse = args.reuse and source.exists()
        if reuse:
            with source.open("rb") as handle:
                made = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
            if made != args.snippets:
                parser.error(f"--reuse: {source} holds {made:,} snippets, not {args.snippets:,}")
            log(f"reusing {source}")
            result["jsonl_bytes"] = source.stat().st_size
        else:
            log(f"generating {args.snippets:,} snippets in {source}")
            result["jsonl_bytes"] = generate_snippets(source, args.snippets)
        warm_page_cache(source)  # so neither reader pays for the first read from disk
        corpus_dir = workdir / "corpus"
        if "ingest" in parts:
            result["ingest"] = ingest_beside_datasets(source, corpus_dir, workdir, args.rounds)
        elif parts & {"read", "append"}:
            log("curate ingest")
            shutil.rmtree(corpus_dir, ignore_errors=True)
            ingest([source], corpus_dir)
        corpus = Corpus.open(corpus_dir) if parts & {"ingest", "read", "append"} else None
        if "read" in parts:
            log("open and read 1,000 random snippets")
            open_seconds, corpus = timed(lambda: Corpus.open(corpus_dir))
            positions = [rng.randrange(len(corpus)) for _ in range(1000)]
            read_seconds, _ = timed(lambda: [corpus.snippet(position) for position in positions])
            ids = [f"s{position:07d}" for position in positions]
            lookup_seconds, _ = timed(lambda: [corpus.snippet_by_id(snippet_id) for snippet_id in ids])
            result["read"] = {
                "open_s": round(open_seconds, 4),
                "read_1000_random_s": round(read_seconds, 4),
                "read_1000_random_by_id_s": round(lookup_seconds, 4),
            }

        if "append" in parts:
            log("journal appends with 1k lines")
            write_journal(corpus, "small", 1000)
            os.sync()
            small = append_latencies(corpus, "small", args.appends, rng, workdir)
            log(f"journal appends with {args.snippets:,} lines")
            write_journal(corpus, "large", args.snippets)
            journal_bytes = corpus.journal_path("large").stat().st_size
            shutil.rmtree(CorpusLayout(corpus_dir).journal_indexes, ignore_errors=True)
            os.sync()

            def open_both() -> tuple[Corpus, int]:
                opened = Corpus.open(corpus_dir)
                journal = opened.journal("large")
                count = len(journal)
                journal.close()
                return opened, count

            first_open, (_, records) = timed(open_both)
            assert records == args.snippets, records
            later_open, _ = timed(open_both)
            os.sync()
            large = append_latencies(Corpus.open(corpus_dir), "large", args.appends, rng, workdir)
            result["journal_append_fsync"] = {"lines_1k": small, f"lines_{args.snippets}": large, "goal_ms": 2.0}
            result["open_corpus_with_large_journal"] = {
                "journal_lines": args.snippets,
                "journal_bytes": journal_bytes,
                "first_open_without_index_s": round(first_open, 2),
                "open_with_index_s": round(later_open, 3),
            }
        if parts & {"open", "stats"}:
            # A corpus of its own, whose only journal is the annotated one.
            if reuse and CorpusLayout(stats_dir).journal("annotated").exists():
                log(f"reusing {stats_dir}")
            else:
                log("curate ingest (for open and stats)")
                shutil.rmtree(stats_dir, ignore_errors=True)
                ingest([source], stats_dir)
                log(f"writing an annotated journal of {args.snippets:,} records")
                write_annotated_journal(stats_dir, source, "annotated")
            result["open_and_stats"] = open_and_stats(stats_dir, "annotated", args.stats_rounds, parts)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
