"""Does annotating the least sure snippets first teach the model more? Prints one JSON object.

On the Reuters dev pages (../shared/bench/reuters-pages-dev), cross-validated over pages: the
pages are cut into K folds (page i in fold i mod K). For each fold, the other folds are the pool
an editor works through; the first BUDGET pages of the pool in each order are given to the
learner as `done` records, `curate suggest --learn` fits on them (the entity CRF and the
story-start CRF, as the command does) and suggests for the held-out fold, which is scored
against its gold. Every page is held out once, so each order is scored on all pages, pooled.

Orders: `corpus` (the pool in corpus order), `uncertainty` (highest score first, the scores
that a first `curate suggest` on the corpus stored: the pretrained pipeline and the hand-set
story-start scorer, before anything was learned) and `random` (seeded shuffles, as a
baseline). The chosen pages' size (characters, gold entities) is reported too, since an order
that prefers long pages gives the learner more to learn from.

Usage: python scripts/bench_suggest_order.py [--bench ../shared/bench] [--folds 5] [--budget 20] [--random-seeds 2]
Corpora are built under a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_suggest import boundary_scores, build_corpus, entity_scores, read_jsonl, suggestions_of, write_jsonl

from curate.queueing import ordered
from curate.store import Corpus, CorpusLayout
from curate.suggest.service import SuggestOptions, run_suggest
from curate.suggest.uncertainty import read_scores

HERE = Path(__file__).resolve().parent
DEFAULT_BENCH = HERE.parent.parent / "shared" / "bench"
LABELS = ["PER", "ORG", "LOC", "MISC"]


def cold_scores(work: Path, snippets: list[dict]) -> np.ndarray:
    """The scores a first `curate suggest` (nothing learned yet) stores for every page."""
    corpus_dir = build_corpus(work / "cold", snippets, LABELS)
    with Corpus.open(corpus_dir) as corpus:
        run_suggest(corpus, SuggestOptions())
        return read_scores(corpus).copy()


def learned_suggestions(work: Path, name: str, snippets: list[dict], gold: dict[str, dict], train: list[int], test: list[int]) -> tuple[dict, float]:
    """`curate suggest --learn` on a corpus where the `train` pages are done, suggesting for `test` only."""
    corpus_dir = build_corpus(work / name, snippets, LABELS)
    CorpusLayout(corpus_dir).annotations.mkdir(exist_ok=True)
    write_jsonl(CorpusLayout(corpus_dir).journal("editor"), [dict(gold[snippets[position]["id"]], annotator="editor", status="done") for position in train])
    started = time.perf_counter()
    with Corpus.open(corpus_dir) as corpus:
        run_suggest(corpus, SuggestOptions(learn=True, only=frozenset(test)))
    seconds = time.perf_counter() - started
    suggested = suggestions_of(corpus_dir)
    shutil.rmtree(work / name, ignore_errors=True)
    return {snippets[position]["id"]: suggested[snippets[position]["id"]] for position in test}, seconds


def scores_of(snippets: list[dict], gold: dict[str, dict], suggested: dict) -> dict:
    ids = [row["id"] for row in snippets if row["id"] in suggested]
    texts = {row["id"]: row["text"] for row in snippets}
    entities = entity_scores([([(e["start"], e["end"], e["label"]) for e in gold[i]["entities"]], [(e.start, e.end, e.label) for e in suggested[i].entities]) for i in ids])
    starts = boundary_scores([(texts[i], [s["start"] for s in gold[i]["stories"][1:]], suggested[i].story_starts) for i in ids])
    return {"entity_f1": entities["overall"]["f1"], "entity_precision": entities["overall"]["precision"], "entity_recall": entities["overall"]["recall"], "story_start_f1": starts["f1"], "pk": starts["pk"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    parser.add_argument("--folds", type=int, default=5, help="folds over pages (each held out once)")
    parser.add_argument("--budget", type=int, default=20, help="pages an editor annotates before learning")
    parser.add_argument("--random-seeds", type=int, default=2, help="random orders to average as a baseline (0: none)")
    parser.add_argument("--orders", default="corpus,uncertainty,random", help="which orders to run, comma-separated")
    args = parser.parse_args()
    snippets = read_jsonl(args.bench / "reuters-pages-dev" / "snippets.jsonl")
    gold = {row["snippet_id"]: row for row in read_jsonl(args.bench / "reuters-pages-dev" / "gold.jsonl")}
    work = Path(tempfile.mkdtemp(prefix="bench-order-"))
    started = time.perf_counter()
    try:
        scores = cold_scores(work, snippets)
        print(f"cold scores: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        wanted = args.orders.split(",")
        orders = [order for order in ("corpus", "uncertainty") if order in wanted] + ([f"random-{seed}" for seed in range(args.random_seeds)] if "random" in wanted else [])
        pooled: dict[str, dict] = {order: {} for order in orders}
        chosen: dict[str, list[list[str]]] = {order: [] for order in orders}
        seconds: dict[str, list[float]] = {order: [] for order in orders}
        for fold in range(args.folds):
            test = [position for position in range(len(snippets)) if position % args.folds == fold]
            pool = np.array([position for position in range(len(snippets)) if position % args.folds != fold], dtype=np.int64)
            for order in orders:
                if order.startswith("random-"):
                    picked = ordered(pool, "random", seed=int(order.split("-")[1]))[: args.budget]
                else:
                    picked = ordered(pool, order, scores)[: args.budget]
                suggested, took = learned_suggestions(work, f"fold{fold}-{order}", snippets, gold, sorted(picked.tolist()), test)
                pooled[order].update(suggested)
                chosen[order].append([snippets[position]["id"] for position in picked.tolist()])
                seconds[order].append(round(took, 1))
                print(f"fold {fold} {order}: {took:.1f} s", file=sys.stderr)
        result: dict = {"pages": len(snippets), "folds": args.folds, "budget": args.budget, "orders": {}}
        for order in orders:
            picked_ids = [page for fold_pages in chosen[order] for page in fold_pages]
            size = {
                "mean_characters": round(sum(len(next(row["text"] for row in snippets if row["id"] == page)) for page in picked_ids) / len(picked_ids)),
                "mean_gold_entities": round(sum(len(gold[page]["entities"]) for page in picked_ids) / len(picked_ids), 1),
            }
            result["orders"][order] = {**scores_of(snippets, gold, pooled[order]), "chosen_pages": size, "fit_and_suggest_seconds": seconds[order], "first_fold_pages": chosen[order][0]}
        randoms = [result["orders"][order] for order in orders if order.startswith("random-")]
        if randoms:
            result["random_mean"] = {key: round(sum(item[key] for item in randoms) / len(randoms), 4) for key in ("entity_f1", "story_start_f1", "pk")}
        if "uncertainty" in result["orders"] and "corpus" in result["orders"]:
            result["uncertainty_minus_corpus"] = {key: round(result["orders"]["uncertainty"][key] - result["orders"]["corpus"][key], 4) for key in ("entity_f1", "story_start_f1", "pk")}
        result["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
