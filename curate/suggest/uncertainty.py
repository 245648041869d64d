"""How unsure a suggestion is: one score per snippet, the number of corrections the models
expect an editor to make to it (0: none), worked out while `curate suggest` proposes it and
kept in DIR/.curate/uncertainty.npz, so that ordering a queue by it (`curate queue --order
uncertainty`, `curate annotate --order uncertainty`) runs no model.

The score is the sum of two parts:

- entities. With the learned entity CRF: the marginal probability (python-crfsuite's
  `Tagger.marginal`) of the tag it chose for each name-like token (a capitalised word, or a
  token it put in an entity); the part is the sum of 1 - that probability over those tokens,
  the expected number of them it tagged wrong. A pretrained model alone (spaCy's greedy NER,
  or another back end) gives no marginals; its part is then the number of name-like tokens its
  output contradicts itself on: a capitalised word inside a sentence left out of every entity, a
  word inside an entity in one place and outside in another, a string given two labels in one
  snippet. (A beam search over spaCy's NER would give real probabilities at about 2.5 times the
  NER's time, so the default path does not use it.)
- story starts: each unit's probability p that a story starts there (the learned CRF's
  marginal, or the hand-set logistic scorer's); the part is the sum of min(p, 1 - p), the
  expected number of wrong decisions.

Sums rather than means: a page with many doubtful names teaches more than a short one with a
few. On the Reuters pages (scripts/bench_suggest_order.py, 5 folds) learning from the first 20
pages in this order gave entity F1 0.866 on held-out pages, against 0.842 ordering by means,
0.835 in corpus order and 0.853 in random order.
A snippet without tokens or units scores 0 for that part; `--entities none` gives only the
story part, `--boundaries none` only the entity part.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from curate.model import Annotation, Entity
from curate.text import TextModel

# ---------------------------------------------------------------- pure scores


def name_like(text: str, tokens: Sequence[tuple[int, int]], entities: Sequence[Entity]) -> list[bool]:
    """Which tokens could be part of a name: a capitalised word, or a token inside an entity."""
    inside = _inside(tokens, entities)
    return [bool(inside[index]) or text[start : start + 1].isupper() for index, (start, _) in enumerate(tokens)]


def _inside(tokens: Sequence[tuple[int, int]], entities: Sequence[Entity]) -> list[Entity | None]:
    """The entity each token lies in, or None."""
    result: list[Entity | None] = [None] * len(tokens)
    ordered = sorted(entities, key=lambda entity: entity.start)
    index = 0
    for position, (start, end) in enumerate(tokens):
        while index < len(ordered) and ordered[index].end <= start:
            index += 1
        if index < len(ordered) and ordered[index].start < end:
            result[position] = ordered[index]
    return result


def marginal_uncertainty(confidences: Sequence[float], candidates: Sequence[bool]) -> float:
    """Sum of 1 - (the probability of the chosen tag) over the candidate tokens."""
    return float(sum(1.0 - confidence for confidence, candidate in zip(confidences, candidates) if candidate))


def output_uncertainty(model: TextModel, entities: Sequence[Entity]) -> float:
    """For a model without marginals: the number of name-like tokens its output disagrees with itself on.

    A token counts as doubtful when it is a capitalised word inside a sentence (not the first
    word of its sentence or line) that no entity holds, when the same word (case-folded) is in
    an entity elsewhere in the snippet but not here, or when its entity's string is given
    another label elsewhere in the snippet.
    """
    text, tokens = model.text, model.tokens
    if not tokens:
        return 0.0
    inside = _inside(tokens, entities)
    words = [text[start:end] for start, end in tokens]
    sentence_starts = set(model.sentence_starts)
    line_first = [index == 0 or "\n" in text[tokens[index - 1][1] : tokens[index][0]] for index in range(len(tokens))]
    in_entity_words = {word.lower() for word, entity in zip(words, inside) if entity is not None}
    labels_of: dict[str, set[str]] = defaultdict(set)
    for entity in entities:
        labels_of[text[entity.start : entity.end]].add(entity.label)
    doubtful = 0
    for index, (word, entity) in enumerate(zip(words, inside)):
        if entity is None and not word[:1].isupper():
            continue
        if entity is None:
            opening = tokens[index][0] in sentence_starts or line_first[index]
            if (not opening and word.isalpha() and len(word) > 1) or word.lower() in in_entity_words:
                doubtful += 1
        elif len(labels_of[text[entity.start : entity.end]]) > 1:
            doubtful += 1
    return float(doubtful)


def start_uncertainty(probabilities: Sequence[float]) -> float:
    """Sum of min(p, 1 - p) over the units after the first (the first always starts a story)."""
    return float(sum(min(p, 1.0 - p) for p in probabilities[1:]))


def combined(parts: Iterable[float | None]) -> float:
    """The sum of the parts a snippet has (0 without any)."""
    return float(sum(part for part in parts if part is not None))


# ---------------------------------------------------------------- recording what the models say


class _RecordingScorer:
    """A story-start scorer that keeps each text's probabilities as it gives them."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.name = scorer.name
        self.seen: list[list[float]] = []

    def probabilities(self, features: Sequence[dict[str, float]]) -> list[float]:
        found = list(self.scorer.probabilities(features))
        self.seen.append(found)
        return found


class _RecordingCrf:
    """A python-crfsuite Tagger that keeps, for each sequence it tags, the marginal of each chosen tag."""

    def __init__(self, crf: Any) -> None:
        self.crf = crf
        self.seen: list[list[float]] = []

    def tag(self, features: Any = None) -> list[str]:
        tags = self.crf.tag(features) if features is not None else self.crf.tag()
        self.seen.append([self.crf.marginal(tag, index) for index, tag in enumerate(tags)])
        return tags

    def __getattr__(self, name: str) -> Any:
        return getattr(self.crf, name)


def suggest_scored(suggester: Any, batch: list[tuple[str, str]]) -> tuple[list[Annotation], list[float]]:
    """`suggester.suggest(batch)` and each record's uncertainty.

    The suggester's story-start scorer and the learned tagger's CRF (its public `scorer` and
    `tagger.crf`) are wrapped for the call, so that what they say is recorded as they say it.
    """
    scorer = _RecordingScorer(suggester.scorer)
    tagger = getattr(suggester, "tagger", None)
    crf = _RecordingCrf(tagger.crf) if tagger is not None else None
    saved_scorer = suggester.scorer
    suggester.scorer = scorer
    if crf is not None:
        tagger.crf = crf
    try:
        records = suggester.suggest(batch)
    finally:
        suggester.scorer = saved_scorer
        if crf is not None:
            tagger.crf = crf.crf
    return records, batch_uncertainty(batch, records, scorer.seen, crf.seen if crf is not None else None, entities=suggester.spec.model is not None or bool(suggester.gazetteer.entries), boundaries=suggester.spec.find_boundaries)


def batch_uncertainty(
    batch: Sequence[tuple[str, str]],
    records: Sequence[Annotation],
    start_probabilities: Sequence[list[float]],
    marginals: Sequence[list[float]] | None,
    *,
    entities: bool = True,
    boundaries: bool = True,
) -> list[float]:
    """Each record's score from what was recorded: one list of start probabilities per text (when
    `boundaries`), one list of chosen-tag marginals per text with tokens (the learned CRF), or
    None for a model without marginals."""
    scores = []
    marginal_iter = iter(marginals) if marginals is not None else None
    start_iter = iter(start_probabilities)
    for (_, text), record in zip(batch, records):
        model = TextModel(text)
        entity_part: float | None = None
        if entities:
            if marginal_iter is not None:
                confidences = next(marginal_iter, None) if model.tokens else []
                entity_part = marginal_uncertainty(confidences or [], name_like(text, model.tokens, record.entities)) if confidences is not None else None
            else:
                entity_part = output_uncertainty(model, record.entities)
        start_part = start_uncertainty(next(start_iter, [])) if boundaries else None
        scores.append(round(combined([entity_part, start_part]), 6))
    return scores


# ---------------------------------------------------------------- the scores file


class ScoreFile:
    """`.curate/uncertainty.npz`: per corpus position the latest suggestion's score (NaN: none)
    and which suggest run (annotator name) scored it.

    Derived data: `curate suggest` writes it (atomically, every SAVE_SECONDS and at the end of a
    run) and, while the file exists, for a snippet whose suggestion it would otherwise skip but
    which has no score from the same annotator (a run stopped between saves), suggests again to
    score it. With no file (a fresh clone) suggestions are kept and count as unscored.
    """

    SAVE_SECONDS = 30.0

    def __init__(self, path: Any, count: int) -> None:
        self.path = path
        self.scores = np.full(count, np.nan, dtype=np.float32)
        self.annotator_of = np.full(count, -1, dtype=np.int32)
        self.annotators: list[str] = []
        self.changed = False
        self.saved_at = 0.0
        self.problem: str | None = None  # why an existing file could not be read

    @classmethod
    def read(cls, path: Any, count: int) -> "ScoreFile":
        """The file's scores for `count` positions (a missing or unreadable file: none)."""
        found = cls(path, count)
        try:
            with np.load(path, allow_pickle=False) as data:
                scores, annotator_of, annotators = data["scores"], data["annotator_of"], [str(name) for name in data["annotators"]]
            size = min(count, len(scores), len(annotator_of))
            found.scores[:size] = np.asarray(scores[:size], dtype=np.float32)
            found.annotator_of[:size] = np.asarray(annotator_of[:size], dtype=np.int32)
        except FileNotFoundError:
            return found
        except (OSError, ValueError, KeyError, EOFError, TypeError, IndexError, zipfile.BadZipFile, zlib.error) as error:
            # derived data: a damaged file counts as none, and says so; `curate suggest` rebuilds it
            found.scores[:] = np.nan
            found.annotator_of[:] = -1
            found.problem = f"{path}: unreadable ({type(error).__name__}); uncertainty scores ignored, `curate suggest` writes them again"
            return found
        found.annotators = annotators
        found.annotator_of[(found.annotator_of >= len(annotators)) | (found.annotator_of < -1)] = -1
        return found

    def scored_by(self, position: int, annotator: str) -> bool:
        index = int(self.annotator_of[position]) if 0 <= position < len(self.scores) else -1
        return index >= 0 and self.annotators[index] == annotator and not math.isnan(float(self.scores[position]))

    def set(self, position: int, score: float, annotator: str) -> None:
        if annotator not in self.annotators:
            self.annotators.append(annotator)
        self.scores[position] = score
        self.annotator_of[position] = self.annotators.index(annotator)
        self.changed = True

    def record(self, records: Sequence[Annotation], scores: Sequence[float], position_of: Callable[[str], int | None]) -> None:
        for record, score in zip(records, scores):
            position = position_of(record.snippet_id)
            if position is not None:
                self.set(position, score, record.annotator)

    def save(self, now: float | None = None) -> None:
        """Write the file atomically (when anything changed)."""
        from curate.store import atomic_write_bytes

        if not self.changed:
            return
        buffer = io.BytesIO()
        used = sorted(set(int(index) for index in np.unique(self.annotator_of)) - {-1})
        remap = np.full(len(self.annotators) + 1, -1, dtype=np.int32)
        for new, old in enumerate(used):
            remap[old] = new
        annotator_of = np.where(self.annotator_of >= 0, remap[self.annotator_of], -1).astype(np.int32)
        names = np.array([self.annotators[old] for old in used], dtype=str)
        np.savez(buffer, scores=self.scores, annotator_of=annotator_of, annotators=names)
        atomic_write_bytes(self.path, [buffer.getvalue()])
        self.annotators = [self.annotators[old] for old in used]
        self.annotator_of = annotator_of
        self.changed = False
        if now is not None:
            self.saved_at = now

    def save_if_due(self, now: float) -> None:
        if now - self.saved_at >= self.SAVE_SECONDS:
            self.save(now)


def read_scores(corpus: Any, warn: Callable[[str], None] | None = None) -> np.ndarray:
    """Each corpus position's latest suggestion's score (float32, NaN where none was recorded);
    `warn` is told why when the file exists but cannot be read."""
    found = ScoreFile.read(corpus.layout.uncertainty_scores, len(corpus))
    if found.problem is not None and warn is not None:
        warn(found.problem)
    return found.scores

