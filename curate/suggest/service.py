"""`curate suggest`: read the corpus, propose, append to suggestions.jsonl in batches.

Resumable: a snippet whose latest suggestion was made by the same annotator
("model:NAME@VERSION", VERSION naming the model and everything learned) is skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.model import Annotation
from curate.store import Corpus, Journal
from curate.suggest import learn, uncertainty
from curate.suggest.backends import SpanBackend, is_backend, unmapped_labels
from curate.suggest.boundaries import CrfScorer, HandSetScorer, StoryStartScorer
from curate.suggest.conventions import Conventions, apply_conventions, corpus_conventions
from curate.suggest.entities import (
    DEFAULT_MODEL,
    ModelNotInstalled,
    derive_label_map,
    load_ner,
    parse_label_map,
    propose_entities,
)
from curate.suggest.gazetteer import Gazetteer, gazetteer_from_annotations, place_gazetteer
from curate.suggest.propose import propose_annotation
from curate.suggest.tagger import EntityTagger, model_output, word_labels
from curate.text import TextModel

# Bump when a change to the proposers should make `curate suggest` redo old suggestions.
SUGGEST_VERSION = "3"


class SuggestError(Exception):
    """A problem the user must fix; the message says which."""


@dataclass
class SuggestOptions:
    entities: str | None = None  # a pipeline name or path, "none", or None for the learned model or en_core_web_sm
    boundaries: str = "auto"  # "auto" or "none"
    n_process: int = 1
    learn: bool = False
    label_map: str | None = None
    batch_size: int = 64
    redo: bool = False
    learn_epochs: int = 12
    entity_learner: str = "crf"  # "crf": a CRF over the pretrained model's tags; "fine-tune": the NER itself
    only: frozenset[int] | None = None  # suggest for these corpus positions alone (annotate's learning loop); None: all
    engine: str = "local"  # "local": this process (and --n-process workers); "ray": a Ray Data job (curate/suggest/ray_engine.py)
    address: str | None = None  # --engine ray: the cluster to join ("auto", "ray://host:10001"); None: a local one


class SuggestInterrupted(KeyboardInterrupt):
    """Ctrl+C during `run_suggest`; `written` suggestions were saved (whole batches) and a second run resumes."""

    def __init__(self, written: int) -> None:
        super().__init__(written)
        self.written = written


@dataclass
class SuggestReport:
    annotator: str
    written: int = 0
    skipped: int = 0
    messages: list[str] = field(default_factory=list)
    learned: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SuggesterSpec:
    """Everything a (worker) process needs to build a Suggester; picklable."""

    model: str | None
    label_map: dict[str, str]
    gazetteer: dict[tuple[str, ...], str]
    crf_path: str | None
    boilerplate_kinds: list[str]
    annotator: str
    find_boundaries: bool
    gazetteer_overrides: bool = True
    tagger_path: str | None = None  # the learned entity CRF, applied over `model`'s own tags
    known_words: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    conventions: Conventions = Conventions()  # span edges every model's entities are moved to


class Suggester:
    """Proposes annotation records for batches of (id, text)."""

    def __init__(self, spec: SuggesterSpec, nlp: Any | None = None) -> None:
        self.spec = spec
        self.nlp = nlp if nlp is not None or spec.model is None else load_ner(spec.model, with_tagger=spec.tagger_path is not None, label_map=spec.label_map)[0]
        self.gazetteer = Gazetteer(dict(spec.gazetteer))
        self.scorer: StoryStartScorer = CrfScorer(Path(spec.crf_path)) if spec.crf_path else HandSetScorer()
        self.tagger = EntityTagger(Path(spec.tagger_path), self.gazetteer, spec.known_words, spec.labels) if spec.tagger_path and self.nlp is not None else None

    def suggest(self, batch: list[tuple[str, str]]) -> list[Annotation]:
        models = [TextModel(text) for _, text in batch]
        if self.tagger is not None:
            entities = self.tagger.tag(models, *model_output(self.nlp, models))
        else:
            entities = propose_entities(models, self.nlp, self.spec.label_map, self.gazetteer, gazetteer_overrides=self.spec.gazetteer_overrides)
        entities = [apply_conventions(model.text, found, model.tokens, self.spec.conventions) for model, found in zip(models, entities)]
        return [
            propose_annotation(
                snippet_id,
                model,
                found,
                annotator=self.spec.annotator,
                scorer=self.scorer,
                boilerplate_kinds=self.spec.boilerplate_kinds,
                find_boundaries=self.spec.find_boundaries,
            )
            for (snippet_id, _), model, found in zip(batch, models, entities)
        ]


_worker: Suggester | None = None


def _start_worker(spec: SuggesterSpec) -> None:
    global _worker
    _worker = Suggester(spec)


def _work(batch: list[tuple[str, str]]) -> tuple[list[str], list[float]]:
    assert _worker is not None
    records, scores = uncertainty.suggest_scored(_worker, batch)
    return [record.model_dump_json() for record in records], scores


# ---------------------------------------------------------------- the run


Progress = learn.Progress


def run_suggest(corpus: Corpus, options: SuggestOptions, progress: Progress | None = None) -> SuggestReport:
    """Write suggestions for every snippet not yet suggested under the same model.

    In order: check the options, open suggestions.jsonl for writing (a read-only or locked
    corpus is refused here, before minutes of loading and learning), choose the entity model
    (what the corpus learned, or a pretrained pipeline), load it, learn from the editors'
    records when asked or due (only then is DIR/models/ written), then propose and write in
    batches.
    """

    def tell(stage: str, done: int, total: int | None) -> None:
        if progress is not None:
            progress(stage, done, total)

    label_map = _checked_label_map(options, corpus.config.label_names)
    with corpus.suggestions(writable=True) as journal:
        return _run(corpus, journal, options, label_map, tell)


def _run(corpus: Corpus, journal: Journal, options: SuggestOptions, label_map: dict[str, str], tell: Progress) -> SuggestReport:
    directory = learn.models_dir(corpus.path)
    meta = learn.read_meta(directory)
    examples = learn.annotated_examples(corpus)
    choice = learn.choose_models(directory, meta, entities=options.entities, learn_asked=options.learn, entity_learner=options.entity_learner, examples=len(examples))
    messages: list[str] = []
    entity_model = _load(choice, meta, options.entities, messages, label_map)
    if isinstance(entity_model.nlp, SpanBackend) and (note := unmapped_labels(entity_model.nlp, label_map)):
        messages.append(note)
    learned: dict[str, Any] = {}
    if options.learn and not examples:
        raise SuggestError(f"--learn: {corpus.path} has no gold or done annotations to learn from")
    if choice.learn:
        if choice.auto:
            messages.append(f"{len(examples)} snippets have gold or done annotations: learning from them (threshold {learn.AUTO_LEARN_MIN})")
        entity_model, learned = _learn(corpus, examples, entity_model, options, label_map, meta, tell)
    spec = _suggester_spec(corpus, options, label_map, examples, entity_model, directory)
    report = SuggestReport(annotator=spec.annotator, messages=messages, learned=learned)
    try:
        _write_suggestions(corpus, journal, options, spec, entity_model.nlp, report, tell)
    except KeyboardInterrupt:
        raise SuggestInterrupted(report.written) from None
    return report


def _checked_label_map(options: SuggestOptions, label_names: list[str]) -> dict[str, str]:
    """The model label -> corpus label map, once the options are known to be valid."""
    if options.engine not in ("local", "ray"):
        raise SuggestError(f"--engine must be 'local' or 'ray', not {options.engine!r}")
    if options.engine == "ray":
        from curate.suggest.ray_engine import require_ray

        require_ray(options.address)  # before minutes of loading and learning
    elif options.address is not None:
        raise SuggestError("--address needs --engine ray")
    if options.boundaries not in ("auto", "none"):
        raise SuggestError(f"--boundaries must be 'auto' or 'none', not {options.boundaries!r}")
    if options.entity_learner not in ("crf", "fine-tune"):
        raise SuggestError(f"--entity-learner must be 'crf' or 'fine-tune', not {options.entity_learner!r}")
    if options.entity_learner == "fine-tune" and is_backend(options.entities):
        raise SuggestError(f"--entity-learner fine-tune fine-tunes a spaCy pipeline, not --entities {options.entities}; use --entity-learner crf (a CRF over its entities)")
    try:
        return derive_label_map(label_names, parse_label_map(options.label_map))
    except ValueError as error:
        raise SuggestError(f"--label-map: {error}") from None


def _load(choice: learn.ModelChoice, meta: dict[str, Any], wanted: str | None, messages: list[str], label_map: dict[str, str]) -> learn.EntityModel:
    """The chosen entity model; without the default pipeline installed, the gazetteers alone (and a note)."""
    try:
        return learn.load_entity_model(choice, meta, label_map)
    except ModelNotInstalled as error:
        if wanted not in (None, DEFAULT_MODEL):
            raise SuggestError(str(error)) from None
        messages.append(f"{error}; entities come only from the corpus gazetteer and a built-in country/capital list")
        return learn.EntityModel(None, None, "gazetteer", "0")
    except Exception as error:  # a refused or broken package: say so, never half-run
        raise SuggestError(str(error)) from None


def _learn(corpus: Corpus, examples: list[learn.Example], entity_model: learn.EntityModel, options: SuggestOptions, label_map: dict[str, str], meta: dict[str, Any], tell: Progress) -> tuple[learn.EntityModel, dict[str, Any]]:
    config = corpus.config
    return learn.learn_from_editors(
        corpus,
        examples,
        entity_model,
        entities=options.entities,
        entity_learner=options.entity_learner,
        epochs=options.learn_epochs,
        boundaries=options.boundaries,
        label_map=label_map,
        labels=config.label_names,
        boilerplate_kinds=config.boilerplate_kinds,
        meta=meta,
        tell=tell,
    )


def _suggester_spec(corpus: Corpus, options: SuggestOptions, label_map: dict[str, str], examples: list[learn.Example], entity_model: learn.EntityModel, directory: Path) -> SuggesterSpec:
    """What every suggester needs, named by an annotator that stamps the model, the options and the learned files."""
    config = corpus.config
    story_model = learn.story_model(directory) if options.boundaries == "auto" else None
    tagger = entity_model.tagger if entity_model.nlp is not None else None  # it corrects a pipeline's output, so needs one
    conventions = corpus_conventions(config.conventions, [(example.text, example.record.entities) for example in examples])
    stamp = learn.fingerprint(SUGGEST_VERSION, label_map, options.boundaries, learn.file_digest(story_model), entity_model.label, learn.file_digest(tagger), vars(conventions))
    return SuggesterSpec(
        model=entity_model.model,
        label_map=label_map,
        gazetteer=_gazetteer(options, examples, entity_model.nlp, label_map).entries,
        crf_path=str(story_model) if story_model is not None else None,
        boilerplate_kinds=list(config.boilerplate_kinds),
        annotator=f"model:{entity_model.label}@{entity_model.version}-{stamp}",
        find_boundaries=options.boundaries == "auto",
        gazetteer_overrides=entity_model.label != "corpus-ner",
        tagger_path=str(tagger) if tagger is not None else None,
        known_words=word_labels([(example.text, example.record.entities) for example in examples]) if tagger is not None else {},
        labels=tuple(config.label_names),
        conventions=conventions,
    )


def _gazetteer(options: SuggestOptions, examples: list[learn.Example], nlp: Any | None, label_map: dict[str, str]) -> Gazetteer:
    """The editors' names; without a pipeline, also the built-in places."""
    if options.entities == "none":
        return Gazetteer()
    gazetteer = gazetteer_from_annotations((example.text, example.record.entities) for example in examples)
    if nlp is None:
        gazetteer = place_gazetteer(label_map).merged(gazetteer)
    return gazetteer


def _write_suggestions(corpus: Corpus, journal: Journal, options: SuggestOptions, spec: SuggesterSpec, nlp: Any, report: SuggestReport, tell: Progress) -> None:
    """Propose for every snippet to do, in batches (in worker processes with --n-process), appending each batch."""
    scores = uncertainty.ScoreFile.read(corpus.layout.uncertainty_scores, len(corpus))  # saved every 30 s and at the end
    # Unscored suggestions are redone only where this folder keeps scores (a run cut short between two
    # saves); with no scores file (a fresh clone, the shipped demo) they stay, unscored, last in --order uncertainty.
    rescore = scores if corpus.layout.uncertainty_scores.exists() else None
    todo = _positions_to_do(journal, range(len(corpus)) if options.only is None else sorted(options.only), spec.annotator, options.redo, rescore)
    report.skipped = len(corpus) - len(todo)
    total = len(todo)
    tell("suggesting", 0, total)
    batches = _batches(corpus, set(todo), options.batch_size)
    in_workers = options.n_process > 1 and not isinstance(nlp, SpanBackend)  # torch spreads one model over every core (or runs it on the GPU)
    if options.n_process > 1 and not in_workers and options.engine != "ray":
        report.messages.append(f"--n-process {options.n_process}: {spec.model} runs in this one process, torch uses every core")
    if options.engine == "ray":  # one writer here; Ray tasks propose, their results come back in order
        from curate.suggest import ray_engine

        results = ray_engine.suggest_batches(batches, spec, workers=options.n_process, address=options.address)
        try:
            for lines, batch_scores in results:
                report.written += _append(corpus, journal, [Annotation.model_validate_json(line) for line in lines], batch_scores, scores)
                tell("suggesting", report.written, total)
        except ray_engine.WorkerFailed as error:
            raise SuggestError(f"{error}; the {report.written} suggestion(s) written before it are kept, and a second run resumes") from None
        finally:
            results.close()  # a local cluster started for the run stops now, also after Ctrl+C or a failed write
            try:  # the written suggestions' scores too, so that a second run skips them; a failure here
                scores.save()  # must not hide the run's own error (after a whole run, the save below raises it)
            except OSError:  # SaveFailed too
                pass
    elif in_workers and total > options.batch_size:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with context.Pool(options.n_process, initializer=_start_worker, initargs=(spec,)) as pool:
            for lines, batch_scores in pool.imap(_work, batches):
                report.written += _append(corpus, journal, [Annotation.model_validate_json(line) for line in lines], batch_scores, scores)
                tell("suggesting", report.written, total)
    else:
        suggester = Suggester(spec, nlp=nlp)
        for batch in batches:
            report.written += _append(corpus, journal, *uncertainty.suggest_scored(suggester, batch), scores)
            tell("suggesting", report.written, total)
    scores.save()


def _append(corpus: Corpus, journal: Journal, records: list[Annotation], batch_scores: list[float], scores: uncertainty.ScoreFile) -> int:
    """Append one batch's suggestions, then note their scores (written to disk every 30 s)."""
    written = journal.append_many(records)
    scores.record(records, batch_scores, corpus.position)
    scores.save_if_due(time.monotonic())
    return written


def _positions_to_do(journal: Any, positions: Iterable[int], annotator: str, redo: bool, scores: uncertainty.ScoreFile | None = None) -> list[int]:
    """Positions without a suggestion by `annotator`, or (`scores`) without its uncertainty score."""
    if redo or not journal.path.exists():
        return list(positions)
    todo = []
    for position in positions:
        if not journal.has_record(position) or json.loads(journal.raw_line(position)).get("annotator") != annotator or (scores is not None and not scores.scored_by(position, annotator)):
            todo.append(position)
    return todo


def _batches(corpus: Corpus, positions: set[int], size: int) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    if len(positions) * 16 < len(corpus):  # a few: read each by its offset rather than the whole file
        snippets = ((position, corpus.snippet(position)) for position in sorted(positions))
    else:
        snippets = ((position, snippet) for position, snippet in enumerate(corpus.iter_snippets()) if position in positions)
    for position, snippet in snippets:
        batch.append((snippet.id, snippet.text))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
