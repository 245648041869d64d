"""The corpus gazetteer: strings editors labelled, proposed wherever else they occur.

Matching runs over curate.text tokens, so every match starts and ends on token edges and
agrees with what the annotation UI can select.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from curate.model import Entity
from curate.suggest.places import place_names
from curate.text import TextModel

MAX_TOKENS = 8
# A string enters the gazetteer when editors labelled at least this share of its occurrences
# in the texts they annotated (so "May" labelled once among ten months is left out).
MIN_LABELLED_SHARE = 0.5


@dataclass
class Gazetteer:
    """Token sequences -> label, matched longest first."""

    entries: dict[tuple[str, ...], str] = field(default_factory=dict)
    _by_first: dict[str, list[tuple[str, ...]]] | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, tokens: tuple[str, ...], label: str) -> None:
        if tokens and len(tokens) <= MAX_TOKENS:
            self.entries[tokens] = label
            self._by_first = None

    def merged(self, other: "Gazetteer") -> "Gazetteer":
        """A gazetteer with both sets of entries; `other` wins on conflicts."""
        return Gazetteer({**self.entries, **other.entries})

    def matches(self, model: TextModel) -> list[Entity]:
        """Non-overlapping matches in the text, longest first from left to right."""
        if not self.entries:
            return []
        by_first = self._entries_by_first()
        text = model.text
        tokens = model.tokens
        words = [text[start:end] for start, end in tokens]
        found: list[Entity] = []
        index = 0
        while index < len(words):
            matched = 0
            for candidate in by_first.get(words[index], ()):
                size = len(candidate)
                if tuple(words[index : index + size]) == candidate and _one_line(text, tokens[index][0], tokens[index + size - 1][1]):
                    found.append(Entity(start=tokens[index][0], end=tokens[index + size - 1][1], label=self.entries[candidate]))
                    matched = size
                    break
            index += matched or 1
        return found

    def _entries_by_first(self) -> dict[str, list[tuple[str, ...]]]:
        """Entries by their first token, longest first (built once; `add` starts it again)."""
        if self._by_first is None:
            by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
            for tokens in self.entries:
                by_first[tokens[0]].append(tokens)
            for candidates in by_first.values():
                candidates.sort(key=len, reverse=True)
            self._by_first = dict(by_first)
        return self._by_first


def _one_line(text: str, start: int, end: int) -> bool:
    return "\n" not in text[start:end] and "\r" not in text[start:end]


def token_key(model: TextModel, start: int, end: int) -> tuple[str, ...]:
    """The token texts of `[start, end)`."""
    tokens = model.tokens
    index = bisect_left(model.token_starts, start)
    key = []
    while index < len(tokens) and tokens[index][1] <= end:
        key.append(model.text[tokens[index][0] : tokens[index][1]])
        index += 1
    return tuple(key)


def gazetteer_from_annotations(examples: Iterable[tuple[str, list[Entity]]]) -> Gazetteer:
    """Build a gazetteer from (text, entities) pairs that editors labelled.

    A string is kept with its most frequent label when editors labelled at least
    MIN_LABELLED_SHARE of its occurrences in these texts; strings without a capital letter
    or digit are left out (common words make poor gazetteer entries).
    """
    return GazetteerFacts(list(examples)).gazetteer()


class GazetteerFacts:
    """What `gazetteer_from_annotations` reads of each text, worked out once, so the gazetteer of
    any of them (all but a held-out fold, as the entity tagger's folds need) is a matter of adding
    up: each text's labelled strings in order, and how often each string labelled in any of the
    texts occurs in it. `gazetteer(held_out)` equals `gazetteer_from_annotations` of the other
    texts, entries in the same order.
    """

    def __init__(self, examples: Sequence[tuple[str, Sequence[Entity]]], models: Sequence[TextModel] | None = None) -> None:
        if models is None:
            models = [TextModel(text) for text, _ in examples]
        self.labelled: list[list[tuple[tuple[str, ...], str]]] = []  # (string, label) of each entity kept, in text order
        for model, (_, entities) in zip(models, examples):
            keys = []
            for entity in entities:
                key = token_key(model, entity.start, entity.end)
                if key and any(char.isupper() or char.isdigit() for char in "".join(key)):
                    keys.append((key, entity.label))
            self.labelled.append(keys)
        # every string labelled anywhere (an occurrence of one does not depend on which others are entries)
        probe = Gazetteer(dict.fromkeys((key for keys in self.labelled for key, _ in keys if len(key) <= MAX_TOKENS), ""))
        self.occurrences = [Counter(_all_occurrences(probe, model)) if probe.entries else Counter() for model in models]
        self.total: Counter[tuple[str, ...]] = Counter()
        for counts in self.occurrences:
            self.total.update(counts)

    def gazetteer(self, held_out: Collection[int] = ()) -> Gazetteer:
        """The gazetteer of every text but those of `held_out` (indexes)."""
        held_out = set(held_out)
        labels: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for index, keys in enumerate(self.labelled):
            if index not in held_out:
                for key, label in keys:
                    labels[key][label] += 1
        occurrences = Counter(self.total)
        for index in held_out:
            occurrences.subtract(self.occurrences[index])
        kept = Gazetteer()
        for key, counts in labels.items():
            if len(key) > MAX_TOKENS:
                continue
            labelled = sum(counts.values())
            if labelled / max(occurrences[key], labelled) >= MIN_LABELLED_SHARE:
                kept.add(key, counts.most_common(1)[0][0])
        return kept


def _all_occurrences(gazetteer: Gazetteer, model: TextModel) -> Iterable[tuple[str, ...]]:
    """Every (possibly overlapping) occurrence of an entry, as its key."""
    words = [model.text[start:end] for start, end in model.tokens]
    lengths = sorted({len(key) for key in gazetteer.entries})
    for index in range(len(words)):
        for size in lengths:
            key = tuple(words[index : index + size])
            if len(key) == size and key in gazetteer.entries:
                yield key


def place_gazetteer(label_map: dict[str, str]) -> Gazetteer:
    """Countries and capitals (GPE) and demonyms (NORP), in corpus labels through `label_map`."""
    gazetteer = Gazetteer()
    for name, model_label in place_names().items():
        label = label_map.get(model_label)
        if label is None:
            continue
        key = token_key(TextModel(name), 0, len(name))
        gazetteer.add(key, label)
    return gazetteer
