"""Learning from the corpus: the story-start CRF and a fine-tuned NER, saved in DIR/models/.

Training data are the editors' decisions: gold records, and for snippets without gold the
most recent `done` record of any annotator.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.model import Annotation, Entity
from curate.store import LEARNED_NAME, NER_MODEL_NAME, STORY_MODEL_NAME, Corpus, CorpusLayout, atomic_write_bytes
from curate.suggest.boilerplate import boilerplate_ranges
from curate.suggest.boundaries import CrfScorer, start_labels
from curate.suggest.features import unit_features, units_of
from curate.text import TextModel

# Names of files under models/ (the store's layout names them).
STORY_MODEL = STORY_MODEL_NAME
NER_DIR = NER_MODEL_NAME
META_NAME = LEARNED_NAME
# Learning starts by itself once this many snippets have gold or done records, and runs again
# when that number has doubled since the last fit.
AUTO_LEARN_MIN = 20


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


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    atomic_write_bytes(directory / META_NAME, [json.dumps(meta, indent=2, sort_keys=True).encode()])


def should_auto_learn(meta: dict[str, Any], examples: int) -> bool:
    """True when enough editors' records exist and no fit has used (half of) them yet."""
    if examples < AUTO_LEARN_MIN:
        return False
    trained_on = int(meta.get("story_starts", {}).get("examples", 0))
    return examples >= 2 * trained_on


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
