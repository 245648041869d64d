"""Learned entity tagger: a CRF over curate tokens that corrects a pretrained NER's output.

Each token is described by the pretrained model's tag (its own labels, so GPE and NORP stay
apart), the corpus gazetteer's, the word itself (case, shape, affixes), the line it sits on
(headline, dateline, results-table row) and the words the editors labelled elsewhere. The
CRF learns from the editors' entities (IOB2 in corpus labels) how their conventions differ
from the model's: a city in a results table is a team (ORG), a capitalised word of a company
story is not a person. Measured on the Reuters pages it beats fine-tuning the NER itself and
trains in seconds.

Gazetteer and word-label features of a training text come from the other texts only (in
folds), so the CRF learns how far to trust them on text they have not seen.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curate.model import Entity
from curate.suggest import layout
from curate.suggest.gazetteer import Gazetteer, gazetteer_from_annotations
from curate.text import TextModel, line_starts

TAGGER_MODEL = "entities.crfsuite"
# Training texts are split in this many folds; each fold's gazetteer features come from the others.
FEATURE_FOLDS = 5
CRF_PARAMS = {"c1": 0.0, "c2": 0.1, "max_iterations": 200, "feature.possible_transitions": True}
# A capitalised word enters the word-label list when editors saw it at least this often.
MIN_WORD_COUNT = 2

Span = tuple[int, int, str]
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_NEIGHBOUR_PREFIXES = ("w=", "sh=", "model=", "gaz=")


def model_spans(nlp: Any, models: Sequence[TextModel], batch_size: int = 256) -> list[list[Span]]:
    """The pipeline's entities for each text with its own labels, paragraph by paragraph."""
    pieces: list[tuple[int, int]] = []
    texts: list[str] = []
    for index, model in enumerate(models):
        for paragraph in model.paragraphs:
            pieces.append((index, paragraph.start))
            texts.append(model.text[paragraph.start : paragraph.end])
    spans: list[list[Span]] = [[] for _ in models]
    for (index, offset), doc in zip(pieces, nlp.pipe(texts, batch_size=batch_size)):
        spans[index].extend((offset + ent.start_char, offset + ent.end_char, ent.label_) for ent in doc.ents)
    return spans


def token_tags(model: TextModel, spans: Sequence[Span]) -> list[str]:
    """IOB2 tags over the text's tokens; a span covers every token it touches, earlier spans win."""
    tags = ["O"] * len(model.tokens)
    starts = model.token_starts
    for start, end, label in sorted(spans):
        index = max(bisect_right(starts, start) - 1, 0)
        first = True
        while index < len(tags) and model.tokens[index][0] < end:
            if model.tokens[index][1] > start and tags[index] == "O":
                tags[index] = ("B-" if first else "I-") + label
                first = False
            index += 1
    return tags


def tags_to_entities(model: TextModel, tags: Sequence[str]) -> list[Entity]:
    """Entities from IOB2 tags (a stray I- opens a span); spans crossing a line break are dropped."""
    spans: list[list[Any]] = []
    for (start, end), tag in zip(model.tokens, tags):
        if tag.startswith("B-") or (tag.startswith("I-") and (not spans or spans[-1][3] or spans[-1][2] != tag[2:])):
            if spans:
                spans[-1][3] = True
            spans.append([start, end, tag[2:], False])
        elif tag.startswith("I-"):
            spans[-1][1] = end
        elif spans:
            spans[-1][3] = True
    text = model.text
    return [Entity(start=start, end=end, label=label) for start, end, label, _ in spans if "\n" not in text[start:end] and "\r" not in text[start:end]]


def _shape(word: str) -> str:
    shape = re.sub("[A-Z]", "X", word)
    shape = re.sub("[a-z]", "x", shape)
    shape = re.sub("[0-9]", "d", shape)
    return re.sub(r"(.)\1+", r"\1\1", shape)


def _line_cues(line: str) -> list[str]:
    cues = []
    if layout.is_dateline(line) or layout.dateline_prefix_end(line):
        cues.append("dateline")
    elif len(_NUMBER.findall(line)) >= 2 and 2 * len(_NUMBER.findall(line)) >= len(layout.words(line)):
        cues.append("table")
    if layout.is_headline(line):
        cues.append("headline")
    if len(layout.words(line)) <= 4:
        cues.append("short")
    if layout.uppercase_ratio(line) > 0.7:
        cues.append("capitals")
    if layout.is_prose(line):
        cues.append("prose")
    return cues


def word_labels(examples: Sequence[tuple[str, Sequence[Entity]]]) -> dict[str, str]:
    """Lowercased capitalised word -> the label editors gave it most often ("O" for none)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for text, entities in examples:
        model = TextModel(text)
        tags = token_tags(model, [(entity.start, entity.end, entity.label) for entity in entities])
        for (start, end), tag in zip(model.tokens, tags):
            word = text[start:end]
            if word[:1].isupper():
                counts[word.lower()][tag[2:] or "O"] += 1
    return {word: tally.most_common(1)[0][0] for word, tally in counts.items() if sum(tally.values()) >= MIN_WORD_COUNT}


def token_features(model: TextModel, predicted: Sequence[str], gazetteer_tags: Sequence[str], known_words: dict[str, str]) -> list[dict[str, float]]:
    """CRF features per token: its own, and some of its neighbours' (±2, on the same line)."""
    text = model.text
    words = [text[start:end] for start, end in model.tokens]
    starts = line_starts(text)
    line_of = [bisect_right(starts, start) - 1 for start, _ in model.tokens]
    cues: dict[int, list[str]] = {}
    for index in set(line_of):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        cues[index] = _line_cues(text[starts[index] : end].rstrip("\r\n"))
    sentence_starts = set(model.sentence_starts)
    model_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for word, tag in zip(words, predicted):
        if tag != "O":
            model_votes[word.lower()][tag[2:]] += 1
    lowercase_words = {word for word in words if word[:1].islower()}
    topic = "none"  # the capitalised first word of the last headline: CRICKET, SOCCER, ...
    own: list[set[str]] = []
    for index, word in enumerate(words):
        lower = word.lower()
        line_cues = cues[line_of[index]]
        first_on_line = index == 0 or line_of[index - 1] != line_of[index]
        if first_on_line and "headline" in line_cues and word.isalpha():
            topic = lower if word.isupper() else "none"
        features = {f"w={lower}", f"sh={_shape(word)}", f"p3={lower[:3]}", f"s3={lower[-3:]}", f"s2={lower[-2:]}", f"model={predicted[index]}", f"modelL={predicted[index][2:] or 'O'}", f"gaz={gazetteer_tags[index]}", f"topic={topic}"}
        features.update(f"line:{cue}" for cue in line_cues)
        if word.istitle():
            features.add("title")
        if word.isupper():
            features.add("upper")
        if any(char.isdigit() for char in word):
            features.add("digit")
        if first_on_line:
            features.add("line_first")
        if model.tokens[index][0] in sentence_starts:
            features.add("sentence_first")
        if word[:1].isupper():
            features.add(f"topic_capital={topic}")
            if "table" in line_cues:
                features.add("table_capital")
            if lower in lowercase_words:
                features.add("lowercase_elsewhere")
        if model_votes.get(lower):
            features.add(f"model_elsewhere={model_votes[lower].most_common(1)[0][0]}")
        if lower in known_words:
            features.add(f"editors={known_words[lower]}")
        own.append(features)
    result = []
    for index in range(len(words)):
        features = dict.fromkeys(own[index], 1.0)
        for offset in (-2, -1, 1, 2):
            other = index + offset
            if 0 <= other < len(words) and line_of[other] == line_of[index]:
                for feature in own[other]:
                    if feature.startswith(_NEIGHBOUR_PREFIXES) or (abs(offset) == 1 and feature in ("title", "upper")):
                        features[f"{offset}:{feature}"] = 1.0
            else:
                features[f"{offset}:edge"] = 1.0
        result.append(features)
    return result


def fit_tagger(examples: Sequence[tuple[str, Sequence[Entity]]], spans: Sequence[Sequence[Span]], path: Path) -> None:
    """Fit the CRF on editors' entities over `spans` (the pretrained model's) and save it atomically."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    folds = [list(range(len(examples)))[fold::FEATURE_FOLDS] for fold in range(FEATURE_FOLDS)]
    for fold in folds:
        if not fold:
            continue
        held_out = set(fold)
        others = [examples[index] for index in range(len(examples)) if index not in held_out]
        gazetteer = gazetteer_from_annotations(others)
        known = word_labels(others)
        for index in fold:
            text, entities = examples[index]
            model = TextModel(text)
            features = token_features(model, token_tags(model, spans[index]), token_tags(model, _gazetteer_spans(gazetteer, model)), known)
            trainer.append(features, token_tags(model, [(entity.start, entity.end, entity.label) for entity in entities]))
    trainer.set_params(CRF_PARAMS)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.tmp"
    trainer.train(str(temporary))
    temporary.replace(path)


def _gazetteer_spans(gazetteer: Gazetteer, model: TextModel) -> list[Span]:
    return [(entity.start, entity.end, entity.label) for entity in gazetteer.matches(model)]


class EntityTagger:
    """A fitted CRF with the gazetteer and word labels of all the editors' texts."""

    def __init__(self, path: Path, gazetteer: Gazetteer, known_words: dict[str, str], labels: Sequence[str]) -> None:
        import pycrfsuite

        self.crf = pycrfsuite.Tagger()
        self.crf.open(str(path))
        self.gazetteer = gazetteer
        self.known_words = known_words
        self.labels = set(labels)

    def tag(self, models: Sequence[TextModel], spans: Sequence[Sequence[Span]]) -> list[list[Entity]]:
        result = []
        for model, found in zip(models, spans):
            if not model.tokens:
                result.append([])
                continue
            features = token_features(model, token_tags(model, found), token_tags(model, _gazetteer_spans(self.gazetteer, model)), self.known_words)
            entities = tags_to_entities(model, self.crf.tag(features))
            result.append([entity for entity in entities if entity.label in self.labels])
        return result
