"""Learned entity tagger: a CRF over curate tokens that corrects a pretrained NER's output.

Each token is described by the pretrained model's tag (its own labels, so GPE and NORP stay
apart) and part-of-speech tag, the corpus gazetteer's, the name and place lists it is on
(curate.suggest.lexicons: census first and last names, cities, countries, states, demonyms),
the word itself (case, shape, affixes), the line it sits on (headline, dateline,
results-table row) and the words the editors labelled elsewhere. The
CRF learns from the editors' entities (IOB2 in corpus labels) how their conventions differ
from the model's: a city in a results table is a team (ORG), a capitalised word of a company
story is not a person. Measured on the Reuters pages it beats fine-tuning the NER itself and
trains in seconds.

Gazetteer and word-label features of a training text come from the other texts only (in
folds), so the CRF learns how far to trust them on text they have not seen.

A second CRF stage sees the first stage's tags: of the token and its neighbours, and of the
same word and name elsewhere in the text, so a name keeps one label through a story ("Cunningham"
after "Randall Cunningham"). It learns from first-stage tags of training texts the first stage
did not see (STAGE_FOLDS folds); a child process builds half the features and trains the full
first stage meanwhile (fit_entity_tagger).
Measured on the Reuters pages (2-fold over pages) the second
stage added 1.2 points of F1; the first stage's marginals, beam alternatives of the pretrained
model and clusters of its token vectors added nothing.

An acronym ("NYSE") is told its length and the label the model gave the capitalised words
elsewhere in the text that spell it out ("New York Stock Exchange"): 5-fold cross-validation by
page on the Reuters dev pages, entity F1 0.883 against 0.882 without (ORG 0.795 against 0.791).
Relabelling each string to its majority label on the page after tagging lowered it to 0.877;
averaged-perceptron training (20 epochs) to 0.848, SGD (15 epochs) to 0.868.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import re
import tempfile
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from functools import lru_cache
from itertools import compress
from pathlib import Path
from typing import Any, NamedTuple

from curate.model import Entity
from curate.store import ENTITY_MODEL_NAME, atomic_write_bytes
from curate.suggest import crftrain, layout
from curate.suggest.gazetteer import Gazetteer, GazetteerFacts
from curate.suggest.lexicons import lexicon_tags, lexicons
from curate.text import TextModel, line_starts

TAGGER_MODEL = ENTITY_MODEL_NAME  # its file under the corpus's models/
# Training texts are split in this many folds; each fold's gazetteer features come from the others.
FEATURE_FOLDS = 5
# The second stage learns from first-stage tags of texts held out in this many folds. 5-fold
# cross-validation by page on the Reuters dev pages: entity F1 0.883 with 2 folds and 50 iterations
# (below), as with 3 folds and 100 iterations, in about half the CPU time.
STAGE_FOLDS = 2
# Inner 2-fold cross-validation on each Reuters training fold chose c2 0.1 on one and 1.0 on the
# other (of 0.03-1.0); the outer F1 moved by 0.001 either way. 100 iterations score as 200 in less
# time, and 50 as 100 (0.8815 against 0.883 with 3 held-out folds, 0.883 with 2); 35 lose (0.8785).
# Slimmer CRFs lose (5-fold, same run, baseline 0.883): crfsuite's feature.minfreq 2 in every stage
# 0.8768 (the second stage trains in 30% less time), the second stage without affix features 0.8756.
CRF_ALGORITHM = "lbfgs"
CRF_PARAMS = {"c1": 0.0, "c2": 0.1, "max_iterations": 50, "feature.possible_transitions": True}
# The held-out first stages only tag texts for the second stage to learn from: 30 iterations
# instead of 100 cost nothing (5-fold cross-validation on the Reuters dev pages: entity F1 0.883
# against 0.882) and take a third of the time.
STAGE_CRF_PARAMS = {**CRF_PARAMS, "max_iterations": 30}
# Build half the features and train a held-out and the full first stage in a second process when the
# machine has two cores (curate.suggest.crftrain) and the fit has this many examples (fewer fit in
# less time than a process starts).
PARALLEL_FIT = True
PARALLEL_MIN_EXAMPLES = 10
# Acronym features (acronym_shape, acronym_expansions) of each token.
ACRONYM_FEATURES = True
# A capitalised word enters the word-label list when editors saw it at least this often.
MIN_WORD_COUNT = 1
# ...and is listed with every label editors gave it at least this share of the time, the most frequent first.
WORD_LABEL_SHARE = 0.25

Span = tuple[int, int, str]
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_NEIGHBOUR_PREFIXES = ("w=", "sh=", "model=", "gaz=", "gazf=")
_OFFSET_PREFIXES = {offset: f"{offset}:" for offset in (-2, -1, 1, 2)}


def model_output(nlp: Any, models: Sequence[TextModel], batch_size: int = 256) -> tuple[list[list[Span]], list[list[str]]]:
    """The pipeline's entities for each text with its own labels, and its part-of-speech tag of each
    curate token ("" without a tagger), paragraph by paragraph."""
    pieces: list[tuple[int, int]] = []
    texts: list[str] = []
    for index, model in enumerate(models):
        for paragraph in model.paragraphs:
            pieces.append((index, paragraph.start))
            texts.append(model.text[paragraph.start : paragraph.end])
    spans: list[list[Span]] = [[] for _ in models]
    tagged: list[list[tuple[int, str]]] = [[] for _ in models]  # (start, tag) of each pipeline token
    for (index, offset), doc in zip(pieces, nlp.pipe(texts, batch_size=batch_size)):
        spans[index].extend((offset + ent.start_char, offset + ent.end_char, ent.label_) for ent in doc.ents)
        tagged[index].extend((offset + token.idx, token.tag_) for token in doc)
    return spans, [_tags_of_tokens(model, found) for model, found in zip(models, tagged)]


# The layout of ParsedTexts' cache file; a file of another layout counts as no cache.
PARSE_CACHE_FORMAT = 1


class ParsedTexts:
    """`model_output` that parses each text once: learning reads the pipeline's output of the same
    texts twice (the entity CRF, then the story-start CRF over the fitted tagger's entities).

    With `cache` (a JSON file under the corpus's .curate/) the output of every text parsed is kept
    there too, by the sha256 of the text, so the next fit (the learning loop refits every few
    snippets) parses only the texts that are new. The file names the pipeline (`pipeline`) and
    is rewritten atomically; one that is damaged, of another pipeline or of another layout counts
    as none, and one that cannot be written leaves the fit to go on without it.
    """

    def __init__(self, nlp: Any, cache: Path | None = None, pipeline: str = "") -> None:
        self.nlp = nlp
        self.cache = cache
        self.pipeline = pipeline
        self._outputs: dict[str, tuple[list[Span], list[str]]] = {}
        self._stored: dict[str, Any] = self._read_cache() if cache is not None else {}

    def __call__(self, models: Sequence[TextModel]) -> tuple[list[list[Span]], list[list[str]]]:
        missing = []
        for model in {model.text: model for model in models if model.text not in self._outputs}.values():
            stored = _stored_output(self._stored.get(_text_key(model.text)), model)
            if stored is None:
                missing.append(model)
            else:
                self._outputs[model.text] = stored
        if missing:
            spans, pos_tags = _parse_on_two_cores(self.nlp, missing, self.cache.parent if self.cache is not None else None)
            self._outputs.update((model.text, output) for model, output in zip(missing, zip(spans, pos_tags)))
            if self.cache is not None:
                self._stored.update((_text_key(model.text), [[list(span) for span in found], tags]) for model, found, tags in zip(missing, spans, pos_tags))
                self._write_cache()
        outputs = [self._outputs[model.text] for model in models]
        return [list(spans) for spans, _ in outputs], [list(tags) for _, tags in outputs]

    def _read_cache(self) -> dict[str, Any]:
        assert self.cache is not None
        try:
            content = json.loads(self.cache.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(content, dict) or content.get("format") != PARSE_CACHE_FORMAT or content.get("pipeline") != self.pipeline or not isinstance(content.get("texts"), dict):
            return {}
        return content["texts"]

    def _write_cache(self) -> None:
        assert self.cache is not None
        content = {"format": PARSE_CACHE_FORMAT, "pipeline": self.pipeline, "texts": self._stored}
        try:
            atomic_write_bytes(self.cache, [json.dumps(content, separators=(",", ":")).encode()])
        except OSError:
            pass  # a cache only saves time: the fit goes on without it


# A first fit parses every text: with two cores, a child process loads the same pipeline and
# parses a share of them meanwhile, when the texts are long enough to pay for its start (about
# PARSE_CHILD_START seconds to import spaCy and load the pipeline; parsing runs at about
# PARSE_CHARS_PER_SECOND with a tagger). The pipeline's output of a text does not depend on
# which other texts it is parsed with (checked on the Reuters dev pages), so the fit is the same.
# A forked child (crftrain.forks) has the pipeline already: it starts parsing in PARSE_FORK_START;
# this process loads the name and place lists meanwhile (LEXICONS_SECONDS, when not loaded yet),
# which the fit's features read next, here and in the fit's child forked from here.
PARALLEL_PARSE = True
PARSE_CHILD_START = 2.0
PARSE_FORK_START = 0.1
LEXICONS_SECONDS = 1.3
PARSE_CHARS_PER_SECOND = 34_000
PARSE_CHILD_MIN_SHARE = 0.2


def parse_child_share(characters: int, start: float = PARSE_CHILD_START, meanwhile: float = 0.0) -> float:
    """The share of the characters a child that takes `start` seconds to begin parses so that it
    ends with this process, which spends `meanwhile` seconds on other work: 0 when it would not pay."""
    seconds = characters / PARSE_CHARS_PER_SECOND
    share = min((seconds + meanwhile - start) / (2 * seconds), 1.0) if seconds > 0 else 0.0
    return share if share >= PARSE_CHILD_MIN_SHARE else 0.0


def _spacy_source(nlp: Any) -> tuple[str, list[str]] | None:
    """The folder a spaCy pipeline was loaded from and the components it left out, or None when a child could not load it alike."""
    path = getattr(nlp, "path", None)
    if not PARALLEL_PARSE or path is None or not hasattr(nlp, "pipe_names") or not Path(path, "meta.json").is_file():
        return None
    try:
        meta = json.loads(Path(path, "meta.json").read_bytes())
    except (OSError, ValueError):
        return None
    components = meta.get("components") or meta.get("pipeline") or []
    if not all(name in components for name in nlp.pipe_names):
        return None
    return str(path), [name for name in components if name not in nlp.pipe_names]


class _ChildParse(NamedTuple):
    """A child's share of the parsing (_child_parse)."""

    path: str  # the pipeline's folder
    exclude: list[str]  # its components the parent's pipeline left out
    texts: list[str]
    output: str  # where the child writes model_output of the texts
    nlp: Any = None  # the parent's pipeline itself, in a forked child (never pickled)


def _child_parse(task: _ChildParse, channel: crftrain.Channel) -> None:
    nlp = task.nlp
    if nlp is None:
        import spacy

        nlp = spacy.load(task.path, exclude=task.exclude)
    Path(task.output).write_bytes(pickle.dumps(model_output(nlp, [TextModel(text) for text in task.texts]), protocol=pickle.HIGHEST_PROTOCOL))
    channel.report(0)


def _parse_on_two_cores(nlp: Any, models: Sequence[TextModel], folder: Path | None) -> tuple[list[list[Span]], list[list[str]]]:
    """`model_output` of the texts, a share of them parsed by a child process when that pays (parse_child_share).
    A child that fails costs only time: its texts are parsed here."""
    characters = sum(len(model.text) for model in models)
    fork = crftrain.forks()
    preload = fork and not _name_lists_loaded()
    share = parse_child_share(characters, PARSE_FORK_START if fork else PARSE_CHILD_START, LEXICONS_SECONDS if preload else 0.0) if len(models) > 1 and crftrain.cores() > 1 else 0.0
    source = _spacy_source(nlp) if share else None
    if source is None:
        return model_output(nlp, models)
    split = len(models)
    given = 0
    while split > 1 and given + len(models[split - 1].text) <= share * characters:
        split -= 1
        given += len(models[split].text)
    if split == len(models):
        return model_output(nlp, models)
    folder = folder if folder is not None and folder.is_dir() else Path(tempfile.gettempdir())
    output = folder / f".parse-{os.getpid()}-{id(models)}.tmp"
    task = crftrain.Task(__name__, "_child_parse", _ChildParse(source[0], source[1], [model.text for model in models[split:]], str(output), nlp if fork else None))
    try:
        child = crftrain.ChildTrainer(folder, task=task, fork=fork)
    except OSError:  # no child to be had: this process parses everything
        return model_output(nlp, models)
    try:
        if preload:
            load_name_lists()
        spans, pos_tags = model_output(nlp, models[:split])
        try:
            child.wait_for(0)
            more_spans, more_tags = pickle.loads(output.read_bytes())
        except (RuntimeError, OSError, pickle.UnpicklingError, ValueError, EOFError):
            more_spans, more_tags = model_output(nlp, models[split:])
    finally:
        child.close()
        output.unlink(missing_ok=True)
    return spans + more_spans, pos_tags + more_tags


def pipeline_name(nlp: Any) -> str:
    """What names a pipeline's output in ParsedTexts' cache: its language, name, version and components."""
    meta = getattr(nlp, "meta", None) or {}
    return json.dumps([meta.get("lang"), meta.get("name"), meta.get("version"), list(getattr(nlp, "pipe_names", []))])


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _stored_output(entry: Any, model: TextModel) -> tuple[list[Span], list[str]] | None:
    """A cache entry as `model_output` gives it, or None when it is not one for this text's tokens."""
    try:
        found, tags = entry
        spans = [(int(start), int(end), str(label)) for start, end, label in found]
        if len(tags) != len(model.tokens) or not all(isinstance(tag, str) for tag in tags) or any(not 0 <= start <= end <= len(model.text) for start, end, _ in spans):
            return None
        return spans, list(tags)
    except (TypeError, ValueError):
        return None


def _tags_of_tokens(model: TextModel, tagged: Sequence[tuple[int, str]]) -> list[str]:
    """Each curate token gets the tag of the pipeline token it starts in."""
    starts = [start for start, _ in tagged]
    return [tagged[bisect_right(starts, start) - 1][1] if tagged and starts[0] <= start else "" for start, _ in model.tokens]


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


# Words an expansion may hold that give no letter to its acronym ("Bank for International Settlements").
_EXPANSION_GLUE = frozenset({"of", "and", "for", "the", "&", "de", "du", "des", "la", "le", "di", "del", "on", "in", "-"})
ACRONYM_MAX = 6


def is_acronym(word: str) -> bool:
    """Two to ACRONYM_MAX capital letters ("NYSE", "EU", "NBA"); not a longer word in capitals."""
    return 2 <= len(word) <= ACRONYM_MAX and word.isalpha() and word.isupper()


def acronym_shape(word: str) -> list[str]:
    """Shape features of an acronym-like word: its length, and capitals with a plural or
    possessive tail ("NGOs", "IMF's" read as "IMF")."""
    if is_acronym(word):
        return [f"acro_len={len(word)}"]
    core = word[:-2] if word.endswith(("'s", "\u2019s")) else word[:-1] if word.endswith("s") else ""
    return [f"acro_len={len(core)}", "acro_tail"] if is_acronym(core) else []


def acronym_expansions(words: Sequence[str], line_of: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Acronym token index -> the token range (first, last + 1) of the capitalised words elsewhere in
    the text whose initials spell it ("New York Stock Exchange" for "NYSE"), the nearest before
    it first; glue words ("of", "and", "&") give no letter. Ranges lie on one line."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for index, word in enumerate(words):
        if is_acronym(word):
            wanted[word].append(index)
    if not wanted:
        return {}
    longest = max(len(word) for word in wanted)
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for first, word in enumerate(words):
        if not (word[:1].isupper() and word.isalpha() and not word.isupper()):
            continue
        letters = ""
        for last in range(first, len(words)):
            current = words[last]
            if line_of[last] != line_of[first]:
                break
            if current.lower() in _EXPANSION_GLUE and last > first:
                continue
            if not (current[:1].isupper() and current.isalpha()) or len(letters) == longest:
                break
            letters += current[0]
            if letters in wanted and len(letters) >= 2:
                found[letters].append((first, last + 1))
    result = {}
    for acronym, indexes in wanted.items():
        for index in indexes:
            ranges = found.get(acronym)
            if ranges:
                before = [item for item in ranges if item[1] <= index]
                result[index] = before[-1] if before else ranges[0]
    return result


class _WordFeatures(NamedTuple):
    """The features of a token that depend on the word alone."""

    first: tuple[str, ...]  # w=, sh=, p3=, s3=, s2=
    kind: tuple[str, ...]  # title, upper, digit
    affixes: tuple[str, str, str]  # p2=, p4=, s4=


@lru_cache(maxsize=65536)
def _word_features(word: str) -> _WordFeatures:
    lower = word.lower()
    kind = [name for name, present in (("title", word.istitle()), ("upper", word.isupper()), ("digit", any(char.isdigit() for char in word))) if present]
    return _WordFeatures(
        (f"w={lower}", f"sh={_shape(word)}", f"p3={lower[:3]}", f"s3={lower[-3:]}", f"s2={lower[-2:]}"), tuple(kind), (f"p2={lower[:2]}", f"p4={lower[:4]}", f"s4={lower[-4:]}")
    )


@lru_cache(maxsize=65536)
def _reach(feature: str) -> int:
    """How many tokens either side see a token's feature: 2, 1 or 0."""
    if feature.startswith(_NEIGHBOUR_PREFIXES):
        return 2
    return 1 if feature.startswith(("lex=", "pos=")) or feature in ("title", "upper") else 0


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


def word_labels(examples: Sequence[tuple[str, Sequence[Entity]]], models: Sequence[TextModel] | None = None) -> dict[str, str]:
    """Lowercased capitalised word -> the label editors gave it most often ("O" for none); `models`:
    the texts' TextModels when the caller has them (their tokens are worked out once)."""
    return WordLabelFacts(examples, models).word_labels()


class WordLabelFacts:
    """How editors labelled each capitalised word of each text, counted once, so `word_labels` of
    any of the texts (all but a held-out fold) is a sum: `word_labels(held_out)` equals
    `word_labels` of the other texts (labels tied in count in the same order)."""

    def __init__(self, examples: Sequence[tuple[str, Sequence[Entity]]], models: Sequence[TextModel] | None = None) -> None:
        self.counts: list[dict[str, Counter[str]]] = []
        for index, (text, entities) in enumerate(examples):
            model = models[index] if models is not None else TextModel(text)
            tags = token_tags(model, [(entity.start, entity.end, entity.label) for entity in entities])
            counts: dict[str, Counter[str]] = defaultdict(Counter)
            for (start, end), tag in zip(model.tokens, tags):
                word = text[start:end]
                if word[:1].isupper():
                    counts[word.lower()][tag[2:] or "O"] += 1
            self.counts.append(counts)

    def word_labels(self, held_out: Collection[int] = ()) -> dict[str, str]:
        """The word labels of every text but those of `held_out` (indexes)."""
        held_out = set(held_out)
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for index, text_counts in enumerate(self.counts):
            if index not in held_out:
                for word, tally in text_counts.items():
                    counts[word].update(tally)
        result = {}
        for word, tally in counts.items():
            total = sum(tally.values())
            if total >= MIN_WORD_COUNT:
                ranked = tally.most_common()
                result[word] = ",".join(label for label, count in ranked if count == ranked[0][1] or count >= WORD_LABEL_SHARE * total)
        return result


class _TextFacts(NamedTuple):
    """What a token's features read from the rest of its text, worked out once per text."""

    words: list[str]
    line_of: list[int]  # the line number of each token
    first_on_line: list[bool]
    sentence_first: list[bool]
    line_cues: list[list[str]]  # the cues of each token's line
    listed: list[set[str]]  # the name and place lists each token is on, matched line by line
    topics: list[str]  # the topic each token reads under
    leading: list[bool]  # in the run of capitalised words that opens the line
    model_votes: dict[str, Counter[str]]  # lowercased word -> the labels the model gave it in this text
    lowercase_words: set[str]  # words written in lower case somewhere in the text
    casings: dict[str, Counter[str]]  # lowercased word -> how it is written inside lines
    expansions: dict[int, tuple[int, int]]  # acronym token -> the words that spell it out


def token_features(
    model: TextModel,
    predicted: Sequence[str],
    gazetteer_tags: Sequence[str],
    known_words: dict[str, str],
    folded_gazetteer_tags: Sequence[str] | None = None,
    pos_tags: Sequence[str] | None = None,
) -> list[dict[str, float]]:
    """CRF features per token: its own, and some of its neighbours' (±2, on the same line)."""
    facts = _text_facts(model, predicted)
    own = _own_features(facts, predicted, gazetteer_tags, known_words, folded_gazetteer_tags, pos_tags)
    return _with_neighbours(own, facts.words, facts.line_of, pos_tags)


def _text_facts(model: TextModel, predicted: Sequence[str]) -> _TextFacts:
    text = model.text
    words = [text[start:end] for start, end in model.tokens]
    starts = line_starts(text)
    line_of = [bisect_right(starts, start) - 1 for start, _ in model.tokens]
    cues: dict[int, list[str]] = {}
    for index in set(line_of):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        cues[index] = _line_cues(text[starts[index] : end].rstrip("\r\n"))
    line_cues = [cues[line] for line in line_of]
    first_on_line = [index == 0 or line_of[index - 1] != line_of[index] for index in range(len(words))]
    sentence_starts = set(model.sentence_starts)
    sentence_first = [start in sentence_starts for start, _ in model.tokens]
    model_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for word, tag in zip(words, predicted):
        if tag != "O":
            model_votes[word.lower()][tag[2:]] += 1
    return _TextFacts(
        words,
        line_of,
        first_on_line,
        sentence_first,
        line_cues,
        _listed(words, line_of),
        _topics(words, first_on_line, line_cues),
        _leading(words, first_on_line),
        model_votes,
        {word for word in words if word[:1].islower()},
        _casings(words, first_on_line, sentence_first),
        acronym_expansions(words, line_of),
    )


def _listed(words: Sequence[str], line_of: Sequence[int]) -> list[set[str]]:
    """The name and place lists of each token, matched line by line."""
    listed: list[set[str]] = []
    first = 0
    for index in range(1, len(words) + 1):
        if index == len(words) or line_of[index] != line_of[first]:
            listed.extend(lexicon_tags(words[first:index]))
            first = index
    return listed


def _topics(words: Sequence[str], first_on_line: Sequence[bool], line_cues: Sequence[list[str]]) -> list[str]:
    """The topic of each token: the capitalised first word of the last headline (CRICKET, SOCCER, ...) or "none"."""
    topics = []
    topic = "none"
    for word, first, cues in zip(words, first_on_line, line_cues):
        if first and "headline" in cues and word.isalpha():
            topic = word.lower() if word.isupper() else "none"
        topics.append(topic)
    return topics


def _leading(words: Sequence[str], first_on_line: Sequence[bool]) -> list[bool]:
    """Whether each token is in the run of capitalised words (and . & -) that opens its line."""
    result = []
    leading = False
    for word, first in zip(words, first_on_line):
        if first:
            leading = True
        elif not (word[:1].isupper() or word in (".", "&", "-")):
            leading = False
        result.append(leading)
    return result


def _casings(words: Sequence[str], first_on_line: Sequence[bool], sentence_first: Sequence[bool]) -> dict[str, Counter[str]]:
    """How each word is written elsewhere in the text, away from line and sentence starts and
    capitals lines: tells a name in a headline in capitals from a common word."""
    casings: dict[str, Counter[str]] = defaultdict(Counter)
    for word, first, opens_sentence in zip(words, first_on_line, sentence_first):
        if not first and not opens_sentence and word.isalpha() and not word.isupper():
            casings[word.lower()]["title" if word[:1].isupper() else "lower"] += 1
    return casings


def _own_features(
    facts: _TextFacts,
    predicted: Sequence[str],
    gazetteer_tags: Sequence[str],
    known_words: dict[str, str],
    folded_gazetteer_tags: Sequence[str] | None,
    pos_tags: Sequence[str] | None,
) -> list[dict[str, None]]:
    """The features of each token itself, before its neighbours' are added, in a dict (as an
    ordered set): the order they are added is the order the CRF sees them in, the same in every
    process whatever its hash seed, so a child process builds the features this one would
    (fit_tagger) and a fit gives the same models bit for bit each time.
    """
    own: list[dict[str, None]] = []
    for index, word in enumerate(facts.words):
        lower = word.lower()
        line_cues = facts.line_cues[index]
        topic = facts.topics[index]
        model_label = predicted[index][2:] or "O"
        word_features = _word_features(word)
        features = dict.fromkeys(word_features.first)
        features.update(dict.fromkeys((f"model={predicted[index]}", f"modelL={model_label}", f"gaz={gazetteer_tags[index]}", f"topic={topic}")))
        features.update(dict.fromkeys(f"line:{cue}" for cue in line_cues))
        if folded_gazetteer_tags is not None and folded_gazetteer_tags[index] != gazetteer_tags[index]:
            features[f"gazf={folded_gazetteer_tags[index]}"] = None
        if facts.leading[index] and word[:1].isupper():
            features[f"lead_model={model_label}"] = None
            features.update(dict.fromkeys(f"lead_cue={cue}" for cue in line_cues))
        features.update(dict.fromkeys(word_features.kind))
        if facts.first_on_line[index]:
            features["line_first"] = None
        if facts.sentence_first[index]:
            features["sentence_first"] = None
        if word[:1].isupper():
            features[f"topic_capital={topic}"] = None
            if "table" in line_cues:
                features["table_capital"] = None
            if lower in facts.lowercase_words:
                features["lowercase_elsewhere"] = None
        if facts.model_votes.get(lower):
            features[f"model_elsewhere={facts.model_votes[lower].most_common(1)[0][0]}"] = None
        if lower in known_words:
            labels = known_words[lower].split(",")
            features[f"editors={labels[0]}"] = None
            features.update(dict.fromkeys(f"editors_any={label}" for label in labels[1:]))
        if word.isupper() and word.isalpha():
            casing = facts.casings.get(lower)
            features[f"cased_elsewhere={casing.most_common(1)[0][0] if casing else 'none'}"] = None
        features[f"topic_model={topic}|{model_label}"] = None
        for cue in line_cues:
            features[f"cue_model={cue}|{model_label}"] = None
        features.update(dict.fromkeys(word_features.affixes))
        for entry in sorted(facts.listed[index]):  # a set: sorted, for the same order in every process
            features[f"lex={entry}"] = None
            if "table" in line_cues:  # a city in a results table is a team
                features[f"lex_table={entry}"] = None
        if pos_tags is not None and pos_tags[index]:
            features[f"pos={pos_tags[index]}"] = None
        if ACRONYM_FEATURES:
            features.update(dict.fromkeys(acronym_shape(word)))
            spelled = facts.expansions.get(index)
            if spelled is not None:
                features[f"acro_exp_model={predicted[spelled[0]][2:] or 'O'}"] = None
                features[f"acro_exp_gaz={gazetteer_tags[spelled[0]][2:] or 'O'}"] = None
        own.append(features)
    return own


def _with_neighbours(own: Sequence[dict[str, None]], words: Sequence[str], line_of: Sequence[int], pos_tags: Sequence[str] | None) -> list[dict[str, float]]:
    """Each token's own features with what its neighbours on the same line show it (±2), or an edge marker."""
    # what each token shows its neighbours two away and one away, in the order of `own`
    shown_far: list[list[str]] = []
    shown_near: list[list[str]] = []
    for features in own:
        reaches = list(map(_reach, features))
        shown_far.append(list(compress(features, map((2).__eq__, reaches))))
        shown_near.append(list(compress(features, reaches)))
    lowered = [word.lower() for word in words]
    result = []
    for index in range(len(words)):
        features = dict.fromkeys(own[index], 1.0)
        for offset in (-2, -1, 1, 2):
            other = index + offset
            if 0 <= other < len(words) and line_of[other] == line_of[index]:
                if offset in (-1, 1):
                    left, right = min(index, other), max(index, other)
                    features[f"{offset}:bigram={lowered[left]}|{lowered[right]}"] = 1.0
                    shown = shown_near[other]
                else:
                    shown = shown_far[other]
                features.update(dict.fromkeys(map(_OFFSET_PREFIXES[offset].__add__, shown), 1.0))
            else:
                features[f"{offset}:edge"] = 1.0
                if abs(offset) == 1 and 0 <= other < len(words) and pos_tags is not None and pos_tags[other]:
                    features[f"{offset}:pos={pos_tags[other]}"] = 1.0  # how the line before ended, how the next begins
        result.append(features)
    return result


def _most_common_other(votes: Counter[str], own: str | None) -> str | None:
    """The most common label of `votes` less one vote for `own` (the first counted wins a tie), or None if none is left."""
    best, best_count = None, 0
    for label, count in votes.items():
        if label == own:
            count -= 1
        if count > best_count:
            best, best_count = label, count
    return best


def document_features(model: TextModel, first_tags: Sequence[str]) -> list[dict[str, float]]:
    """Second-stage features: what the first stage said here and of the same names elsewhere in the text.

    A name is usually written more than once in a story and keeps its label ("Cofinec" a
    company throughout, "Cunningham" the person named "Randall Cunningham" above); the first
    stage's tags of the other occurrences let the second stage make them agree.
    """
    text = model.text
    words = [text[start:end].lower() for start, end in model.tokens]
    starts = line_starts(text)
    line_of = [bisect_right(starts, start) - 1 for start, _ in model.tokens]
    entities: list[tuple[int, int, str]] = []  # token index range and label of each first-stage entity
    for index, tag in enumerate(first_tags):
        if tag.startswith("B-") or (tag.startswith("I-") and (not entities or entities[-1][1] != index or entities[-1][2] != tag[2:])):
            entities.append((index, index + 1, tag[2:]))
        elif tag.startswith("I-"):
            entities[-1] = (entities[-1][0], index + 1, entities[-1][2])
    word_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for index, tag in enumerate(first_tags):
        word_votes[words[index]][tag[2:] or "O"] += 1
    name_votes: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    part_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for first, last, label in entities:
        name_votes[tuple(words[first:last])][label] += 1
        if last - first > 1:
            for word in dict.fromkeys(words[first:last]):  # first seen first: ties of most_common alike in every process
                part_votes[word][label] += 1
    features: list[dict[str, float]] = [{f"s1={tag}": 1.0} for tag in first_tags]
    for index, tag in enumerate(first_tags):
        for offset in (-1, 1):
            other = index + offset
            if 0 <= other < len(words) and line_of[other] == line_of[index]:
                features[index][f"{offset}:s1={first_tags[other]}"] = 1.0
        label = _most_common_other(word_votes[words[index]], tag[2:] or "O")
        if label is not None:
            features[index][f"doc_word={label}"] = 1.0
        part = part_votes.get(words[index])
        if part:
            features[index][f"doc_part={part.most_common(1)[0][0]}"] = 1.0
    # every occurrence of a name the first stage found somewhere, as that name's tags
    lengths = sorted({len(name) for name in name_votes}, reverse=True)
    own = {(first, last): label for first, last, label in entities}
    for index in range(len(words)):
        for size in lengths:
            name = tuple(words[index : index + size])
            if len(name) != size or name not in name_votes or line_of[index + size - 1] != line_of[index]:
                continue
            label = _most_common_other(name_votes[name], own.get((index, index + size)))
            if label is not None:
                features[index][f"doc_name=B-{label}"] = 1.0
                for inside in range(index + 1, index + size):
                    features[inside][f"doc_name=I-{label}"] = 1.0
            break
    result = [dict(own_features) for own_features in features]
    for index, own_features in enumerate(features):
        for offset in (-1, 1):
            other = index + offset
            if 0 <= other < len(words) and line_of[other] == line_of[index]:
                for name in own_features:
                    if name.startswith(("doc_name=", "doc_part=")):
                        result[other][f"{-offset}:{name}"] = 1.0
    return result


def _with(first: Sequence[dict[str, float]], second: Sequence[dict[str, float]]) -> list[dict[str, float]]:
    return [{**one, **two} for one, two in zip(first, second)]


def _train(sequences: Sequence[Sequence[dict[str, float]]], labels: Sequence[Sequence[str]], path: Path, params: dict[str, Any] | None = None) -> None:
    crftrain.train(sequences, labels, path, CRF_ALGORITHM, CRF_PARAMS if params is None else params)


def first_stage_path(path: Path) -> Path:
    """Where the first-stage CRF of the tagger saved at `path` lives."""
    return path.with_name(f"{path.stem}.first{path.suffix}")


def _start_child(folder: Path) -> crftrain.ChildTrainer | None:
    """A parallel fit's child (crftrain), or None when none can start: the fit is then serial."""
    try:
        return crftrain.ChildTrainer(folder, __name__)
    except OSError:
        return None


def _use_child(examples: int, parallel: bool | None) -> bool:
    if parallel is None:
        parallel = PARALLEL_FIT and examples >= PARALLEL_MIN_EXAMPLES
    return parallel and crftrain.cores() > 1 and STAGE_FOLDS == 2 and examples >= 2


def load_name_lists() -> None:
    """Build the name and place lists and their index by first word, which the features read
    (lexicon_tags: about 1.3 s of a core, once per process)."""
    lexicon_tags(())


def _name_lists_loaded() -> bool:
    return lexicons.cache_info().currsize > 0


def prepare_child() -> None:
    """What a fit's child process does while it waits for its task (crftrain): load the name and place lists."""
    load_name_lists()


class FittedTagger(NamedTuple):
    """What fit_entity_tagger gives: the entities found on each training text by a first stage that
    did not learn from it (as on new text), and the gazetteer and word labels of all the texts (an
    EntityTagger's, worked out with the folds' own)."""

    found: list[list[Entity]]
    gazetteer: Gazetteer
    known_words: dict[str, str]
    extra: Any = None  # what the fit's Extra returned


class Extra(NamedTuple):
    """More work for a fit over its `found` entities: `module.function(argument, found)` (picklable, its
    result too). A parallel fit runs it in its child once the full first stage is trained, while this
    process still trains the second (learn fits the story-start CRF so); a serial fit runs it here."""

    module: str
    function: str
    argument: Any

    def run(self, found: list[list[Entity]]) -> Any:
        return getattr(importlib.import_module(self.module), self.function)(self.argument, found)


def fit_tagger(
    examples: Sequence[tuple[str, Sequence[Entity]]], spans: Sequence[Sequence[Span]], path: Path, pos_tags: Sequence[Sequence[str]] | None = None, *, parallel: bool | None = None
) -> list[list[Entity]]:
    """fit_entity_tagger's entities of the training texts (each found by a first stage that did not learn from it)."""
    return fit_entity_tagger(examples, spans, path, pos_tags, parallel=parallel).found


def fit_entity_tagger(
    examples: Sequence[tuple[str, Sequence[Entity]]],
    spans: Sequence[Sequence[Span]],
    path: Path,
    pos_tags: Sequence[Sequence[str]] | None = None,
    *,
    parallel: bool | None = None,
    extra: Extra | None = None,
) -> FittedTagger:
    """Fit the two CRF stages on editors' entities over `spans` and `pos_tags` (the pretrained model's); save both atomically.

    The second stage learns from first-stage tags of texts the first stage did not see
    (STAGE_FOLDS folds), so it learns how far to trust them on new text. Returns the entities those
    held-out first stages find on the training texts (the story-start CRF learns over them), and the
    gazetteer and word labels of all the texts (gazetteer_from_annotations, word_labels).

    With `parallel` (by default when PARALLEL_FIT, the machine has two cores or more and there are
    PARALLEL_MIN_EXAMPLES examples; STAGE_FOLDS must be 2) a child process (curate.suggest.crftrain,
    `_child_fit`) builds the features of one half of the texts while this one builds the other's;
    each trains the held-out first stage that learns from its own half and tags the other half
    (the halves' features cross through files), then the child trains the full first stage while
    this one trains the second: the same models as a serial fit, in about half the time on two cores.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    child = _start_child(path.parent) if _use_child(len(examples), parallel) else None  # it starts while this one works
    names = ("stage", "child-stage", "child-tags", "child-features", "child-extra")
    temporaries = [path.parent / f".{path.name}.{name}.tmp" for name in names]
    first_temporary, second_temporary = path.parent / f".{first_stage_path(path).name}.tmp", path.parent / f".{path.name}.tmp"
    fitted = False
    try:
        try:
            found = _fit_stages(examples, spans, pos_tags, child, extra, first_temporary, second_temporary, *temporaries)
            if child is not None:
                child.finish()
                if extra is not None:
                    found = found._replace(extra=pickle.loads(temporaries[-1].read_bytes()))
        except (crftrain.ChildFailed, OSError, EOFError, pickle.UnpicklingError):
            if child is None:
                raise
            # the child died or failed (or what it wrote cannot be read): fit again in this process alone, the same models later
            child.close()
            child = None
            found = _fit_stages(examples, spans, pos_tags, None, extra, first_temporary, second_temporary, *temporaries)
        fitted = True
    finally:
        if child is not None:
            child.close()
        for temporary in temporaries if fitted else [*temporaries, first_temporary, second_temporary]:
            temporary.unlink(missing_ok=True)
    first_temporary.replace(first_stage_path(path))
    second_temporary.replace(path)
    return found


class _FeatureInputs(NamedTuple):
    """What building the first-stage features of some texts needs (picklable: a child builds half of them)."""

    indexes: list[int]  # the texts' places among the fit's examples
    texts: list[str]
    spans: list[list[Span]]
    pos_tags: list[list[str]] | None
    lookups: dict[int, tuple[dict[tuple[str, ...], str], dict[str, str]]]  # feature fold -> gazetteer entries and word labels of the other folds


def _features_of(inputs: _FeatureInputs, models: Sequence[TextModel] | None = None) -> list[list[dict[str, float]]]:
    """The first-stage features of the texts of `inputs`, each with the gazetteer and word labels of the other feature folds."""
    gazetteers = {fold: Gazetteer(entries) for fold, (entries, _) in inputs.lookups.items()}
    folded = {fold: folded_gazetteer(gazetteer) for fold, gazetteer in gazetteers.items()}
    sequences = []
    for position, index in enumerate(inputs.indexes):
        model = models[position] if models is not None else TextModel(inputs.texts[position])
        fold = index % FEATURE_FOLDS
        sequences.append(
            token_features(
                model,
                token_tags(model, inputs.spans[position]),
                token_tags(model, _gazetteer_spans(gazetteers[fold], model)),
                inputs.lookups[fold][1],
                folded_tags(folded[fold], model),
                inputs.pos_tags[position] if inputs.pos_tags is not None else None,
            )
        )
    return sequences


class _ChildFit(NamedTuple):
    """A parallel fit's task for its child (_child_fit)."""

    inputs: _FeatureInputs  # the child's half of the texts
    labels: list[list[str]]  # every text's gold tags
    algorithm: str
    stage_params: dict[str, Any]
    params: dict[str, Any]
    features: str  # where the child writes its half's features (encoded)
    stage: str  # where it saves its held-out first stage
    tags: str  # where it writes that stage's tags of the parent's half
    first: str  # where it saves the full first stage
    extra: str  # where it writes what the fit's Extra returned (when the parent sends one)


def _child_fit(task: _ChildFit, channel: crftrain.Channel) -> None:
    """The child's side of a parallel fit (steps: 0 its features written, 1 its tags of the other half written, 2 the full first stage saved)."""
    own = task.inputs.indexes
    sequences = _features_of(task.inputs)
    Path(task.features).write_bytes(pickle.dumps(crftrain.encode(sequences), protocol=pickle.HIGHEST_PROTOCOL))
    channel.report(0)
    crftrain.train(sequences, [task.labels[index] for index in own], task.stage, task.algorithm, task.stage_params)
    others, (names, encoded) = channel.receive()  # the parent's half: its indexes and features
    other_sequences = [crftrain.decode(names, sequence) for sequence in encoded]
    Path(task.tags).write_bytes(pickle.dumps(crftrain.tag(task.stage, other_sequences)))
    channel.report(1)
    every: list[Any] = [None] * len(task.labels)
    for index, sequence in zip(own, sequences):
        every[index] = sequence
    for index, sequence in zip(others, other_sequences):
        every[index] = sequence
    crftrain.train(every, task.labels, task.first, task.algorithm, task.params)
    channel.report(2)
    extra, found = channel.receive()  # (None, None) for no more work
    if extra is not None:
        Path(task.extra).write_bytes(pickle.dumps(extra.run(found), protocol=pickle.HIGHEST_PROTOCOL))


def _fit_stages(
    examples: Sequence[tuple[str, Sequence[Entity]]],
    spans: Sequence[Sequence[Span]],
    pos_tags: Sequence[Sequence[str]] | None,
    child: crftrain.ChildTrainer | None,
    extra: Extra | None,
    first_temporary: Path,
    second_temporary: Path,
    temporary: Path,
    child_stage: Path,
    child_tags: Path,
    child_features: Path,
    child_extra: Path,
) -> FittedTagger:
    """fit_entity_tagger's work: both stages trained to their temporary names (the caller moves them into place)."""
    models = [TextModel(text) for text, _ in examples]
    labels = [token_tags(model, [(entity.start, entity.end, entity.label) for entity in entities]) for model, (_, entities) in zip(models, examples)]
    # each feature fold's gazetteer and word labels come from the other folds
    gazetteer_facts, word_facts = GazetteerFacts(examples, models), WordLabelFacts(examples, models)
    everything = list(range(len(examples)))
    lookups = {}
    for fold in range(min(FEATURE_FOLDS, len(examples))):
        held_out = everything[fold::FEATURE_FOLDS]
        lookups[fold] = (gazetteer_facts.gazetteer(held_out).entries, word_facts.word_labels(held_out))

    def inputs(indexes: list[int]) -> _FeatureInputs:
        return _FeatureInputs(indexes, [examples[index][0] for index in indexes], [list(spans[index]) for index in indexes], [list(pos_tags[index]) for index in indexes] if pos_tags is not None else None, lookups)

    sequences: list[list[dict[str, float]]] = [[] for _ in examples]
    first_tags: list[list[str]] = [[] for _ in examples]
    ready: dict[int, Any] = {}  # second-stage features of these texts as crfsuite items, made early
    stage_folds = [everything[fold::STAGE_FOLDS] for fold in range(STAGE_FOLDS)] if len(examples) >= STAGE_FOLDS else []
    if child is not None:
        # the child learns from the first half (the parent's held-out fold) and tags the second; the parent the other way round
        held_out, own = stage_folds
        child.send(
            crftrain.Task(
                __name__,
                "_child_fit",
                _ChildFit(inputs(held_out), labels, CRF_ALGORITHM, STAGE_CRF_PARAMS, CRF_PARAMS, str(child_features), str(child_stage), str(child_tags), str(first_temporary), str(child_extra)),
            )
        )
        for index, features in zip(own, _features_of(inputs(own), [models[index] for index in own])):
            sequences[index] = features
        child.send((own, crftrain.encode([sequences[index] for index in own])))
        _train([sequences[index] for index in own], [labels[index] for index in own], temporary, STAGE_CRF_PARAMS)
        child.wait_for(0)
        names, encoded = pickle.loads(child_features.read_bytes())
        for index, sequence in zip(held_out, encoded):
            sequences[index] = [dict.fromkeys(token, 1.0) for token in crftrain.decode(names, sequence)]
        for index, tags in zip(held_out, crftrain.tag(temporary, [sequences[index] for index in held_out])):
            first_tags[index] = tags
        # while the child tags this process's half: the second stage's features of the texts tagged
        # here, made into crfsuite's items now (the second stage trains on them as they are)
        for index in held_out:
            _add_document_features(sequences[index], models[index], first_tags[index])
            ready[index] = crftrain.items(sequences[index])
            sequences[index] = []
        child.wait_for(1)
        for index, tags in zip(own, pickle.loads(child_tags.read_bytes())):
            first_tags[index] = tags
        found = _found(models, first_tags)
        child.send((extra, found if extra is not None else None))
    else:
        sequences = _features_of(inputs(everything), models)
        for fold in stage_folds:
            train = _others(everything, fold)
            _train([sequences[index] for index in train], [labels[index] for index in train], temporary, STAGE_CRF_PARAMS)
            for index, tags in zip(fold, crftrain.tag(temporary, [sequences[index] for index in fold])):
                first_tags[index] = tags
        if not stage_folds:
            first_tags = [list(tags) for tags in labels]
        found = _found(models, first_tags)
        _train(sequences, labels, first_temporary)
    for index, (features, model, tags) in enumerate(zip(sequences, models, first_tags)):
        if index not in ready:
            _add_document_features(features, model, tags)
    _train([ready.get(index, features) for index, features in enumerate(sequences)], labels, second_temporary)
    return FittedTagger(found, gazetteer_facts.gazetteer(), word_facts.word_labels(), extra.run(found) if extra is not None and child is None else None)


def _add_document_features(features: list[dict[str, float]], model: TextModel, first_tags: Sequence[str]) -> None:
    """Make a text's first-stage features its second stage's: the document features added in place
    (a copy of every token's features would be the largest thing a fit holds in memory)."""
    for own_features, document in zip(features, document_features(model, first_tags)):
        own_features.update(document)


def _found(models: Sequence[TextModel], first_tags: Sequence[Sequence[str]]) -> list[list[Entity]]:
    """Each text's entities as the held-out first stage that did not learn from it found them (the
    story-start CRF learns over them): 5-fold cross-validation on the Reuters dev pages gives the
    story-start F1 (0.997) and Pk (0.0016) of tagging the texts anew with the fitted tagger, which
    took 5% of a fit's time."""
    return [tags_to_entities(model, tags) if model.tokens else [] for model, tags in zip(models, first_tags)]


def _others(everything: list[int], fold: list[int]) -> list[int]:
    held_out = set(fold)
    return [index for index in everything if index not in held_out]


def _gazetteer_spans(gazetteer: Gazetteer, model: TextModel) -> list[Span]:
    return [(entity.start, entity.end, entity.label) for entity in gazetteer.matches(model)]


def folded_gazetteer(gazetteer: Gazetteer) -> dict[tuple[str, ...], str]:
    """The gazetteer's entries in lower case (the first label seen wins)."""
    folded: dict[tuple[str, ...], str] = {}
    for key, label in gazetteer.entries.items():
        folded.setdefault(tuple(word.lower() for word in key), label)
    return folded


def folded_tags(folded: dict[tuple[str, ...], str], model: TextModel) -> list[str]:
    """IOB2 tags of the longest case-insensitive gazetteer matches on one line: "CHICAGO" finds "Chicago"."""
    text = model.text
    words = [text[start:end].lower() for start, end in model.tokens]
    tags = ["O"] * len(words)
    longest = max((len(key) for key in folded), default=0)
    index = 0
    while index < len(words):
        for size in range(min(longest, len(words) - index), 0, -1):
            label = folded.get(tuple(words[index : index + size]))
            if label is not None and "\n" not in text[model.tokens[index][0] : model.tokens[index + size - 1][1]]:
                tags[index] = f"B-{label}"
                for inside in range(index + 1, index + size):
                    tags[inside] = f"I-{label}"
                index += size
                break
        else:
            index += 1
    return tags


class EntityTagger:
    """A fitted CRF with the gazetteer and word labels of all the editors' texts."""

    def __init__(self, path: Path, gazetteer: Gazetteer, known_words: dict[str, str], labels: Sequence[str]) -> None:
        import pycrfsuite

        self.crf = pycrfsuite.Tagger()
        self.crf.open(str(path))
        self.first: Any = None
        if first_stage_path(path).exists():
            self.first = pycrfsuite.Tagger()
            self.first.open(str(first_stage_path(path)))
        self.gazetteer = gazetteer
        self.folded = folded_gazetteer(gazetteer)
        self.known_words = known_words
        self.labels = set(labels)

    def tag(self, models: Sequence[TextModel], spans: Sequence[Sequence[Span]], pos_tags: Sequence[Sequence[str]] | None = None) -> list[list[Entity]]:
        result = []
        for index, (model, found) in enumerate(zip(models, spans)):
            if not model.tokens:
                result.append([])
                continue
            features = token_features(
                model, token_tags(model, found), token_tags(model, _gazetteer_spans(self.gazetteer, model)), self.known_words, folded_tags(self.folded, model), pos_tags[index] if pos_tags is not None else None
            )
            if self.first is not None:
                features = _with(features, document_features(model, self.first.tag(features)))
            entities = tags_to_entities(model, self.crf.tag(features))
            result.append([entity for entity in entities if entity.label in self.labels])
        return result
