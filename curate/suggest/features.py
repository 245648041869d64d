"""Per-unit evidence for story starts: layout, truncation, entity continuity, word cohesion.

A unit is a paragraph (a sentence when the text is one paragraph). Every feature of unit i
says something about whether a new story starts there; unit 0 always starts the first
story and is given features only so sequences stay aligned.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from curate.model import BoilerplateRange, Entity
from curate.suggest import layout
from curate.suggest.places import place_key
from curate.text import TextModel

WINDOW = 4  # units compared on each side of a gap

_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours said says say told tell new one two three four five six seven eight nine ten year years last
    first next week day days time mr mrs ms per cent percent may might must shall us its it's don't
    monday tuesday wednesday thursday friday saturday sunday yesterday today tomorrow
    """.split()
)
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ed", "es", "s", "ly")


@dataclass(frozen=True)
class Unit:
    """A span of the text that may start a story, and the offset a story starting there gets."""

    start: int
    end: int
    boundary: int


def units_of(model: TextModel) -> list[Unit]:
    """Paragraphs, or the sentences of the only paragraph."""
    paragraphs = model.paragraphs
    if len(paragraphs) == 1 and len(paragraphs[0].sentences) > 1:
        return [Unit(start, end, model.boundary_offset(start)) for start, end in paragraphs[0].sentences]
    return [Unit(paragraph.start, paragraph.end, paragraph.line_start) for paragraph in paragraphs]


def stem(word: str) -> str:
    word = word.lower().replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(line: str) -> Counter[str]:
    """Stems of the words that carry topic: no stopwords, no short words."""
    counts: Counter[str] = Counter()
    for word in _WORD.findall(line):
        lower = word.lower()
        if len(lower) < 3 or lower in _STOPWORDS:
            continue
        counts[stem(lower)] += 1
    return counts


def name_keys(line: str, line_start: int, entities: list[Entity]) -> set[str]:
    """What the unit names: its entities and capitalised words inside sentences, demonyms as places."""
    keys = {place_key(entity_text) for entity_text in _entity_texts(line, line_start, entities)}
    tokens = _WORD.findall(line)
    for previous, word in zip(tokens, tokens[1:]):
        if word[0].isupper() and not word.isupper() and word.lower() not in _STOPWORDS and len(word) > 2:
            keys.add(place_key(word))
    for word in tokens:
        key = place_key(word)
        if key != word.lower():
            keys.add(key)  # a demonym or country alias anywhere, even first in a sentence
    return {key for key in keys if key}


def _entity_texts(line: str, line_start: int, entities: list[Entity]) -> list[str]:
    texts = []
    for entity in entities:
        start, end = entity.start - line_start, entity.end - line_start
        if 0 <= start < end <= len(line):
            texts.append(line[start:end])
            texts.extend(word for word in _WORD.findall(line[start:end]) if len(word) > 2)
    return texts


def cosine(left: Counter[str], right: Counter[str]) -> float:
    if not left or not right:
        return 0.0
    dot = sum(count * right[word] for word, count in left.items() if word in right)
    norm = math.sqrt(sum(count * count for count in left.values())) * math.sqrt(sum(count * count for count in right.values()))
    return dot / norm if norm else 0.0


def _depths(scores: list[float]) -> list[float]:
    """TextTiling depth of each gap: how far its similarity lies below the peaks on both sides."""
    depths = []
    for index, score in enumerate(scores):
        left = score
        for value in reversed(scores[:index]):
            if value < left:
                break
            left = value
        right = score
        for value in scores[index + 1 :]:
            if value < right:
                break
            right = value
        depths.append((left - score) + (right - score))
    return depths


def unit_features(model: TextModel, units: list[Unit], entities: list[Entity], boilerplate: list[BoilerplateRange]) -> list[dict[str, float]]:
    """One feature dict per unit (names -> values), the input of every story-start scorer."""
    text = model.text
    lines = [text[unit.start : unit.end] for unit in units]
    boiler = {(item.start, item.end): item.kind for item in boilerplate}
    is_boiler = [(unit.start, unit.end) in boiler for unit in units]
    words = [content_words(line) if not is_boiler[index] else Counter() for index, line in enumerate(lines)]
    keys = [name_keys(line, unit.start, entities) if not is_boiler[index] else set() for index, (line, unit) in enumerate(zip(lines, units))]
    headline = [layout.is_headline(line) for line in lines]
    dateline = [layout.is_dateline(line) or bool(layout.dateline_prefix_end(line)) for line in lines]
    name_line = [layout.is_name_line(line) for line in lines]
    ends_open = [layout.ends_mid_sentence(line) for line in lines]
    prose = [layout.is_prose(line) for line in lines]

    text_indexes = [index for index in range(len(units)) if not is_boiler[index]]
    gap_scores: list[float] = []
    for index in range(len(units)):
        before = _window(words, text_indexes, index, -WINDOW)
        after = _window(words, text_indexes, index, WINDOW)
        gap_scores.append(cosine(before, after))
    depths = _depths(gap_scores[1:]) if len(units) > 1 else []
    depths = [0.0] + depths
    mean = sum(depths[1:]) / max(1, len(depths) - 1)
    spread = math.sqrt(sum((depth - mean) ** 2 for depth in depths[1:]) / max(1, len(depths) - 1)) or 1.0

    features: list[dict[str, float]] = []
    for index, line in enumerate(lines):
        previous = _previous_text(index, is_boiler)
        before_words = _window(words, text_indexes, index, -WINDOW)
        before_keys: set[str] = set()
        for other in _window_indexes(text_indexes, index, -WINDOW):
            before_keys |= keys[other]
        own_keys = keys[index]
        shared = len(own_keys & before_keys)
        new = len(own_keys - before_keys)
        following = index + 1 < len(units) and dateline[index + 1]
        following_after_name = index + 2 < len(units) and name_line[index + 1] and dateline[index + 2]
        row = {
            "bias": 1.0,
            "boilerplate": float(is_boiler[index]),
            "headline": float(headline[index]),
            "dateline": float(dateline[index]),
            "next_dateline": float(following or following_after_name),
            "prev_headline": float(index > 0 and headline[index - 1]),
            "prev_dateline": float(index > 0 and dateline[index - 1]),
            "prev_truncated": float(previous is not None and ends_open[previous]),
            "prev_contact": float(index > 0 and lines[index - 1].lstrip().startswith("--")),
            "prose": float(prose[index]),
            "starts_lower": float(line[:1].islower()),
            "starts_quote": float(line[:1] in "\"'\u201c\u2018("),
            "has_names": float(bool(own_keys)),
            "names_shared": shared / len(own_keys) if own_keys else 0.0,
            "names_new": min(new, 5) / 5.0,
            "names_none_shared": float(len(own_keys) >= 2 and shared == 0),
            "cohesion_prev": cosine(words[index], before_words),
            "cohesion_gap": gap_scores[index],
            "depth": depths[index],
            "depth_z": (depths[index] - mean) / spread,
            "depth_peak": float(_is_peak(depths, index)),
            "short": float(len(layout.words(line)) < 5),
            "first": float(index == 0),
        }
        features.append(row)
    return features


def _is_peak(depths: list[float], index: int) -> bool:
    if index == 0 or depths[index] <= 0:
        return False
    left = depths[index - 1] if index > 1 else -1.0
    right = depths[index + 1] if index + 1 < len(depths) else -1.0
    return depths[index] >= left and depths[index] >= right


def _previous_text(index: int, is_boiler: list[bool]) -> int | None:
    for other in range(index - 1, -1, -1):
        if not is_boiler[other]:
            return other
    return None


def _window_indexes(text_indexes: list[int], index: int, size: int) -> list[int]:
    from bisect import bisect_left

    position = bisect_left(text_indexes, index)
    if size < 0:
        return text_indexes[max(0, position + size) : position]
    return text_indexes[position : position + size]


def _window(words: list[Counter[str]], text_indexes: list[int], index: int, size: int) -> Counter[str]:
    total: Counter[str] = Counter()
    for other in _window_indexes(text_indexes, index, size):
        total.update(words[other])
    return total
