"""Benchmark of `curate export --format hf` on 1M synthetic stories, beside `Dataset.to_parquet` of the same rows.

Synthetic pages of three stories each (a boilerplate credit line in the first, entities
throughout) are cut into story rows by the export's own code (`story_rows`, timed on a pool of
distinct pages: its cost is the project tokenizer's, per story). The pool's rows, under new ids,
up to `--stories`, are made first; then the HF writer is timed over all of them
(`Writer.add_stories`: token strings, IOB2 tags, entity structs, parquet per split, up to its
close). The same rows are then loaded as a `datasets.Dataset` (memory-mapped, from the files
just written) and written again with `Dataset.to_parquet`, the baseline, under the same
features and parquet options. Both are timed in wall and process CPU seconds (the writer
writes parquet in a second thread while it builds the next batch, so its wall time gains
only when a second core is free; `write_flush_s` is the time spent building tables and
waiting for that thread). A smaller end-to-end run goes through a real corpus folder (ingest,
gold, then `curate export`'s path: the progress total and `export_corpus`, both configs and
the card), each run in a fresh process that reports its peak RSS, with and without the
near-duplicate grouping (the dedup share of the export's CPU time is printed), beside the
anchor measured in the same round: a plain Python loop json-parsing every line of gold.jsonl
and snippets.jsonl once. Everything is written under a temporary folder in /tmp and removed
afterwards. Prints one JSON object.

    .venv/bin/python scripts/bench_export.py [--stories 1000000] [--pool-pages 10000] [--full-snippets 20000] [--rounds 3]
    .venv/bin/python scripts/bench_export.py --skip-writer --full-snippets 333334   # end to end, 1M stories
"""

from __future__ import annotations

import argparse
import copy
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


def renamed(story, snippet_id: str):
    """A pool story under a new snippet id, sharing its text, tokens and offset arrays
    (`dataclasses.replace` would build the offset arrays again)."""
    story = copy.copy(story)
    object.__setattr__(story, "id", f"{snippet_id}#{story.story}")
    object.__setattr__(story, "snippet_id", snippet_id)
    return story


def bench_rows_and_write(stories_wanted: int, pool_pages: int, folder: Path) -> dict:
    from curate.export.context import ExportContext
    from curate.export.rows import SplitAssigner, story_rows
    from curate.formats.hf import STORIES, Writer, data_file
    from curate.model import CorpusConfig

    rng = random.Random(7)
    pages = [synthetic_page(number, rng) for number in range(pool_pages)]
    t0 = time.perf_counter()
    pool = [story_rows(snippet, record) for snippet, record in pages]
    rows_seconds = time.perf_counter() - t0
    pool_stories = sum(len(rows) for rows in pool)

    config = CorpusConfig(name="bench")
    context = ExportContext(config, folder, "gold", dict(config.splits))
    out = folder / "ours"
    out.mkdir()
    writer = Writer(out, context)
    assign = SplitAssigner(context.splits)
    story_files = writer.files[STORIES]
    flush_untimed = story_files.flush
    flush_seconds = [0.0]

    def flush_timed(split: str) -> None:
        started = time.perf_counter()
        flush_untimed(split)
        flush_seconds[0] += time.perf_counter() - started

    story_files.flush = flush_timed  # splits the writer's time: gathering rows vs building tables and writing
    # The rows are made first (untimed), so no untimed work runs while the writer's thread writes.
    batches = []
    made = tokens = characters = number = 0
    while made < stories_wanted:
        snippet_id = f"bench-{number:07d}"
        # The pool's stories again under new ids: the writer's work does not depend on the text.
        built = [renamed(story, snippet_id) for story in pool[number % len(pool)][: stories_wanted - made]]
        batches.append((assign(snippet_id), built))
        made += len(built)
        tokens += sum(len(story.tokens) for story in built)
        characters += sum(len(story.text) for story in built)
        number += 1
    # The pool and the prepared rows are the benchmark's, not the writer's: out of the
    # garbage collector's sight, so collections in the timed run cost what they would in an export.
    gc.collect()
    gc.freeze()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for split, built in batches:
        writer.add_stories(split, built)
    writer.files[STORIES].close()
    write, write_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    del batches
    gc.unfreeze()
    gc.collect()
    splits = {split: count for split, count in writer.files[STORIES].rows.items() if count}
    paths = {split: out / data_file(STORIES, split) for split in splits}

    import datasets

    datasets.disable_progress_bars()
    t0 = time.perf_counter()
    loaded = {split: datasets.Dataset.from_parquet(str(path), features=writer.features[STORIES], cache_dir=str(folder / "cache")) for split, path in paths.items()}
    load_seconds = time.perf_counter() - t0
    assert sum(len(dataset) for dataset in loaded.values()) == made
    baseline_dir = folder / "baseline"
    baseline_dir.mkdir()
    gc.collect()
    gc.freeze()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for split, dataset in loaded.items():
        dataset.to_parquet(str(baseline_dir / f"{split}.parquet"))
    baseline, baseline_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    gc.unfreeze()
    rows_per_story = rows_seconds / pool_stories
    return {
        "stories": made,
        "snippets": number,
        "tokens": tokens,
        "characters": characters,
        "splits": splits,
        "write_parquet_s": round(write, 2),
        "baseline_dataset_to_parquet_s": round(baseline, 2),
        "write_ratio_vs_to_parquet": round(write / baseline, 2),
        "write_cpu_s": round(write_cpu, 2),
        "baseline_to_parquet_cpu_s": round(baseline_cpu, 2),
        "write_cpu_ratio_vs_to_parquet": round(write_cpu / baseline_cpu, 2),
        "write_gather_rows_s": round(write - flush_seconds[0], 2),
        "write_flush_s": round(flush_seconds[0], 2),
        "baseline_dataset_from_parquet_s": round(load_seconds, 2),
        "story_rows_us_per_story": round(rows_per_story * 1e6, 1),
        "story_rows_measured_on": pool_stories,
        "story_rows_s_for_all_estimated": round(rows_per_story * made, 1),
        "export_s_estimated": round(rows_per_story * made + write, 1),
        "export_ratio_vs_to_parquet_estimated": round((rows_per_story * made + write) / baseline, 2),
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




def measure_export(corpus_dir: str, out: str, dedup: bool) -> None:
    """In a fresh process: `curate export`'s path (the progress total, then export_corpus),
    printing wall and CPU seconds, stories and this process's peak RSS as JSON."""

    import curate.formats.hf  # noqa: F401 (the import is not the export's work)
    from curate.export import export_corpus, source_total
    from curate.store import Corpus

    wall, cpu = time.perf_counter(), time.process_time()
    with Corpus.open(corpus_dir) as corpus:
        source_total(corpus, "gold")
        report = export_corpus(corpus, out, dedup=dedup)
    print(json.dumps({
        "s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "stories": report.stories,
        "peak_rss_mb": peak_rss_mb(),
    }))


def bench_full(snippets: int, folder: Path, rounds: int) -> dict:
    """`curate export` end to end through a corpus folder, each run in a fresh process, with
    and without the near-duplicate grouping (dedup), beside the json loop over gold.jsonl and
    snippets.jsonl in the same round; medians of `rounds`."""
    import statistics
    import subprocess

    corpus_dir = build_full_corpus(snippets, folder)
    from curate.store import CorpusLayout

    layout = CorpusLayout(corpus_dir)
    runs: dict[str, list[dict]] = {"dedup": [], "no_dedup": []}
    loops = []
    for round_ in range(rounds):
        loops.append(json_loop([layout.gold, layout.snippets]))
        for name in runs:
            out = folder / f"out-{name}-{round_}"
            command = [sys.executable, __file__, "--measure-export", str(corpus_dir), str(out)] + (["--no-dedup"] if name == "no_dedup" else [])
            runs[name].append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
            shutil.rmtree(out, ignore_errors=True)
    result: dict = {"snippets": snippets, "rounds": rounds, "json_loop_gold_and_snippets_s": round(statistics.median(loops), 2)}
    for name, measured in runs.items():
        seconds = statistics.median(run["s"] for run in measured)
        cpu = statistics.median(run["cpu_s"] for run in measured)
        stories = measured[0]["stories"]
        result[name] = {
            "s": round(seconds, 2), "cpu_s": round(cpu, 2), "stories": stories,
            "stories_per_s": round(stories / seconds), "stories_per_cpu_s": round(stories / cpu),
            "ratio_to_json_loop": round(statistics.median(run["s"] / loop for run, loop in zip(measured, loops)), 2),
            "peak_rss_mb": round(max(run["peak_rss_mb"] for run in measured), 1),
        }
    with_dedup, without = result["dedup"]["cpu_s"], result["no_dedup"]["cpu_s"]
    result["dedup_share_of_export_cpu"] = round((with_dedup - without) / with_dedup, 2) if with_dedup else None
    result["goal_stories_per_s"] = 15_000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=1_000_000, help="synthetic stories for the writer benchmark")
    parser.add_argument("--pool-pages", type=int, default=10_000, help="distinct synthetic pages (3 stories each) whose story rows are timed and then cycled")
    parser.add_argument("--full-snippets", type=int, default=20_000, help="pages for the end-to-end export_corpus run (0 to skip)")
    parser.add_argument("--rounds", type=int, default=3, help="end-to-end runs of each kind; medians count (default 3)")
    parser.add_argument("--skip-writer", action="store_true", help="only the end-to-end run")
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
            result["end_to_end"] = bench_full(args.full_snippets, folder / "full", args.rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
