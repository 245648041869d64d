"""Learning from the corpus: the story-start CRF, the entity CRF and a fine-tuned NER, saved in
DIR/models/; and which entity model a suggest run uses, loaded.

Training data are the editors' decisions: gold records, and for snippets without gold the
most recent `done` record of any annotator.

A run without --entities suggests with what the corpus learned last (the entity CRF or the
fine-tuned NER), so suggestions follow the editors as they work; the learned files' stamp is
part of the annotator name, so a new fit suggests again.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from curate.model import Annotation, Entity
from curate.store import LEARNED_NAME, NER_MODEL_NAME, STORY_MODEL_NAME, Corpus, CorpusLayout, atomic_write_bytes
from curate.suggest import modelfiles
from curate.suggest.boilerplate import boilerplate_ranges
from curate.suggest.boundaries import CrfScorer, start_labels
from curate.suggest.entities import DEFAULT_MODEL, load_ner, propose_entities
from curate.suggest.features import unit_features, units_of
from curate.suggest.gazetteer import Gazetteer
from curate.suggest.tagger import TAGGER_MODEL, EntityTagger, Extra, ParsedTexts, first_stage_path, fit_entity_tagger, pipeline_name
from curate.text import TextModel

# Names of files under models/ (the store's layout names them).
STORY_MODEL = STORY_MODEL_NAME
NER_DIR = NER_MODEL_NAME
META_NAME = LEARNED_NAME
# The pipeline's output of the texts learned from (tagger.ParsedTexts), under .curate/: derived, local.
PARSE_CACHE = "parses.json"
# Learning starts by itself once this many snippets have gold or done records, and runs again
# when that number has doubled since the last fit.
AUTO_LEARN_MIN = 20

Progress = Callable[[str, int, int | None], None]  # stage, done, total (None: unknown)


@dataclass(frozen=True)
class Example:
    """A snippet text with the record editors settled on."""

    snippet_id: str
    text: str
    record: Annotation


def models_dir(corpus_path: Path) -> Path:
    return CorpusLayout(corpus_path).models


def annotated_examples(corpus: Corpus) -> list[Example]:
    """Gold records, plus the latest `done` record for snippets without gold, in corpus order."""
    chosen: dict[str, Annotation] = {}
    for name in corpus.annotators():
        with corpus.journal(name) as journal:
            for record in journal.records():
                if record.status != "done":
                    continue
                held = chosen.get(record.snippet_id)
                if held is None or (record.updated_at or "") > (held.updated_at or ""):
                    chosen[record.snippet_id] = record
    chosen.update(corpus.gold().records)
    examples = []
    for snippet_id, record in chosen.items():
        snippet = corpus.snippet_by_id(snippet_id)
        if snippet is not None and record.text_length == len(snippet.text):
            examples.append(Example(snippet_id, snippet.text, record))
    examples.sort(key=lambda example: corpus.position(example.snippet_id) or 0)
    return examples


def read_meta(directory: Path) -> dict[str, Any]:
    path = directory / META_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {}


def write_meta(directory: Path, meta: dict[str, Any], path: Path | None = None) -> None:
    """Write learned.json (or `path`, its staged name during a fit) atomically."""
    atomic_write_bytes(path or directory / META_NAME, [json.dumps(meta, indent=2, sort_keys=True).encode()])


def _fitted_files(directory: Path, result: dict[str, Any]) -> list[tuple[Path, Path]]:
    """(staged, final) paths of the files (and the fine-tuned NER's folder) a fit wrote for what it learned."""
    moves = []
    if "entities" in result:
        tagger = directory / TAGGER_MODEL
        moves += [(modelfiles.staged(tagger), tagger), (first_stage_path(modelfiles.staged(tagger)), first_stage_path(tagger))]
    if "ner" in result:
        moves.append((modelfiles.staged(directory / NER_DIR), directory / NER_DIR))
    if "story_starts" in result:
        moves.append((modelfiles.staged(directory / STORY_MODEL), directory / STORY_MODEL))
    return moves


def _dropped_files(directory: Path, result: dict[str, Any]) -> list[Path]:
    """What the fit's commit deletes: a fine-tuned NER is used from then on, so the entity CRF goes."""
    return [directory / TAGGER_MODEL, first_stage_path(directory / TAGGER_MODEL)] if "ner" in result else []


def should_auto_learn(meta: dict[str, Any], examples: int) -> bool:
    """True when enough editors' records exist and no fit has used (half of) them yet."""
    if examples < AUTO_LEARN_MIN:
        return False
    trained_on = int(meta.get("story_starts", {}).get("examples", 0))
    return examples >= 2 * trained_on

def story_model(directory: Path) -> Path | None:
    """The learned story-start CRF, if the corpus has one."""
    path = directory / STORY_MODEL
    return path if path.exists() else None


def fingerprint(*parts: Any) -> str:
    """Eight hex digits naming `parts` (JSON-able, or named by str)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:8]


def file_digest(path: Path | None) -> str:
    """Sixteen hex digits of the file's sha256, "" for no file."""
    if path is None or not path.exists():
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# ---------------------------------------------------------------- which entity model


@dataclass(frozen=True)
class ModelChoice:
    """Which entity model a suggest run starts from, and whether it learns first.

    `kind` is one of four: "none" (--entities none), "learned-crf" (the entity CRF fitted
    here, applied over the pretrained pipeline it was fitted on), "learned-ner" (the NER
    fine-tuned here) or "pretrained" (the named pipeline, en_core_web_sm by default). A learned
    model is chosen only when no --entities is given; the entity CRF wins over the NER.
    """

    kind: str
    model: str | None  # the pipeline name or folder to load, None for "none"
    tagger: Path | None  # the learned entity CRF ("learned-crf" only)
    with_tagger: bool  # load the pipeline's part-of-speech tagger: the entity CRF reads its tags
    learn: bool  # fit on the editors' records before suggesting
    auto: bool  # ...because enough new records arrived, not because --learn asked


def choose_models(directory: Path, meta: dict[str, Any], *, entities: str | None, learn_asked: bool, entity_learner: str, examples: int) -> ModelChoice:
    """Choose from the options (`entities`: a pipeline name or path, "none", or None) and what DIR/models/ holds."""
    tagger = directory / TAGGER_MODEL
    use_tagger = entities is None and tagger.exists()
    use_learned_ner = entities is None and not use_tagger and (directory / NER_DIR / "meta.json").exists()
    if entities == "none":
        kind, model = "none", None
    elif use_learned_ner:
        kind, model = "learned-ner", str(directory / NER_DIR)
    elif use_tagger:
        kind, model = "learned-crf", meta.get("entities", {}).get("model", DEFAULT_MODEL)
    else:
        kind, model = "pretrained", entities or DEFAULT_MODEL
    auto = should_auto_learn(meta, examples)
    learning = examples > 0 and (learn_asked or auto)
    with_tagger = (use_tagger or (learning and entity_learner == "crf")) and not use_learned_ner
    return ModelChoice(kind, model, tagger if use_tagger else None, with_tagger, learning, auto and not learn_asked)


@dataclass(frozen=True)
class EntityModel:
    """The entity model a run suggests with, and the name and version its suggestions carry."""

    nlp: Any | None  # the loaded pipeline; None: entities come from gazetteers alone
    model: str | None  # the name or folder worker processes load the pipeline from
    label: str  # "none", "gazetteer", "corpus-ner", "corpus-crf" or the pipeline's name
    version: str
    tagger: Path | None = None  # the learned entity CRF that corrects the pipeline's output


def load_entity_model(choice: ModelChoice, meta: dict[str, Any], label_map: dict[str, str] | None = None) -> EntityModel:
    """Load the chosen pipeline; ModelNotInstalled (or the package's own error) when it cannot be."""
    if choice.model is None:
        return EntityModel(None, None, "none", "0")
    nlp, source = load_ner(choice.model, with_tagger=choice.with_tagger, label_map=label_map)
    if choice.kind == "learned-ner":
        return EntityModel(nlp, choice.model, "corpus-ner", str(meta.get("ner", {}).get("stamp", source.version)))
    if choice.kind == "learned-crf":
        return EntityModel(nlp, choice.model, "corpus-crf", str(meta.get("entities", {}).get("stamp", source.version)), tagger=choice.tagger)
    return EntityModel(nlp, choice.model, source.name, source.version)


# ---------------------------------------------------------------- learning, in the order a run learns


def learn_from_editors(corpus: Corpus, examples: list[Example], current: EntityModel, **options: Any) -> tuple[EntityModel, dict[str, Any]]:
    """:func:`fit_models` under the corpus's fit lock (waiting for another process's fit to
    end), after undoing what a killed fit left in models/ (curate.suggest.modelfiles)."""
    with modelfiles.fit_lock(corpus.path):
        modelfiles.recover(models_dir(corpus.path))
        return fit_models(corpus, examples, current, **options)


def fit_models(
    corpus: Corpus,
    examples: list[Example],
    current: EntityModel,
    *,
    entities: str | None,
    entity_learner: str,
    epochs: int,
    boundaries: str,
    label_map: dict[str, str],
    labels: list[str],
    boilerplate_kinds: list[str],
    meta: dict[str, Any],
    tell: Progress,
) -> tuple[EntityModel, dict[str, Any]]:
    """Fit the entity learner over the loaded pipeline (the CRF over its tags, or the NER itself
    fine-tuned), then the story-start CRF; update learned.json. Returns the entity model to
    suggest with and what was learned (as learned.json records it).

    The CRFs and learned.json are written under staged names and moved into place together
    at the end (modelfiles.commit), so a fit killed or failing midway leaves models/ as it was."""
    directory = models_dir(corpus.path)
    if entity_learner == "crf" and current.label == "corpus-ner":
        nlp, _ = load_ner(DEFAULT_MODEL, with_tagger=True)  # the CRF learns over the pretrained model's tags
        current = replace(current, nlp=nlp, model=DEFAULT_MODEL)
    directory.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    with_entities = [example for example in examples if example.record.entities]
    tagger: EntityTagger | None = None
    tagged: dict[str, list[Entity]] = {}  # entities of the entity tagger's training texts, each found by a first stage that did not learn from it
    # both CRFs read the pipeline's output of the same texts: parse them once, and keep it for the next fit
    parsed = ParsedTexts(current.nlp, CorpusLayout(corpus.path).index_dir / PARSE_CACHE, pipeline_name(current.nlp))
    if current.nlp is not None and with_entities and entity_learner == "crf":
        # when every example has entities, the story-start CRF learns over the entity fit's findings
        # alone: the fit's child process fits it while this one trains the tagger's second stage
        stories = _StoryJob(examples, boilerplate_kinds, str(modelfiles.staged(directory / STORY_MODEL))) if boundaries != "none" and len(with_entities) == len(examples) else None
        tagger, result["entities"], tagged, story_figures = _fit_entity_tagger(directory, parsed, with_entities, labels, entities, tell, stories)
        if story_figures is not None:
            result["story_starts"] = story_figures
    elif current.nlp is not None and with_entities:
        result["ner"] = _fine_tune(corpus, directory, current.nlp, examples, with_entities, label_map, labels, epochs, tell)
    if boundaries != "none" and "story_starts" not in result:
        result["story_starts"] = _learn_story_starts(directory, examples, current.nlp, tagger, label_map, boilerplate_kinds, tell, parsed, tagged)
    write_meta(directory, {**meta, **result}, modelfiles.staged(directory / META_NAME))
    modelfiles.commit(directory, [*_fitted_files(directory, result), (modelfiles.staged(directory / META_NAME), directory / META_NAME)], remove=_dropped_files(directory, result))
    if result.get("ner"):
        current = replace(current, model=str(directory / NER_DIR), label="corpus-ner", version=result["ner"]["stamp"], tagger=None)
    if result.get("entities"):
        current = replace(current, label="corpus-crf", version=result["entities"]["stamp"], tagger=directory / TAGGER_MODEL)
    return current, result


class _StoryJob(NamedTuple):
    """The story-start CRF's fit over the entity fit's findings (fit_story_model; picklable: a fit's child may run it)."""

    examples: list[Example]  # every example, in the entity fit's order
    boilerplate_kinds: list[str]
    path: str  # the staged story-start model


def fit_story_model(job: _StoryJob, found: list[list[Entity]]) -> dict[str, Any]:
    """Fit the story-start CRF on the examples with `found` entities; what learned.json records of it."""
    sequences, labels_per_unit = story_training_data(job.examples, found, job.boilerplate_kinds)
    _, seconds = timed(lambda: CrfScorer.fit(sequences, labels_per_unit, Path(job.path)))
    return {"examples": len(job.examples), "seconds": round(seconds, 2)}


def _fit_entity_tagger(
    directory: Path, parsed: ParsedTexts, with_entities: list[Example], labels: list[str], entities: str | None, tell: Progress, stories: _StoryJob | None = None
) -> tuple[EntityTagger, dict[str, Any], dict[str, list[Entity]], dict[str, Any] | None]:
    """Fit the entity CRF (and, given `stories`, the story-start CRF over its findings, in the same fit)."""
    tell("fitting entity tagger", 0, None)
    pairs = [(example.text, list(example.record.entities)) for example in with_entities]
    spans, pos_tags = parsed([TextModel(text) for text, _ in pairs])
    path = modelfiles.staged(directory / TAGGER_MODEL)  # moved into place by fit_models' commit
    extra = Extra(__name__, "fit_story_model", stories) if stories is not None else None
    fitted, seconds = timed(lambda: fit_entity_tagger(pairs, spans, path, pos_tags, extra=extra))
    stamp = fingerprint(file_digest(path), len(with_entities))
    figures = {"examples": len(with_entities), "seconds": round(seconds, 1), "stamp": stamp, "model": entities or DEFAULT_MODEL}
    tagged = {example.snippet_id: entities for example, entities in zip(with_entities, fitted.found)}
    return EntityTagger(path, fitted.gazetteer, fitted.known_words, labels), figures, tagged, fitted.extra


def _fine_tune(
    corpus: Corpus, directory: Path, nlp: Any, examples: list[Example], with_entities: list[Example], label_map: dict[str, str], labels: list[str], epochs: int, tell: Progress
) -> dict[str, Any]:
    rehearsal = _rehearsal(corpus, nlp, examples, 2 * len(with_entities), label_map, tell)
    tell("fine-tuning NER", 0, epochs)
    _, seconds = timed(
        lambda: fine_tune_ner(
            nlp,
            [(example.text, list(example.record.entities)) for example in with_entities],
            rehearsal,
            labels,
            modelfiles.staged(directory / NER_DIR),  # moved into place by fit_models' commit
            epochs=epochs,
            on_epoch=lambda epoch, loss: tell("fine-tuning NER", epoch, epochs),
        )
    )
    stamp = fingerprint(file_digest(modelfiles.staged(directory / NER_DIR) / "ner" / "model"), len(with_entities))
    return {"examples": len(with_entities), "seconds": round(seconds, 1), "stamp": stamp, "rehearsal": len(rehearsal)}


def _rehearsal(corpus: Corpus, nlp: Any, examples: list[Example], count: int, label_map: dict[str, str], tell: Progress) -> list[tuple[str, list[Entity]]]:
    """The pipeline's own entities on up to `count` snippets editors have not settled (a seeded draw)."""
    annotated = {example.snippet_id for example in examples}
    others = [snippet for snippet in corpus.iter_snippets() if snippet.id not in annotated]
    random.Random(0).shuffle(others)
    others = others[:count]
    tell("predicting for rehearsal", 0, None)
    models = [TextModel(snippet.text) for snippet in others]
    return list(zip((snippet.text for snippet in others), propose_entities(models, nlp, label_map, Gazetteer())))


def _learn_story_starts(
    directory: Path, examples: list[Example], nlp: Any | None, tagger: EntityTagger | None, label_map: dict[str, str], boilerplate_kinds: list[str], tell: Progress, parsed: ParsedTexts, tagged: dict[str, list[Entity]]
) -> dict[str, Any]:
    """Fit the story-start CRF on entities found as at suggestion time (the editors' own without a pipeline)."""
    tell("fitting story starts", 0, None)
    models = [TextModel(example.text) for example in examples]
    if tagger is not None:
        # `tagged`: the fit's findings on its training texts (as on new text); the rest are tagged here
        rest = [model for example, model in zip(examples, models) if example.snippet_id not in tagged]
        more = iter(tagger.tag(rest, *parsed(rest)) if rest else [])
        found = [tagged[example.snippet_id] if example.snippet_id in tagged else next(more) for example in examples]
    elif nlp is not None:
        found = propose_entities(models, nlp, label_map, Gazetteer())
    else:
        found = [list(example.record.entities) for example in examples]
    sequences, labels_per_unit = story_training_data(examples, found, boilerplate_kinds)
    _, seconds = timed(lambda: CrfScorer.fit(sequences, labels_per_unit, modelfiles.staged(directory / STORY_MODEL)))  # committed by fit_models
    return {"examples": len(examples), "seconds": round(seconds, 2)}


# ---------------------------------------------------------------- story starts


def story_training_data(examples: Sequence[Example], entities: Sequence[list[Entity]], boilerplate_kinds: list[str] | None = None) -> tuple[list[list[dict[str, float]]], list[list[bool]]]:
    """Unit features (with proposed entities and boilerplate, as at suggestion time) and editors' starts."""
    sequences, labels = [], []
    for example, found in zip(examples, entities):
        model = TextModel(example.text)
        units = units_of(model)
        boilerplate = boilerplate_ranges(model, boilerplate_kinds)
        sequences.append(unit_features(model, units, found, boilerplate))
        labels.append(start_labels(units, set(example.record.story_starts)))
    return sequences, labels


def fit_story_starts(sequences: Sequence[Sequence[dict[str, float]]], labels: Sequence[Sequence[bool]], directory: Path) -> CrfScorer:
    """Fit the story-start CRF and save it as DIR/models/story-starts.crfsuite (atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{STORY_MODEL}.tmp"
    CrfScorer.fit(sequences, labels, temporary)
    temporary.replace(directory / STORY_MODEL)
    return CrfScorer(directory / STORY_MODEL)


# ---------------------------------------------------------------- entities


def _paragraph_examples(nlp: Any, text: str, entities: Iterable[Entity], *, partial: bool = False) -> list[Any]:
    """spaCy training examples, one per paragraph, with spans grown to spaCy's tokens.

    With `partial`, tokens outside the given spans are left unknown rather than marked as
    not-an-entity: the model's own predictions then remind it of what it found without
    teaching it to miss what it missed.
    """
    from spacy.training import Example as SpacyExample
    from spacy.training import offsets_to_biluo_tags

    model = TextModel(text)
    ordered = sorted(entities, key=lambda entity: entity.start)
    result = []
    position = 0
    for paragraph in model.paragraphs:
        piece = text[paragraph.start : paragraph.end]
        doc = nlp.make_doc(piece)
        spans = []
        last_end = -1
        while position < len(ordered) and ordered[position].start < paragraph.end:
            entity = ordered[position]
            position += 1
            if entity.start < paragraph.start or entity.end > paragraph.end:
                continue
            span = doc.char_span(entity.start - paragraph.start, entity.end - paragraph.start, label=entity.label, alignment_mode="expand")
            if span is None or span.start_char < last_end:
                continue
            spans.append((span.start_char, span.end_char, entity.label))
            last_end = span.end_char
        if partial:
            if not spans:
                continue
            tags = ["-" if tag == "O" else tag for tag in offsets_to_biluo_tags(doc, spans)]
            result.append(SpacyExample.from_dict(doc, {"entities": tags}))
        else:
            result.append(SpacyExample.from_dict(doc, {"entities": spans}))
    return result


def without_contradicted(rehearsal: Sequence[tuple[str, list[Entity]]], labelled: Sequence[tuple[str, list[Entity]]]) -> list[tuple[str, list[Entity]]]:
    """Drop the model's spans whose text editors labelled otherwise (their majority label differs).

    Those are the model's conventions the corpus rejects (a team named after its city as a
    place, say); rehearsing them would teach the old convention back.
    """
    from collections import Counter, defaultdict

    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for text, entities in labelled:
        for entity in entities:
            votes[text[entity.start : entity.end]][entity.label] += 1
    kept = []
    for text, entities in rehearsal:
        agreed = []
        for entity in entities:
            counts = votes.get(text[entity.start : entity.end])
            if counts is None or counts.most_common(1)[0][0] == entity.label:
                agreed.append(entity)
        kept.append((text, agreed))
    return kept


def fine_tune_ner(
    nlp: Any,
    labelled: Sequence[tuple[str, list[Entity]]],
    rehearsal: Sequence[tuple[str, list[Entity]]],
    labels: list[str],
    output: Path,
    *,
    epochs: int = 12,
    rehearsal_share: float = 0.1,
    dropout: float = 0.2,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> Any:
    """Fine-tune the NER on editors' entities mixed with the model's own predictions elsewhere.

    `labelled` and `rehearsal` are (text, entities) pairs in corpus labels; paragraphs of the
    rehearsal pairs (at most `rehearsal_share` as many as the labelled ones) keep the model
    from forgetting what it knew. The result is saved to `output`.
    """
    from spacy.util import compounding, fix_random_seed, minibatch

    fix_random_seed(seed)  # dropout draws from numpy's generator as well as Python's
    ner = nlp.get_pipe("ner")
    for label in labels:
        ner.add_label(label)
    train = [example for text, entities in labelled for example in _paragraph_examples(nlp, text, entities)]
    extra = [example for text, entities in without_contradicted(rehearsal, labelled) for example in _paragraph_examples(nlp, text, entities, partial=True)]
    random.shuffle(extra)
    train += extra[: int(len(train) * rehearsal_share)]
    optimizer = nlp.resume_training()
    for epoch in range(epochs):
        random.shuffle(train)
        losses: dict[str, float] = {}
        for batch in minibatch(train, size=compounding(4.0, 32.0, 1.001)):
            nlp.update(batch, sgd=optimizer, drop=dropout, losses=losses)
        if on_epoch is not None:
            on_epoch(epoch + 1, losses.get("ner", 0.0))
    temporary = output.parent / f".{output.name}.tmp"
    if temporary.exists():
        shutil.rmtree(temporary)
    nlp.to_disk(temporary)
    if output.exists():
        shutil.rmtree(output)
    temporary.rename(output)
    return nlp


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started
