"""`curate suggest`: read the corpus, propose, append to suggestions.jsonl in batches.

Resumable: a snippet whose latest suggestion was made by the same annotator
("model:NAME@VERSION", VERSION naming the model and everything learned) is skipped.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.model import Annotation
from curate.store import Corpus
from curate.suggest import learn
from curate.suggest.boundaries import CrfScorer, HandSetScorer, StoryStartScorer
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
from curate.suggest.tagger import TAGGER_MODEL, EntityTagger, fit_tagger, model_output, word_labels
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


class Suggester:
    """Proposes annotation records for batches of (id, text)."""

    def __init__(self, spec: SuggesterSpec, nlp: Any | None = None) -> None:
        self.spec = spec
        self.nlp = nlp if nlp is not None or spec.model is None else load_ner(spec.model, with_tagger=spec.tagger_path is not None)[0]
        self.gazetteer = Gazetteer(dict(spec.gazetteer))
        self.scorer: StoryStartScorer = CrfScorer(Path(spec.crf_path)) if spec.crf_path else HandSetScorer()
        self.tagger = EntityTagger(Path(spec.tagger_path), self.gazetteer, spec.known_words, spec.labels) if spec.tagger_path and self.nlp is not None else None

    def suggest(self, batch: list[tuple[str, str]]) -> list[Annotation]:
        models = [TextModel(text) for _, text in batch]
        if self.tagger is not None:
            entities = self.tagger.tag(models, *model_output(self.nlp, models))
        else:
            entities = propose_entities(models, self.nlp, self.spec.label_map, self.gazetteer, gazetteer_overrides=self.spec.gazetteer_overrides)
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


def _work(batch: list[tuple[str, str]]) -> list[str]:
    assert _worker is not None
    return [record.model_dump_json() for record in _worker.suggest(batch)]


# ---------------------------------------------------------------- the run


Progress = Callable[[str, int, int | None], None]


def _fingerprint(*parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:8]


def _file_digest(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_suggest(corpus: Corpus, options: SuggestOptions, progress: Progress | None = None) -> SuggestReport:
    """Write suggestions for every snippet not yet suggested under the same model."""
    def tell(stage: str, done: int, total: int | None) -> None:
        if progress is not None:
            progress(stage, done, total)

    if options.boundaries not in ("auto", "none"):
        raise SuggestError(f"--boundaries must be 'auto' or 'none', not {options.boundaries!r}")
    if options.entity_learner not in ("crf", "fine-tune"):
        raise SuggestError(f"--entity-learner must be 'crf' or 'fine-tune', not {options.entity_learner!r}")
    config = corpus.config
    try:
        label_map = derive_label_map(config.label_names, parse_label_map(options.label_map))
    except ValueError as error:
        raise SuggestError(f"--label-map: {error}") from None
    messages: list[str] = []
    directory = learn.models_dir(corpus.path)
    meta = learn.read_meta(directory)
    learned_ner = directory / learn.NER_DIR
    tagger_path = directory / TAGGER_MODEL

    examples = learn.annotated_examples(corpus)
    wanted = options.entities
    use_tagger = wanted is None and tagger_path.exists()
    use_learned_ner = wanted is None and not use_tagger and (learned_ner / "meta.json").exists()
    model_name = None if wanted == "none" else (str(learned_ner) if use_learned_ner else (wanted or meta.get("entities", {}).get("model", DEFAULT_MODEL) if use_tagger else wanted or DEFAULT_MODEL))
    auto = learn.should_auto_learn(meta, len(examples))
    learning = bool(examples) and (options.learn or auto)
    # the learned entity tagger reads the pipeline's part-of-speech tags too
    with_tagger = use_tagger or (learning and options.entity_learner == "crf")
    nlp = None
    model_label = "none"
    model_version = "0"
    if model_name is not None:
        try:
            nlp, source = load_ner(model_name, with_tagger=with_tagger and not use_learned_ner)
            model_label, model_version = ("corpus-ner", str(meta.get("ner", {}).get("stamp", source.version))) if use_learned_ner else (source.name, source.version)
            if use_tagger:
                model_label, model_version = "corpus-crf", str(meta.get("entities", {}).get("stamp", source.version))
        except ModelNotInstalled as error:
            if wanted not in (None, DEFAULT_MODEL):
                raise SuggestError(str(error)) from None
            messages.append(f"{error}; entities come only from the corpus gazetteer and a built-in country/capital list")
            model_name = None
            model_label = "gazetteer"
        except Exception as error:  # a refused or broken package: say so, never half-run
            raise SuggestError(str(error)) from None

    report_learned: dict[str, Any] = {}
    if options.learn or auto:
        if not examples:
            if options.learn:
                raise SuggestError(f"--learn: {corpus.path} has no gold or done annotations to learn from")
        else:
            if auto and not options.learn:
                messages.append(f"{len(examples)} snippets have gold or done annotations: learning from them (threshold {learn.AUTO_LEARN_MIN})")
            if options.entity_learner == "crf" and model_label == "corpus-ner":
                nlp, _ = load_ner(DEFAULT_MODEL, with_tagger=True)  # the CRF learns over the pretrained model's tags
                model_name = DEFAULT_MODEL
            nlp, report_learned = _learn(corpus, examples, nlp, label_map, config.label_names, config.boilerplate_kinds, options, meta, tell)
            if report_learned.get("ner"):
                model_label, model_version = "corpus-ner", report_learned["ner"]["stamp"]
                model_name = str(learned_ner)
                use_tagger = False
            if report_learned.get("entities"):
                model_label, model_version = "corpus-crf", report_learned["entities"]["stamp"]
                use_tagger = True
            meta = learn.read_meta(directory)

    if options.entities == "none":
        gazetteer = Gazetteer()
    else:
        gazetteer = gazetteer_from_annotations((example.text, example.record.entities) for example in examples)
        if nlp is None:
            gazetteer = place_gazetteer(label_map).merged(gazetteer)
    crf_path = directory / learn.STORY_MODEL
    use_crf = crf_path.exists() and options.boundaries == "auto"
    use_tagger = use_tagger and nlp is not None
    version = f"{model_version}-" + _fingerprint(SUGGEST_VERSION, label_map, options.boundaries, _file_digest(crf_path if use_crf else None), model_label, _file_digest(tagger_path if use_tagger else None))
    annotator = f"model:{model_label}@{version}"
    spec = SuggesterSpec(
        model=model_name,
        label_map=label_map,
        gazetteer=gazetteer.entries,
        crf_path=str(crf_path) if use_crf else None,
        boilerplate_kinds=list(config.boilerplate_kinds),
        annotator=annotator,
        find_boundaries=options.boundaries == "auto",
        gazetteer_overrides=model_label != "corpus-ner",
        tagger_path=str(tagger_path) if use_tagger else None,
        known_words=word_labels([(example.text, example.record.entities) for example in examples]) if use_tagger else {},
        labels=tuple(config.label_names),
    )
    report = SuggestReport(annotator=annotator, messages=messages, learned=report_learned)
    try:
        _write_suggestions(corpus, options, spec, nlp, annotator, report, tell)
    except KeyboardInterrupt:
        raise SuggestInterrupted(report.written) from None
    return report


def _write_suggestions(corpus: Corpus, options: SuggestOptions, spec: SuggesterSpec, nlp: Any, annotator: str, report: SuggestReport, tell: Callable) -> None:
    with corpus.suggestions(writable=True) as journal:
        todo = _positions_to_do(journal, len(corpus), annotator, options.redo)
        report.skipped = len(corpus) - len(todo)
        total = len(todo)
        tell("suggesting", 0, total)
        batches = _batches(corpus, set(todo), options.batch_size)
        if options.n_process > 1 and total > options.batch_size:
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            with context.Pool(options.n_process, initializer=_start_worker, initargs=(spec,)) as pool:
                for lines in pool.imap(_work, batches):
                    report.written += journal.append_many(Annotation.model_validate_json(line) for line in lines)
                    tell("suggesting", report.written, total)
        else:
            suggester = Suggester(spec, nlp=nlp)
            for batch in batches:
                report.written += journal.append_many(suggester.suggest(batch))
                tell("suggesting", report.written, total)


def _positions_to_do(journal: Any, count: int, annotator: str, redo: bool) -> list[int]:
    if redo or not journal.path.exists():
        return list(range(count))
    todo = []
    for position in range(count):
        if not journal.has_record(position) or json.loads(journal.raw_line(position)).get("annotator") != annotator:
            todo.append(position)
    return todo


def _batches(corpus: Corpus, positions: set[int], size: int) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for position, snippet in enumerate(corpus.iter_snippets()):
        if position not in positions:
            continue
        batch.append((snippet.id, snippet.text))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _learn(corpus: Corpus, examples: list[learn.Example], nlp: Any | None, label_map: dict[str, str], labels: list[str], kinds: list[str], options: SuggestOptions, meta: dict[str, Any], tell: Progress) -> tuple[Any | None, dict[str, Any]]:
    """Fit the story-start CRF and, when a model is loaded, the entity CRF over it (or fine-tune it); update learned.json."""
    directory = learn.models_dir(corpus.path)
    directory.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    with_entities = [example for example in examples if example.record.entities]
    tagger: EntityTagger | None = None
    if nlp is not None and with_entities and options.entity_learner == "crf":
        tell("fitting entity tagger", 0, None)
        pairs = [(example.text, list(example.record.entities)) for example in with_entities]
        spans, pos_tags = model_output(nlp, [TextModel(text) for text, _ in pairs])
        _, seconds = learn.timed(lambda: fit_tagger(pairs, spans, directory / TAGGER_MODEL, pos_tags))
        stamp = _fingerprint(_file_digest(directory / TAGGER_MODEL), len(with_entities))
        result["entities"] = {"examples": len(with_entities), "seconds": round(seconds, 1), "stamp": stamp, "model": options.entities or DEFAULT_MODEL}
        tagger = EntityTagger(directory / TAGGER_MODEL, gazetteer_from_annotations(pairs), word_labels(pairs), labels)
    elif nlp is not None and with_entities:
        (directory / TAGGER_MODEL).unlink(missing_ok=True)  # the fine-tuned NER is used from now on
        annotated = {example.snippet_id for example in examples}
        others = [snippet for snippet in corpus.iter_snippets() if snippet.id not in annotated]
        random.Random(0).shuffle(others)
        others = others[: 2 * len(with_entities)]
        tell("predicting for rehearsal", 0, None)
        rehearsal_models = [TextModel(snippet.text) for snippet in others]
        rehearsal = list(zip((snippet.text for snippet in others), propose_entities(rehearsal_models, nlp, label_map, Gazetteer())))
        epochs = options.learn_epochs
        tell("fine-tuning NER", 0, epochs)
        _, seconds = learn.timed(
            lambda: learn.fine_tune_ner(
                nlp,
                [(example.text, list(example.record.entities)) for example in with_entities],
                rehearsal,
                labels,
                directory / learn.NER_DIR,
                epochs=epochs,
                on_epoch=lambda epoch, loss: tell("fine-tuning NER", epoch, epochs),
            )
        )
        stamp = _fingerprint(_file_digest(directory / learn.NER_DIR / "ner" / "model"), len(with_entities))
        result["ner"] = {"examples": len(with_entities), "seconds": round(seconds, 1), "stamp": stamp, "rehearsal": len(rehearsal)}
    if options.boundaries != "none":
        tell("fitting story starts", 0, None)
        models = [TextModel(example.text) for example in examples]
        if tagger is not None:
            found = tagger.tag(models, *model_output(nlp, models))
        elif nlp is not None:
            found = propose_entities(models, nlp, label_map, Gazetteer())
        else:
            found = [list(example.record.entities) for example in examples]
        sequences, labels_per_unit = learn.story_training_data(examples, found, kinds)
        _, seconds = learn.timed(lambda: learn.fit_story_starts(sequences, labels_per_unit, directory))
        result["story_starts"] = {"examples": len(examples), "seconds": round(seconds, 2)}
    learn.write_meta(directory, {**meta, **result})
    return nlp, result
