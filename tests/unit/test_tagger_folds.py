"""The entity tagger's per-fold gazetteers and word labels, added up from facts of each text, equal
building them from the other texts afresh; its features come in the same order in every process."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from curate.model import Entity
from curate.suggest import tagger
from curate.suggest.gazetteer import MAX_TOKENS, MIN_LABELLED_SHARE, Gazetteer, GazetteerFacts, _all_occurrences, gazetteer_from_annotations, token_key
from curate.text import TextModel

WORDS = ["Acme", "Corp", "Paris", "said", "the", "Bank", "of", "France", "May", "rose", "ACME", "Lyon", "3M", "and", "Jo"]


def _examples(seed: int, count: int = 14) -> list[tuple[str, list[Entity]]]:
    """Random texts over a small vocabulary (so strings repeat across texts), random labelled spans."""
    chooser = random.Random(seed)
    examples = []
    for _ in range(count):
        lines = [" ".join(chooser.choice(WORDS) for _ in range(chooser.randint(3, 9))) for _ in range(chooser.randint(1, 4))]
        text = "\n".join(lines)
        model = TextModel(text)
        entities = []
        index = 0
        while index < len(model.tokens):
            if chooser.random() < 0.3:
                size = chooser.randint(1, 3)
                last = min(index + size, len(model.tokens)) - 1
                start, end = model.tokens[index][0], model.tokens[last][1]
                if "\n" not in text[start:end]:
                    entities.append(Entity(start=start, end=end, label=chooser.choice(["ORG", "LOC", "PER"])))
                index = last + 1
            index += 1
        examples.append((text, entities))
    return examples


def _reference_gazetteer(examples: list[tuple[str, list[Entity]]]) -> Gazetteer:
    """The gazetteer as it was built before GazetteerFacts: counted over the given texts alone."""
    labels: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    models = []
    for text, entities in examples:
        model = TextModel(text)
        models.append(model)
        for entity in entities:
            key = token_key(model, entity.start, entity.end)
            if key and any(char.isupper() or char.isdigit() for char in "".join(key)):
                labels[key][entity.label] += 1
    candidates = Gazetteer({key: counts.most_common(1)[0][0] for key, counts in labels.items() if len(key) <= MAX_TOKENS})
    occurrences: Counter[tuple[str, ...]] = Counter()
    for model in models:
        occurrences.update(_all_occurrences(candidates, model))
    kept = Gazetteer()
    for key, counts in labels.items():
        if key in candidates.entries and sum(counts.values()) / max(occurrences[key], sum(counts.values())) >= MIN_LABELLED_SHARE:
            kept.add(key, candidates.entries[key])
    return kept


def _reference_word_labels(examples: list[tuple[str, list[Entity]]]) -> dict[str, str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for text, entities in examples:
        model = TextModel(text)
        for (start, end), tag in zip(model.tokens, tagger.token_tags(model, [(entity.start, entity.end, entity.label) for entity in entities])):
            if text[start:end][:1].isupper():
                counts[text[start:end].lower()][tag[2:] or "O"] += 1
    result = {}
    for word, tally in counts.items():
        ranked = tally.most_common()
        result[word] = ",".join(label for label, count in ranked if count == ranked[0][1] or count >= tagger.WORD_LABEL_SHARE * sum(tally.values()))
    return result


def test_each_folds_gazetteer_and_word_labels_equal_those_built_from_the_other_texts() -> None:
    checked = 0
    for seed in range(6):
        examples = _examples(seed)
        gazetteers, words = GazetteerFacts(examples), tagger.WordLabelFacts(examples)
        for held_out in ([], [0], list(range(0, len(examples), 5)), list(range(3, len(examples), 5)), list(range(len(examples) // 2))):
            others = [example for index, example in enumerate(examples) if index not in set(held_out)]
            expected = _reference_gazetteer(others)
            # entries and their order (the first label seen wins when the folded gazetteer is built)
            assert list(gazetteers.gazetteer(held_out).entries.items()) == list(expected.entries.items())
            assert list(words.word_labels(held_out).items()) == list(_reference_word_labels(others).items())
            checked += len(expected)
    assert checked > 50  # the random texts did make gazetteers
    examples = _examples(0)
    assert gazetteer_from_annotations(examples).entries == _reference_gazetteer(examples).entries


def test_a_string_is_kept_in_a_fold_when_labelled_at_least_half_the_times_it_occurs_in_the_others() -> None:
    labelled = ("Acme rose.\nAcme fell.", [Entity(start=0, end=4, label="ORG")])  # 1 of 2 occurrences labelled
    unlabelled = ("Acme said.", [])
    facts = GazetteerFacts([labelled, unlabelled, labelled])
    assert facts.gazetteer([1]).entries == {("Acme",): "ORG"}  # 2 of 4
    assert facts.gazetteer([0]).entries == {}  # 1 of 3
    assert facts.gazetteer().entries == {}  # 2 of 5


_FEATURE_ORDER = """
import json
from curate.suggest import tagger
from curate.text import TextModel
text = "WASHINGTON - John Smith of Acme Corp met NYSE officials in Paris, Texas.\\nDallas 3 Houston 2"
model = TextModel(text)
features = tagger.token_features(model, tagger.token_tags(model, [(13, 23, "PERSON")]), ["O"] * len(model.tokens), {"acme": "ORG"}, None, ["NNP"] * len(model.tokens))
print(json.dumps([list(token) for token in features]))
"""


def test_token_features_come_in_the_same_order_whatever_the_hash_seed() -> None:
    # a fit's child process builds half the features; the CRF reads features in the order given
    orders = []
    for seed in ("1", "2", "3"):
        environment = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        completed = subprocess.run([sys.executable, "-c", _FEATURE_ORDER], capture_output=True, text=True, env=environment, timeout=120, check=True)
        orders.append(json.loads(completed.stdout))
    assert any(name.startswith("lex=") for token in orders[0] for name in token)  # the name and place lists are in
    assert orders[0] == orders[1] == orders[2]


def test_a_fit_gives_the_gazetteer_and_word_labels_of_all_its_texts(tmp_path: Path) -> None:
    examples = _examples(1, count=6)
    fitted = tagger.fit_entity_tagger(examples, [[] for _ in examples], tmp_path / "entities.crfsuite", parallel=False)
    assert list(fitted.gazetteer.entries.items()) == list(gazetteer_from_annotations(examples).entries.items())
    assert fitted.gazetteer.entries  # the random texts make one
    assert fitted.known_words == tagger.word_labels(examples)
    assert len(fitted.found) == len(examples)
