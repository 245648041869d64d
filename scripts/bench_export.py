"""Benchmark of `curate export --format hf`: stories per second end to end, the writer beside `Dataset.to_parquet`, peak RSS.

Synthetic pages of three stories each (a boilerplate credit line in the first, entities
throughout) are cut into story rows by the export's own code (`story_batch`, timed on a pool
of distinct pages). The pool's batches, under new ids, up to `--stories`, are made first and
turned into Arrow rows (`Writer.rows`, timed: per config and split a table of token strings,
IOB2 tags, entity structs, snippet rows with paragraph labels); then the HF writer is timed over
all of them (`Writer.add_rows`, both configs: rows buffered per split, parquet written, and the
Arrow sizes the card states added up, up to its close).
The same rows are then loaded as `datasets.Dataset`s (memory-mapped, from the files just
written) and written again with `Dataset.to_parquet`, the baseline; both in wall and process
CPU seconds. Both sides start from rows already in Arrow: the writer is what turns them into
the files (in an export its second thread writes while the next batch's rows are built, so
there its wall time gains when a second core is free). Goal: writer ≤ 1.2× to_parquet.

End to end goes through a real corpus folder (ingest, gold, then `curate export`'s path: the
progress total and `export_corpus`, both configs and the card), each run in a fresh process
that reports its peak RSS, with and without the near-duplicate grouping (dedup), beside the
anchor measured in the same round: a plain Python loop json-parsing every line of gold.jsonl
and snippets.jsonl once. "dedup" is a first export (.curate/dedup.json removed before it, so
the clusters are computed, and saved); "dedup_cached" the export after it, which reads them. `--before DIR` runs another checkout's export (DIR holds its curate/)
in the same rounds, for a before/after ratio. Goal: 15,000 stories/s. Everything is written
under a temporary folder in /tmp and removed afterwards. Prints one JSON object.

    .venv/bin/python scripts/bench_export.py [--stories 1000000] [--pool-pages 10000] [--full-snippets 20000] [--rounds 3] [--before DIR]
    .venv/bin/python scripts/bench_export.py --skip-writer --full-snippets 333334 --rounds 1   # end to end, 1M stories, peak RSS
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchkit import json_loop, peak_rss_mb

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "the government said on Tuesday that talks would resume after a week of protests in the capital "
    "where officials met union leaders to discuss wages prices and a new budget for schools hospitals "
    "and roads while analysts warned growth could slow"
).split()
PEOPLE = ["Kim Jong-un", "Vladimir Putin", "Ana María Núñez", "John Smith", "Olena Kovalenko", "Li Wei"]
PLACES = ["Pyongyang", "Moscow", "São Paulo", "Kyiv", "New South Wales", "Beijing"]
ORGS = ["Reuters", "RIA Novosti", "UN Security Council", "World Bank"]


def sentence(rng: random.Random, entities: list, position: int) -> str:
    """One sentence of 10-20 words with one entity somewhere; records the entity's offsets."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(10, 20))]
    label, names = rng.choice((("PERSON", PEOPLE), ("GPE", PLACES), ("ORG", ORGS)))
    slot = rng.randrange(len(words))
    name = rng.choice(names)
    before = " ".join(words[:slot])
    start = position + len(before) + (1 if before else 0)
    entities.append((start, start + len(name), label))
    words.insert(slot, name)
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def synthetic_page(number: int, rng: random.Random):
    """A page of three stories (4-8 sentences each), a credit line inside the first."""
    from curate.model import Annotation, BoilerplateRange, Entity, Snippet, Story

    text = ""
    stories, boilerplate, entities = [], [], []
    for story in range(3):
        start = len(text)
        for index in range(rng.randint(4, 8)):
            if story == 0 and index == 2:
                credit = f"Photo: {rng.choice(ORGS)}"
                boilerplate.append(BoilerplateRange(start=len(text), end=len(text) + len(credit), kind="credit"))
                text += credit + "\n"
            text += sentence(rng, entities, len(text)) + ("\n" if rng.random() < 0.5 else " ")
        text = text.rstrip(" ") + "\n"
        stories.append(Story(start=start, end=len(text), truncated=story == 2))
    snippet_id = f"bench-{number:07d}"
    record = Annotation(
        snippet_id=snippet_id,
        annotator="gold",
        stories=stories,
        boilerplate=boilerplate,
        entities=[Entity(start=start, end=end, label=label) for start, end, label in entities],
        status="done",
    )
    return Snippet(id=snippet_id, text=text), record


def renamed(batch, number: int):
    """A pool batch under new snippet ids (`bench-r<number>-...`), sharing its texts and arrays."""
    import dataclasses

    prefix = f"bench-r{number}-"
    return dataclasses.replace(batch, ids=[prefix + story_id for story_id in batch.ids], snippet_ids=[prefix + snippet_id for snippet_id in batch.snippet_ids])


def bench_rows_and_write(stories_wanted: int, pool_pages: int, folder: Path) -> dict:
    """Story rows of a pool of distinct pages (`story_batch`, timed), then the HF writer over
    `stories_wanted` stories (the pool's batches again under new ids), both configs, beside
    `Dataset.to_parquet` of the same rows."""
    from curate.export.context import ExportContext
    from curate.export.rows import SplitAssigner, story_batch
    from curate.formats.hf import CONFIGS, STORIES, Writer, data_file
    from curate.model import CorpusConfig

    rng = random.Random(7)
    pages = [synthetic_page(number, rng) for number in range(pool_pages)]
    t0 = time.perf_counter()
    pool = [story_batch(pages[start : start + 256]) for start in range(0, len(pages), 256)]
    rows_seconds = time.perf_counter() - t0
    pool_stories = sum(len(batch) for batch in pool)

    config = CorpusConfig(name="bench")
    context = ExportContext(config, folder, "gold", dict(config.splits))
    out = folder / "ours"
    out.mkdir()
    writer = Writer(out, context)
    assign = SplitAssigner(context.splits)
    # The batches are made first (untimed), so no untimed work runs while the writer's thread writes.
    batches = []
    made = tokens = characters = number = snippets = 0
    while made < stories_wanted:
        batch = renamed(pool[number % len(pool)], number)
        batches.append(([assign(snippet.id + str(number)) for snippet, _ in batch.pairs], batch))
        made += len(batch)
        snippets += len(batch.pairs)
        tokens += len(batch.tokens)
        characters += sum(map(len, batch.texts))
        number += 1
    # The pool and the prepared batches are the benchmark's, not the writer's: out of the
    # garbage collector's sight, so collections in the timed run cost what they would in an export.
    gc.collect()
    gc.freeze()
    # The rows as Arrow tables per config and split (`Writer.rows`: token strings, IOB2 tags,
    # entity structs, snippet rows with paragraph labels), as the export makes them batch by batch.
    t0, cpu0 = time.perf_counter(), time.process_time()
    rows = [writer.rows(splits, batch) for splits, batch in batches]
    arrow_rows, arrow_rows_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    del batches
    gc.collect()
    gc.freeze()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for part in rows:
        writer.add_rows(part)
    for config_name in CONFIGS:
        writer.files[config_name].close()
    write, write_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    del rows
    gc.unfreeze()
    gc.collect()
    paths = {
        (config_name, split): out / data_file(config_name, split)
        for config_name in CONFIGS for split, count in writer.files[config_name].rows.items() if count
    }

    import datasets

    datasets.disable_progress_bars()
    t0 = time.perf_counter()
    loaded = {key: datasets.Dataset.from_parquet(str(path), features=writer.features[key[0]], cache_dir=str(folder / "cache")) for key, path in paths.items()}
    load_seconds = time.perf_counter() - t0
    made = sum(len(dataset) for (config_name, _), dataset in loaded.items() if config_name == STORIES)
    baseline_dir = folder / "baseline"
    baseline_dir.mkdir()
    gc.collect()
    gc.freeze()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for (config_name, split), dataset in loaded.items():
        dataset.to_parquet(str(baseline_dir / f"{config_name}-{split}.parquet"))
    baseline, baseline_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    gc.unfreeze()
    rows_per_story = rows_seconds / pool_stories
    return {
        "stories": made,
        "snippets": snippets,
        "tokens": tokens,
        "characters": characters,
        "write_parquet_s": round(write, 2),
        "baseline_dataset_to_parquet_s": round(baseline, 2),
        "write_ratio_vs_to_parquet": round(write / baseline, 2),
        "write_cpu_s": round(write_cpu, 2),
        "baseline_to_parquet_cpu_s": round(baseline_cpu, 2),
        "write_cpu_ratio_vs_to_parquet": round(write_cpu / baseline_cpu, 2),
        "goal_write_ratio": 1.2,
        "baseline_dataset_from_parquet_s": round(load_seconds, 2),
        "story_rows_us_per_story": round(rows_per_story * 1e6, 1),
        "story_rows_measured_on": pool_stories,
        "arrow_rows_us_per_story": round(arrow_rows / made * 1e6, 1),
        "arrow_rows_cpu_us_per_story": round(arrow_rows_cpu / made * 1e6, 1),
        "ours_parquet_mb": round(sum(path.stat().st_size for path in paths.values()) / 1e6, 1),
        "baseline_parquet_mb": round(sum(path.stat().st_size for path in baseline_dir.iterdir()) / 1e6, 1),
    }


def build_full_corpus(snippets: int, folder: Path) -> Path:
    """A corpus folder of `snippets` synthetic pages with a gold record each (gold.jsonl is
    written directly, in corpus order, as the gold store writes it)."""
    from curate.ingest import ingest
    from curate.model import GoldAnnotation
    from curate.store import CorpusLayout

    rng = random.Random(11)
    source = folder / "pages.jsonl"
    gold_lines = folder / "gold-records.tmp"
    with source.open("w", encoding="utf-8") as handle, gold_lines.open("wb") as gold:
        for number in range(snippets):
            snippet, record = synthetic_page(number, rng)
            handle.write(json.dumps({"id": snippet.id, "text": snippet.text}) + "\n")
            gold.write(GoldAnnotation(**record.model_dump(), sources=["a", "b"], adjudicator="c").model_dump_json().encode() + b"\n")
    corpus_dir = folder / "corpus"
    ingest([source], corpus_dir)
    gold_lines.rename(CorpusLayout(corpus_dir).gold)
    return corpus_dir




def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that ended (dedup's hashing workers,
    the store's forked index passes)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_export(corpus_dir: str, out: str, dedup: bool) -> None:
    """In a fresh process: `curate export`'s path (the progress total, then export_corpus),
    printing wall and CPU seconds (children's included), stories and this process's peak RSS as JSON."""

    import curate.formats.hf  # noqa: F401 (the import is not the export's work)
    from curate.export import export_corpus, source_total
    from curate.store import Corpus

    wall, cpu = time.perf_counter(), cpu_seconds()
    with Corpus.open(corpus_dir) as corpus:
        source_total(corpus, "gold")
        report = export_corpus(corpus, out, dedup=dedup)
    print(json.dumps({
        "s": time.perf_counter() - wall, "cpu_s": cpu_seconds() - cpu, "stories": report.stories,
        "peak_rss_mb": peak_rss_mb(),
    }))


def bench_full(snippets: int, folder: Path, rounds: int, before: Path | None = None) -> dict:
    """`curate export` end to end through a corpus folder, each run in a fresh process, with
    and without the near-duplicate grouping (dedup), beside the json loop over gold.jsonl and
    snippets.jsonl in the same round; medians of `rounds`. With `before` (another checkout's
    folder), its export runs in the same rounds too, for a before/after ratio."""
    import statistics
    import subprocess

    corpus_dir = build_full_corpus(snippets, folder)
    from curate.store import CorpusLayout

    layout = CorpusLayout(corpus_dir)
    roots = {"": Path(__file__).resolve().parents[1]}
    if before is not None:
        roots["before_"] = before.resolve()
    runs: dict[str, list[dict]] = {f"{prefix}{name}": [] for prefix in roots for name in ("dedup", "dedup_cached", "no_dedup")}
    loops = []
    for round_ in range(rounds):
        loops.append(json_loop([layout.gold, layout.snippets]))
        for name in runs:
            prefix = "before_" if name.startswith("before_") else ""
            out = folder / f"out-{name}-{round_}"
            if name.endswith("_dedup_cached") or name == "dedup_cached":
                # the clusters the run before (a "dedup" one, of the same checkout) saved
                if not layout.dedup_cache.exists():
                    raise SystemExit("bench: no dedup cache to time a cached export with")
            else:
                layout.dedup_cache.unlink(missing_ok=True)  # a first export: dedup is computed
            command = [sys.executable, __file__, "--measure-export", str(corpus_dir), str(out)] + (["--no-dedup"] if name.endswith("no_dedup") else [])
            environment = dict(os.environ, PYTHONPATH=str(roots[prefix]))
            runs[name].append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout))
            shutil.rmtree(out, ignore_errors=True)
    result: dict = {"snippets": snippets, "rounds": rounds, "json_loop_gold_and_snippets_s": round(statistics.median(loops), 2)}
    if before is not None:
        result["before"] = str(before)
    for name, measured in runs.items():
        seconds = statistics.median(run["s"] for run in measured)
        cpu = statistics.median(run["cpu_s"] for run in measured)
        stories = measured[0]["stories"]
        result[name] = {
            "s": round(seconds, 2), "cpu_s": round(cpu, 2), "stories": stories,
            # the least CPU of the rounds: what a quiet machine gives, when others' benches inflate the medians
            "cpu_s_min": round(min(run["cpu_s"] for run in measured), 2),
            "stories_per_s": round(stories / seconds), "stories_per_cpu_s": round(stories / cpu),
            "ratio_to_json_loop": round(statistics.median(run["s"] / loop for run, loop in zip(measured, loops)), 2),
            "peak_rss_mb": round(max(run["peak_rss_mb"] for run in measured), 1),
        }
    for prefix in roots:
        with_dedup, without = result[f"{prefix}dedup"]["cpu_s"], result[f"{prefix}no_dedup"]["cpu_s"]
        result[f"{prefix}dedup_share_of_export_cpu"] = round((with_dedup - without) / with_dedup, 2) if with_dedup else None
    if before is not None:
        for name in ("dedup", "dedup_cached", "no_dedup"):
            result[f"speedup_{name}_cpu"] = round(result[f"before_{name}"]["cpu_s"] / result[name]["cpu_s"], 2)
            result[f"speedup_{name}_wall"] = round(result[f"before_{name}"]["s"] / result[name]["s"], 2)
    result["goal_stories_per_s"] = 15_000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=1_000_000, help="synthetic stories for the writer benchmark")
    parser.add_argument("--pool-pages", type=int, default=10_000, help="distinct synthetic pages (3 stories each) whose story rows are timed and then cycled")
    parser.add_argument("--full-snippets", type=int, default=20_000, help="pages for the end-to-end export_corpus run (0 to skip)")
    parser.add_argument("--rounds", type=int, default=3, help="end-to-end runs of each kind; medians count (default 3)")
    parser.add_argument("--skip-writer", action="store_true", help="only the end-to-end run")
    parser.add_argument("--before", type=Path, help="another checkout's folder (holding curate/): its export runs in the same end-to-end rounds, for before/after")
    parser.add_argument("--measure-export", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--no-dedup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_export:
        measure_export(*args.measure_export, dedup=not args.no_dedup)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    folder = Path(tempfile.mkdtemp(prefix="curate-bench-export-", dir="/tmp"))
    try:
        result: dict = {"benchmark": "export"}
        if not args.skip_writer:
            (folder / "rows").mkdir()
            result["rows_and_write"] = bench_rows_and_write(args.stories, args.pool_pages, folder / "rows")
        if args.full_snippets:
            (folder / "full").mkdir(parents=True)
            result["end_to_end"] = bench_full(args.full_snippets, folder / "full", args.rounds, args.before)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
