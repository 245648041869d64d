"""Benchmark `curate suggest`; prints one JSON object.

- reuters-pages-dev: story-start precision/recall/F1, Pk and WindowDiff, entity P/R/F1 per
  label (exact spans), before learning and after learning with two-fold cross-validation
  over pages (each fold's gold given to the learner as a `done` journal; the other fold scored).
  `--entity-learner` picks what learning fits for entities (default: the CRF over the model's tags).
- choi-3-11: Pk (segeval, default window) with every line a unit, beside Choi's table.
- the seed page: the story starts, boilerplate and truncated stories proposed.
- throughput: characters per second of `run_suggest` with 1 and 2 worker processes, with the
  pretrained model and with the learned entity tagger.
- fitting: seconds (wall and CPU, medians of --repeats fits, each in a fresh process) and peak
  RSS of learning from 55 and from 255 pages of gold (`learn_from_editors`: the pipeline's
  output, the entity CRF, the story-start CRF; loading the pipeline is timed apart), with the
  default CRF training and with the old one (`--training old`: L-BFGS, 100 iterations for the full stages,
  three held-out stages of 30, in one process) in the same run; each fit parses every text afresh (the parse cache removed),
  and one more fit with the cache kept shows a refit as the learning loop makes it. CPU seconds include the child processes
  beside the main one (curate.suggest.crftrain; forks of it where that is safe, so they start with
  the pipeline and name lists loaded): on a first fit one parses a share of the texts
  (tagger.ParsedTexts) while the main process loads the name lists and parses the rest; then one
  builds half the tagger's features, trains a held-out first stage, the full first stage and the
  story-start CRF while the main process trains the second stage. Main CPU seconds are the main
  process's own: its work is the critical path but for the little time it waits for the child.
  Peak RSS is the main process's (a child's ru_maxrss would count the parent's memory at the fork before its exec). 255 pages are the 55 dev pages four times over plus 35 of them drawn with a seeded
  shuffle, each copy with its own id (for timing only: copies share their gold).
- cv: 5-fold cross-validation by page of the learned entity tagger and story-start CRF on the
  dev pages (the pipeline run once over all pages): story-start P/R/F1 and Pk, entity F1 per
  label, with the default CRF training and the old one. `--idea NAME` also measures an idea of
  issue 16 item 3 that curate does not use, beside the default in the same run: word clusters
  learned from every dev page's text (`clusters`; scripts/wordclusters.py hooks them into the
  tagger's features) or from those and more unannotated text of the bench (`clusters-pool`), and
  one round of self-training on the more confident half of the held-out pages (`self-training`;
  it also scores its first fit, the same run's baseline). Measured (5 folds, same run): entity F1
  0.8829 default, 0.8832 clusters, 0.8796 clusters-pool (fits 38-41% slower); 0.8821 after
  self-training against 0.8830 before it (refitting doubles the fit); story-start F1 0.9969 in all.

Usage: python scripts/bench_suggest.py [--bench ../shared/bench] [--quick]
Corpora are built under a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import segeval
from benchkit import peak_rss_mb

from curate.ingest import ingest
from curate.model import Annotation
from curate.store import STORY_MODEL_NAME, Corpus, CorpusLayout
from curate.suggest.learn import PARSE_CACHE
from curate.suggest.service import SuggestOptions, run_suggest

HERE = Path(__file__).resolve().parent
DEFAULT_BENCH = HERE.parent.parent / "shared" / "bench"
SEED = HERE.parent.parent / "shared" / "seeds" / "000_43b149b2d09b88e5.txt"


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- metrics


def line_starts(text: str) -> list[int]:
    from curate.text import line_starts as starts

    return starts(text)


def masses(text: str, starts: list[int], extra: list[int]) -> tuple[int, ...]:
    """Story sizes in units, units cut at line starts and every start of either side."""
    cuts = sorted(set(line_starts(text)) | set(extra) | {0})
    boundaries = sorted(set(starts))
    sizes = []
    current = 0
    for cut in cuts:
        if cut in boundaries and cut != 0:
            sizes.append(current)
            current = 0
        current += 1
    sizes.append(current)
    return tuple(size for size in sizes if size > 0)


def boundary_scores(pairs: list[tuple[str, list[int], list[int]]]) -> dict:
    """pairs: (text, reference starts, hypothesis starts)."""
    true_positive = false_positive = false_negative = 0
    pk_values, wd_values = [], []
    for text, reference, hypothesis in pairs:
        ref, hyp = set(reference), set(hypothesis)
        true_positive += len(ref & hyp)
        false_positive += len(hyp - ref)
        false_negative += len(ref - hyp)
        both = sorted(ref | hyp)
        ref_masses = masses(text, reference, both)
        hyp_masses = masses(text, hypothesis, both)
        pk_values.append(float(segeval.pk(hyp_masses, ref_masses)))
        wd_values.append(float(segeval.window_diff(hyp_masses, ref_masses)))
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "pk": round(sum(pk_values) / len(pk_values), 4),
        "windowdiff": round(sum(wd_values) / len(wd_values), 4),
        "reference_starts": true_positive + false_negative,
        "proposed_starts": true_positive + false_positive,
    }


def entity_scores(pairs: list[tuple[list[tuple], list[tuple]]]) -> dict:
    """Exact-span P/R/F1 pooled over snippets, overall and per label."""
    counts: dict[str, Counter] = {}
    for reference, hypothesis in pairs:
        ref, hyp = set(reference), set(hypothesis)
        for label in {item[2] for item in ref | hyp}:
            tally = counts.setdefault(label, Counter())
            tally["tp"] += len({item for item in ref & hyp if item[2] == label})
            tally["fp"] += len({item for item in hyp - ref if item[2] == label})
            tally["fn"] += len({item for item in ref - hyp if item[2] == label})

    def prf(tally: Counter) -> dict:
        precision = tally["tp"] / (tally["tp"] + tally["fp"]) if tally["tp"] + tally["fp"] else 0.0
        recall = tally["tp"] / (tally["tp"] + tally["fn"]) if tally["tp"] + tally["fn"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": tally["tp"] + tally["fn"]}

    total = sum(counts.values(), Counter())
    return {"overall": prf(total), "per_label": {label: prf(tally) for label, tally in sorted(counts.items())}}


def truncation_scores(pairs: list[tuple[list[dict], list[dict]]]) -> dict:
    """Truncated flags of stories whose span both sides agree on."""
    true_positive = false_positive = false_negative = 0
    for reference, hypothesis in pairs:
        ref = {(story["start"], story["end"]): story["truncated"] for story in reference}
        for story in hypothesis:
            key = (story["start"], story["end"])
            if key not in ref:
                continue
            true_positive += ref[key] and story["truncated"]
            false_positive += (not ref[key]) and story["truncated"]
            false_negative += ref[key] and not story["truncated"]
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "on_matching_stories": True}


# ---------------------------------------------------------------- corpora


def build_corpus(folder: Path, snippets: list[dict], labels: list[str] | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "source.jsonl"
    write_jsonl(source, snippets)
    corpus_dir = folder / "corpus"
    ingest([source], corpus_dir, labels=labels)
    return corpus_dir


def suggestions_of(corpus_dir: Path) -> dict[str, Annotation]:
    with Corpus.open(corpus_dir) as corpus, corpus.suggestions() as journal:
        return {record.snippet_id: record for record in journal.records()}


def score_reuters(texts: dict[str, str], gold: dict[str, dict], suggested: dict[str, Annotation], ids: list[str]) -> dict:
    boundary_pairs = [(texts[i], [s["start"] for s in gold[i]["stories"][1:]], suggested[i].story_starts) for i in ids]
    entity_pairs = [
        ([(e["start"], e["end"], e["label"]) for e in gold[i]["entities"]], [(e.start, e.end, e.label) for e in suggested[i].entities])
        for i in ids
    ]
    truncation_pairs = [(gold[i]["stories"], [story.model_dump() for story in suggested[i].stories]) for i in ids]
    return {"story_starts": boundary_scores(boundary_pairs), "entities": entity_scores(entity_pairs), "truncation": truncation_scores(truncation_pairs)}


def reuters(bench: Path, work: Path, epochs: int, entity_learner: str) -> dict:
    snippets = read_jsonl(bench / "reuters-pages-dev" / "snippets.jsonl")
    gold = {row["snippet_id"]: row for row in read_jsonl(bench / "reuters-pages-dev" / "gold.jsonl")}
    texts = {row["id"]: row["text"] for row in snippets}
    ids = [row["id"] for row in snippets]
    labels = ["PER", "ORG", "LOC", "MISC"]

    before_dir = build_corpus(work / "reuters-before", snippets, labels)
    with Corpus.open(before_dir) as corpus:
        run_suggest(corpus, SuggestOptions())
    before = score_reuters(texts, gold, suggestions_of(before_dir), ids)

    folds = [ids[0::2], ids[1::2]]
    fold_suggestions: dict[str, Annotation] = {}
    learning = []
    for index, test_ids in enumerate(folds):
        train_ids = [i for i in ids if i not in set(test_ids)]
        corpus_dir = build_corpus(work / f"reuters-fold{index}", snippets, labels)
        journal_rows = []
        for i in train_ids:
            record = dict(gold[i], annotator="gold", status="done")
            journal_rows.append(record)
        CorpusLayout(corpus_dir).annotations.mkdir(exist_ok=True)
        write_jsonl(CorpusLayout(corpus_dir).journal("gold"), journal_rows)
        started = time.perf_counter()
        with Corpus.open(corpus_dir) as corpus:
            report = run_suggest(corpus, SuggestOptions(learn=True, learn_epochs=epochs, n_process=1, entity_learner=entity_learner))
        learning.append({"fold": index, "train_pages": len(train_ids), "learned": report.learned, "total_seconds_with_suggesting": round(time.perf_counter() - started, 1)})
        suggested = suggestions_of(corpus_dir)
        fold_suggestions.update({i: suggested[i] for i in test_ids})
    after = score_reuters(texts, gold, fold_suggestions, ids)
    return {"pages": len(ids), "entity_learner": entity_learner, "before_learning": before, "after_learning_2fold": after, "learning": learning}


def choi_texts(bench: Path) -> list[tuple[str, str, list[int]]]:
    """(id, text, reference story starts) per Choi file; every line one unit."""
    result = []
    for path in sorted((bench / "choi-3-11").glob("*.ref"), key=lambda item: int(item.stem)):
        lines, starts = [], []
        offset = 0
        pending_start = False
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.strip() == "==========":
                pending_start = True
                continue
            if not raw.strip():
                continue
            if pending_start and lines:
                starts.append(offset)
            pending_start = False
            lines.append(raw.rstrip())
            offset += len(raw.rstrip()) + 1
        result.append((f"choi-{path.stem}", "\n".join(lines), starts))
    return result


def choi(bench: Path, work: Path) -> dict:
    files = choi_texts(bench)
    snippets = [{"id": name, "text": text} for name, text, _ in files]
    reference = {name: starts for name, _, starts in files}
    texts = {name: text for name, text, _ in files}
    corpus_dir = build_corpus(work / "choi", snippets, None)
    with Corpus.open(corpus_dir) as corpus:
        run_suggest(corpus, SuggestOptions(entities="none"))
    suggested = suggestions_of(corpus_dir)
    hand = boundary_scores([(texts[i], reference[i], suggested[i].story_starts) for i in texts])

    ids = list(texts)
    folds = [ids[0::2], ids[1::2]]
    learned: dict[str, Annotation] = {}
    for index, test_ids in enumerate(folds):
        fold_dir = build_corpus(work / f"choi-fold{index}", snippets, None)
        test = set(test_ids)
        rows = []
        for i in ids:
            if i in test:
                continue
            cuts = [0, *reference[i], len(texts[i])]
            rows.append({"snippet_id": i, "annotator": "gold", "status": "done", "stories": [{"start": a, "end": b, "truncated": False} for a, b in zip(cuts, cuts[1:])]})
        CorpusLayout(fold_dir).annotations.mkdir(exist_ok=True)
        write_jsonl(CorpusLayout(fold_dir).journal("gold"), rows)
        with Corpus.open(fold_dir) as corpus:
            run_suggest(corpus, SuggestOptions(entities="none", learn=True))
        fold_suggested = suggestions_of(fold_dir)
        learned.update({i: fold_suggested[i] for i in test_ids})
    crf = boundary_scores([(texts[i], reference[i], learned[i].story_starts) for i in texts])
    return {
        "files": len(files),
        "hand_set_default": {"pk": hand["pk"], "windowdiff": hand["windowdiff"], "f1": hand["f1"]},
        "learned_2fold": {"pk": crf["pk"], "windowdiff": crf["windowdiff"], "f1": crf["f1"]},
        "choi_2000_table_pk": {"C99": 0.12, "TextTiling": 0.46, "no_boundaries": 0.46, "all_boundaries": 0.54},
    }


def seed(work: Path) -> dict:
    text = SEED.read_text(encoding="utf-8")
    corpus_dir = build_corpus(work / "seed", [{"id": "seed", "text": text}], None)
    with Corpus.open(corpus_dir) as corpus:
        run_suggest(corpus, SuggestOptions())
    record = suggestions_of(corpus_dir)["seed"]
    return {
        "story_starts": [{"offset": start, "begins": text[start : start + 60]} for start in record.story_starts],
        "boilerplate": [{"kind": item.kind, "text": text[item.start : item.end]} for item in record.boilerplate],
        "truncated_stories": [{"start": story.start, "ends": text[max(story.start, story.end - 50) : story.end].rstrip()} for story in record.stories if story.truncated],
        "entities": len(record.entities),
    }


def timed_suggest(corpus_dir: Path, processes: int) -> float:
    """Seconds for one full `suggest` run over the corpus (everything redone)."""
    started = time.perf_counter()
    with Corpus.open(corpus_dir) as corpus:
        run_suggest(corpus, SuggestOptions(n_process=processes, redo=True, batch_size=16))
    return time.perf_counter() - started


def throughput(bench: Path, work: Path, copies: int) -> dict:
    snippets = read_jsonl(bench / "reuters-pages-dev" / "snippets.jsonl")
    rows = [{"id": f"{row['id']}-{copy}", "text": row["text"]} for copy in range(copies) for row in snippets]
    corpus_dir = build_corpus(work / "throughput", rows, ["PER", "ORG", "LOC", "MISC"])
    characters = sum(len(row["text"]) for row in rows)
    result = {"characters": characters, "snippets": len(rows)}
    for processes in (1, 2):
        seconds = timed_suggest(corpus_dir, processes)
        result[f"chars_per_second_{processes}_process"] = round(characters / seconds)
        result[f"seconds_{processes}_process"] = round(seconds, 2)
    # the learned entity tagger (fitted on half the pages' gold) adds spaCy's tagger and the CRF
    gold = read_jsonl(bench / "reuters-pages-dev" / "gold.jsonl")[0::2]
    CorpusLayout(corpus_dir).annotations.mkdir(exist_ok=True)
    write_jsonl(CorpusLayout(corpus_dir).journal("gold"), [dict(record, snippet_id=f"{record['snippet_id']}-0", annotator="gold", status="done") for record in gold])
    with Corpus.open(corpus_dir) as corpus:
        run_suggest(corpus, SuggestOptions(learn=True, redo=True, batch_size=16))
    for processes in (1, 2):
        seconds = timed_suggest(corpus_dir, processes)
        result[f"learned_chars_per_second_{processes}_process"] = round(characters / seconds)
        result[f"learned_seconds_{processes}_process"] = round(seconds, 2)
    return result


# ---------------------------------------------------------------- fitting time and cross-validation

# How the entity tagger's CRFs were trained before the two-core fit: L-BFGS, 100 iterations for the
# full stages, three held-out first stages of 30, all in one process.
OLD_PARAMS = {"c1": 0.0, "c2": 0.1, "max_iterations": 100, "feature.possible_transitions": True}
OLD_TRAINING = {"algorithm": "lbfgs", "params": OLD_PARAMS, "stage_params": {**OLD_PARAMS, "max_iterations": 30}, "stage_folds": 3, "parallel": False}
TRAINING_NAMES = {"algorithm": "CRF_ALGORITHM", "params": "CRF_PARAMS", "stage_params": "STAGE_CRF_PARAMS", "stage_folds": "STAGE_FOLDS", "parallel": "PARALLEL_FIT"}


def _use_training(training: dict | None) -> None:
    """Fit the entity tagger with `training` (None: the default) in this process."""
    from curate.suggest import tagger

    for key, value in (training or {}).items():
        setattr(tagger, TRAINING_NAMES[key], value)


def page_rows(bench: Path, pages: int) -> tuple[list[dict], list[dict]]:
    """`pages` snippets and their gold: the dev pages repeated, the remainder a seeded draw of them."""
    snippets = read_jsonl(bench / "reuters-pages-dev" / "snippets.jsonl")
    gold = {row["snippet_id"]: row for row in read_jsonl(bench / "reuters-pages-dev" / "gold.jsonl")}
    chosen = snippets * (pages // len(snippets))
    rest = list(snippets)
    random.Random(0).shuffle(rest)
    chosen += rest[: pages % len(snippets)]
    rows, records = [], []
    for copy, row in enumerate(chosen):
        new_id = f"{row['id']}-{copy}"
        rows.append({"id": new_id, "text": row["text"]})
        records.append(dict(gold[row["id"]], snippet_id=new_id, annotator="gold", status="done"))
    return rows, records



def _cpu_seconds() -> float:
    """CPU seconds of this process and of its children that ended (the fit's CRF training child)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _own_cpu_seconds() -> float:
    """CPU seconds of this process alone (a fit's main process: on the critical path but while it waits for its child)."""
    times = os.times()
    return times.user + times.system


def _fit_once(corpus_dir: str, training: dict | None, queue: multiprocessing.Queue) -> None:
    """In a fresh process: load the pipeline, then learn from the corpus's gold; put the figures on `queue`."""
    from curate.suggest import learn
    from curate.suggest.entities import DEFAULT_MODEL, derive_label_map

    _use_training(training)
    started = time.perf_counter()
    nlp, source = learn.load_ner(DEFAULT_MODEL, with_tagger=True)
    load_seconds = time.perf_counter() - started
    with Corpus.open(Path(corpus_dir)) as corpus:
        examples = learn.annotated_examples(corpus)
        current = learn.EntityModel(nlp, DEFAULT_MODEL, source.name, source.version)
        config = corpus.config
        wall, cpu, own = time.perf_counter(), _cpu_seconds(), _own_cpu_seconds()
        _, learned = learn.learn_from_editors(
            corpus, examples, current, entities=None, entity_learner="crf", epochs=12, boundaries="auto",
            label_map=derive_label_map(config.label_names, {}), labels=config.label_names,
            boilerplate_kinds=config.boilerplate_kinds, meta={}, tell=lambda *_: None,
        )
        wall, cpu, own = time.perf_counter() - wall, _cpu_seconds() - cpu, _own_cpu_seconds() - own
    queue.put({"seconds": wall, "cpu_seconds": cpu, "main_cpu_seconds": own, "load_seconds": load_seconds, "peak_rss_mb": peak_rss_mb(), "examples": len(examples), "entity_crf_seconds": learned["entities"]["seconds"]})


def fit_figures(corpus_dir: Path, training: dict | None, repeats: int) -> dict:
    """Medians over `repeats` fits, each in a new process (so its peak RSS is its own)."""
    context = multiprocessing.get_context("spawn")

    def fit() -> dict:
        queue = context.Queue()
        process = context.Process(target=_fit_once, args=(str(corpus_dir), training, queue))
        process.start()
        run = queue.get()
        process.join()
        return run

    runs = []
    for _ in range(repeats):
        (CorpusLayout(corpus_dir).index_dir / PARSE_CACHE).unlink(missing_ok=True)  # a first fit: the pipeline parses every text
        runs.append(fit())
    refit = fit()  # as the learning loop refits: the parses of the last fit are kept
    return {
        "fit_seconds": round(statistics.median(run["seconds"] for run in runs), 1),
        "fit_cpu_seconds": round(statistics.median(run["cpu_seconds"] for run in runs), 1),
        "fit_main_cpu_seconds": round(statistics.median(run["main_cpu_seconds"] for run in runs), 1),
        "entity_crf_seconds": round(statistics.median(run["entity_crf_seconds"] for run in runs), 1),
        "pipeline_load_seconds": round(statistics.median(run["load_seconds"] for run in runs), 1),
        "peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs)),
        "runs_fit_seconds": [round(run["seconds"], 1) for run in runs],
        "refit_with_parses_kept": {"fit_seconds": round(refit["seconds"], 1), "fit_cpu_seconds": round(refit["cpu_seconds"], 1), "fit_main_cpu_seconds": round(refit["main_cpu_seconds"], 1)},
    }


def fitting(bench: Path, work: Path, repeats: int, page_counts: list[int], training: str) -> dict:
    result: dict = {"repeats": repeats, "note": "wall seconds on a shared machine; CPU seconds are the steadier figure; the ratio compares the old training with the default in this run"}
    for pages in page_counts:
        rows, records = page_rows(bench, pages)
        corpus_dir = build_corpus(work / f"fit-{pages}", rows, ["PER", "ORG", "LOC", "MISC"])
        CorpusLayout(corpus_dir).annotations.mkdir(exist_ok=True)
        write_jsonl(CorpusLayout(corpus_dir).journal("gold"), records)
        figures = {"default": fit_figures(corpus_dir, None, repeats)} if training in ("both", "default") else {}
        if training in ("both", "old"):
            figures["old_training"] = fit_figures(corpus_dir, OLD_TRAINING, repeats)
        if training == "both":
            figures["cpu_ratio_old_to_default"] = round(figures["old_training"]["fit_cpu_seconds"] / max(figures["default"]["fit_cpu_seconds"], 1e-9), 2)
            figures["wall_ratio_old_to_default"] = round(figures["old_training"]["fit_seconds"] / max(figures["default"]["fit_seconds"], 1e-9), 2)
        result[f"{pages}_pages"] = figures
    return result


def pool_texts(bench: Path) -> list[str]:
    """Unannotated text beyond the dev pages, read in place from the bench: Choi's Brown-corpus
    files (each distinct line once), the Prodigy news headlines, the WNUT tweets and brat's news."""
    lines: dict[str, None] = {}
    for path in sorted((bench / "choi-3-11").glob("*.ref")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and line.strip() != "==========":
                lines.setdefault(line.strip())
    texts = ["\n".join(lines)]
    texts += [row["text"] for row in read_jsonl(bench / "interop" / "prodigy" / "news-headlines-ner.jsonl") if row.get("text")]
    tweet, tweets = [], []
    for raw in (bench / "interop" / "conll" / "wnut17-emerging.dev.conll").read_text(encoding="utf-8-sig", errors="replace").splitlines():
        if raw.strip():
            tweet.append(raw.split("\t")[0].strip())
        elif tweet:
            tweets.append(" ".join(tweet))
            tweet = []
    texts.append("\n".join(tweets))
    texts += [path.read_text(encoding="utf-8", errors="replace") for path in sorted((bench / "interop" / "brat" / "news").glob("*.txt"))]
    return texts


class _Recorder:
    """A crfsuite tagger that keeps the marginal of each chosen tag of each sequence it tags."""

    def __init__(self, crf) -> None:
        self.crf = crf
        self.seen: list[list[float]] = []

    def tag(self, features):
        tags = self.crf.tag(features)
        self.seen.append([self.crf.marginal(tag, index) for index, tag in enumerate(tags)])
        return tags


def _mean_confidences(seen: list[list[float]], models: list, suggested: list) -> list[float]:
    """Mean marginal of the chosen tag over each text's name-like tokens (1.0 for none)."""
    from curate.suggest.uncertainty import name_like

    marginals = iter(seen)
    result = []
    for model, entities in zip(models, suggested):
        values = next(marginals) if model.tokens else []
        chosen = [value for value, candidate in zip(values, name_like(model.text, model.tokens, entities)) if candidate]
        result.append(sum(chosen) / len(chosen) if chosen else 1.0)
    return result


def cross_validate(
    bench: Path, work: Path, folds: int, training: dict | None, parsed: dict[str, tuple] | None = None, *, clusters: str = "none", self_train: float = 0.0
) -> tuple[dict, dict[str, tuple]]:
    """`folds`-fold cross-validation by page of what `learn_from_editors` fits (entity tagger, then
    story starts over its entities); returns the scores and the pipeline's output per page for reuse.

    `clusters`: word clusters learned from no text ("none"), from every dev page's text ("corpus":
    the held-out pages count as unannotated snippets), or from those and `pool_texts` ("pool").
    `self_train`: after the fit, this share of the held-out pages tagged by it, those with the
    highest mean marginal over name-like tokens, are added to the training pages with their
    suggested entities, and the tagger is fitted again (one round; 0: none). The first fit is
    scored too ("before_self_training"): the baseline of the same run."""
    from curate.suggest import tagger as tagging
    from curate.suggest.boilerplate import boilerplate_ranges
    from curate.suggest.boundaries import CrfScorer, story_starts
    from curate.suggest.entities import DEFAULT_MODEL, load_ner
    from curate.suggest.features import unit_features, units_of
    from curate.suggest.gazetteer import gazetteer_from_annotations
    from curate.suggest.learn import Example, story_training_data
    from curate.text import TextModel

    snippets = read_jsonl(bench / "reuters-pages-dev" / "snippets.jsonl")
    gold = {row["snippet_id"]: row for row in read_jsonl(bench / "reuters-pages-dev" / "gold.jsonl")}
    texts = {row["id"]: row["text"] for row in snippets}
    ids = [row["id"] for row in snippets]
    records = {i: Annotation.model_validate(dict(gold[i], annotator="gold", status="done")) for i in ids}
    labels = ["PER", "ORG", "LOC", "MISC"]
    if parsed is None:
        nlp, _ = load_ner(DEFAULT_MODEL, with_tagger=True)
        spans, pos_tags = tagging.model_output(nlp, [TextModel(texts[i]) for i in ids])
        parsed = {i: (found, tags) for i, found, tags in zip(ids, spans, pos_tags)}
    saved = {key: getattr(tagging, name) for key, name in TRAINING_NAMES.items()}
    _use_training(training)
    entity_pairs, boundary_pairs = [], []
    seconds, cluster_seconds, added, refit_seconds = [], [], [], []
    before_entities, before_boundaries = [], []
    folder = work / "cv"
    folder.mkdir(parents=True, exist_ok=True)
    hooks = contextlib.ExitStack()
    if clusters != "none":
        # every dev page's text is unannotated text to the clusters (the held-out ones are, and the others are text too)
        from wordclusters import WordClusters, learn_clusters, tagger_with_clusters

        started = _cpu_seconds()
        word_clusters = WordClusters(learn_clusters([texts[i] for i in ids] + (pool_texts(bench) if clusters == "pool" else [])))
        cluster_seconds.append(_cpu_seconds() - started)
        hooks.enter_context(tagger_with_clusters(word_clusters))
    try:
        for fold in range(folds):
            test = ids[fold::folds]
            train = [i for i in ids if i not in set(test)]
            pairs = [(texts[i], list(records[i].entities)) for i in train]
            started = _cpu_seconds()
            found = tagging.fit_tagger(pairs, [parsed[i][0] for i in train], folder / tagging.TAGGER_MODEL, [parsed[i][1] for i in train])
            fitted = tagging.EntityTagger(folder / tagging.TAGGER_MODEL, gazetteer_from_annotations(pairs), tagging.word_labels(pairs), labels)
            if self_train > 0:
                sequences, starts = story_training_data([Example(i, texts[i], records[i]) for i in train], found, None)
                first_scorer = CrfScorer.fit(sequences, starts, folder / STORY_MODEL_NAME)
                unlabelled = [TextModel(texts[i]) for i in test]
                recorder = _Recorder(fitted.crf)
                fitted.crf = recorder
                suggested = fitted.tag(unlabelled, [parsed[i][0] for i in test], [parsed[i][1] for i in test])
                for i, model, entities in zip(test, unlabelled, suggested):
                    before_entities.append(([(e["start"], e["end"], e["label"]) for e in gold[i]["entities"]], [(e.start, e.end, e.label) for e in entities]))
                    units = units_of(model)
                    probabilities = first_scorer.probabilities(unit_features(model, units, entities, boilerplate_ranges(model, None)))
                    before_boundaries.append((texts[i], [story["start"] for story in gold[i]["stories"][1:]], story_starts(units, probabilities)))
                confidences = _mean_confidences(recorder.seen, unlabelled, suggested)
                ranked = sorted(range(len(test)), key=lambda index: -confidences[index])
                confident = ranked[: round(self_train * len(test))]
                added.append({"pages": len(confident), "mean_marginals": sorted(round(value, 3) for value in confidences)})
                extra_ids = [test[index] for index in confident]
                every = pairs + [(texts[test[index]], suggested[index]) for index in confident]
                refit_started = _cpu_seconds()
                found = tagging.fit_tagger(every, [parsed[i][0] for i in train + extra_ids], folder / tagging.TAGGER_MODEL, [parsed[i][1] for i in train + extra_ids])[: len(train)]
                refit_seconds.append(_cpu_seconds() - refit_started)
                fitted = tagging.EntityTagger(folder / tagging.TAGGER_MODEL, gazetteer_from_annotations(pairs), tagging.word_labels(pairs), labels)
            sequences, starts = story_training_data([Example(i, texts[i], records[i]) for i in train], found, None)
            scorer = CrfScorer.fit(sequences, starts, folder / STORY_MODEL_NAME)
            seconds.append(_cpu_seconds() - started)
            test_models = [TextModel(texts[i]) for i in test]
            for i, model, entities in zip(test, test_models, fitted.tag(test_models, [parsed[i][0] for i in test], [parsed[i][1] for i in test])):
                entity_pairs.append(([(e["start"], e["end"], e["label"]) for e in gold[i]["entities"]], [(e.start, e.end, e.label) for e in entities]))
                units = units_of(model)
                probabilities = scorer.probabilities(unit_features(model, units, entities, boilerplate_ranges(model, None)))
                boundary_pairs.append((texts[i], [story["start"] for story in gold[i]["stories"][1:]], story_starts(units, probabilities)))
    finally:
        _use_training(saved)
        hooks.close()
    entities_scored = entity_scores(entity_pairs)
    boundaries_scored = boundary_scores(boundary_pairs)
    figures = {
        "folds": folds,
        "story_starts": {key: boundaries_scored[key] for key in ("precision", "recall", "f1", "pk")},
        "entity_f1": entities_scored["overall"]["f1"],
        "entity_f1_per_label": {label: scores["f1"] for label, scores in entities_scored["per_label"].items()},
        "fit_cpu_seconds_per_fold": round(statistics.median(seconds), 1),
    }
    if cluster_seconds:
        figures["cluster_cpu_seconds"] = round(cluster_seconds[0], 2)
    if added:
        figures["self_training_per_fold"] = added
        figures["refit_cpu_seconds_per_fold"] = round(statistics.median(refit_seconds), 1)
        before_scored = entity_scores(before_entities)
        figures["before_self_training"] = {
            "story_starts": {key: boundary_scores(before_boundaries)[key] for key in ("precision", "recall", "f1", "pk")},
            "entity_f1": before_scored["overall"]["f1"],
            "entity_f1_per_label": {label: scores["f1"] for label, scores in before_scored["per_label"].items()},
        }
    return figures, parsed


# Ideas of issue 16 item 3 the cv part can measure beside the default (--idea).
IDEAS = {
    "clusters": {"clusters": "corpus"},
    "clusters-pool": {"clusters": "pool"},
    "self-training": {"self_train": 0.5},
}


def cv(bench: Path, work: Path, folds: int, training: str, ideas: list[str] | None = None) -> dict:
    result: dict = {}
    parsed = None
    if training in ("both", "default"):
        result["default"], parsed = cross_validate(bench, work, folds, None)
        print(json.dumps({"default": result["default"]}), file=sys.stderr, flush=True)
    if training in ("both", "old"):
        result["old_training"], parsed = cross_validate(bench, work, folds, OLD_TRAINING, parsed)
    for idea in ideas or []:
        result[idea], parsed = cross_validate(bench, work, folds, None if training != "old" else OLD_TRAINING, parsed, **IDEAS[idea])
        print(json.dumps({idea: result[idea]}), file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    parser.add_argument("--epochs", type=int, default=12, help="NER fine-tuning epochs (with --entity-learner fine-tune)")
    parser.add_argument("--entity-learner", choices=["crf", "fine-tune"], default="crf", help="what learning fits for entities: the CRF over the model's tags, or the fine-tuned NER")
    parser.add_argument("--copies", type=int, default=4, help="copies of the Reuters pages for the throughput run")
    parser.add_argument("--only", choices=["reuters", "choi", "seed", "throughput", "fitting", "cv"], action="append", help="run only these parts")
    parser.add_argument("--repeats", type=int, default=3, help="fits per figure in the fitting part (the median is reported)")
    parser.add_argument("--pages", type=int, action="append", help="page counts the fitting part times (default: 55 and 255)")
    parser.add_argument("--folds", type=int, default=5, help="folds of the cv part")
    parser.add_argument("--idea", choices=sorted(IDEAS), action="append", help="in the cv part, also measure this idea (word clusters from the corpus or a larger pool, self-training)")
    parser.add_argument("--training", choices=["both", "default", "old", "none"], default="both", help="which CRF training the fitting and cv parts use: the default, the old one, or both for a ratio (none: the cv part runs only the --idea runs)")
    args = parser.parse_args()
    parts = args.only or ["seed", "choi", "reuters", "throughput", "fitting", "cv"]
    work = Path(tempfile.mkdtemp(prefix="bench-suggest-"))
    result: dict = {}
    try:
        for part in parts:
            started = time.perf_counter()
            if part == "seed":
                result["seed_page"] = seed(work)
            elif part == "choi":
                result["choi_3_11"] = choi(args.bench, work)
            elif part == "reuters":
                result["reuters_pages_dev"] = reuters(args.bench, work, args.epochs, args.entity_learner)
            elif part == "throughput":
                result["throughput"] = throughput(args.bench, work, args.copies)
            elif part == "fitting":
                result["fitting"] = fitting(args.bench, work, args.repeats, args.pages or [55, 255], args.training)
            elif part == "cv":
                result["cv_reuters_pages_dev"] = cv(args.bench, work, args.folds, args.training, args.idea)
            print(f"{part}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
