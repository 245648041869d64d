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
from functools import lru_cache

from curate.model import BoilerplateRange, Entity
from curate.suggest import layout
from curate.suggest.places import place_key
from curate.text import TextModel

# Table-row and sub-heading features of each unit (_row_kind_features).
LAYOUT_ROW_FEATURES = True
WINDOW = 4  # units compared on each side of a gap
# A paragraph cut off mid-sentence ends a story only when it is this long; shorter ones are
# wrapped lines of tables and headings.
TRUNCATED_MIN_CHARS = 100

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
# Suffix rewrites of a light stemmer, longest first; the first that fits is applied.
_SUFFIXES = (
    ("ational", "ate"), ("tional", "tion"), ("ization", "ize"), ("isation", "ize"), ("fulness", "ful"),
    ("iveness", "ive"), ("ousness", "ous"), ("biliti", "ble"), ("ements", "e"), ("ement", "e"),
    ("ments", ""), ("ment", ""), ("nesses", ""), ("ness", ""), ("ities", ""), ("ity", ""),
    ("ically", "ic"), ("ical", "ic"), ("ations", "ate"), ("ation", "ate"), ("ators", "ate"),
    ("ator", "ate"), ("ively", "ive"), ("ously", "ous"), ("fully", "ful"), ("ally", "al"),
    ("izes", "ize"), ("ized", "ize"), ("izing", "ize"), ("ings", ""), ("ing", ""), ("ies", "y"),
    ("ied", "y"), ("ers", ""), ("er", ""), ("edly", ""), ("ed", ""), ("es", ""), ("ly", ""), ("s", ""),
)


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


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light stemmer: "elections", "elected" and "electing" share "elect"."""
    word = word.lower().replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
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


def dp_segmentation(words: list[Counter[str]], max_units: int = 80, penalty_scale: float = 1.0) -> set[int]:
    """Unit indexes where a minimum-description-length segmentation starts a segment.

    Dynamic programming over the units, in the spirit of Utiyama and Isahara (2001): a
    segment costs the code length of its words under its own Laplace-smoothed unigram model,
    and each segment pays log(total words) more, so the cut follows a change of vocabulary.
    """
    count = len(words)
    vocabulary = len({word for counts in words for word in counts})
    total = sum(sum(counts.values()) for counts in words)
    if count < 2 or total == 0:
        return set()
    penalty = penalty_scale * math.log(total)
    # f * log(f + 1) and size * log(size + vocabulary) of every count a segment can reach, worked out once
    spread = [number * math.log(number + 1) for number in range(total + 1)]
    length = [size * math.log(size + vocabulary) for size in range(total + 1)]
    items = [list(counts.items()) for counts in words]
    best = [0.0] + [math.inf] * count
    back = [0] * (count + 1)
    for first in range(count):
        if best[first] == math.inf:
            continue
        counts: dict[str, int] = {}
        size = 0
        entropy_term = 0.0  # sum over words of f * log(f + 1)
        for last in range(first, min(count, first + max_units)):
            for word, extra in items[last]:
                old = counts.get(word, 0)
                if old:
                    entropy_term -= spread[old]
                counts[word] = old + extra
                entropy_term += spread[old + extra]
                size += extra
            cost = length[size] - entropy_term + penalty if size else penalty
            if best[first] + cost < best[last + 1]:
                best[last + 1] = best[first] + cost
                back[last + 1] = first
    starts = set()
    position = count
    while position > 0:
        position = back[position]
        if position > 0:
            starts.add(position)
    return starts


@dataclass(frozen=True)
class _Page:
    """What each unit of a text shows by itself, and which units are boilerplate."""

    lines: list[str]
    kinds: list[str | None]  # the boilerplate kind of each unit, None for text
    is_boiler: list[bool]
    text_indexes: list[int]  # the units that are not boilerplate
    words: list[Counter[str]]  # content words (none for boilerplate)
    keys: list[set[str]]  # what the unit names (nothing for boilerplate)
    headline: list[bool]
    dateline: list[bool]
    name_line: list[bool]
    ends_open: list[bool]
    prose: list[bool]
    table_row: list[bool]
    subheading: list[bool]


@dataclass(frozen=True)
class _Cohesion:
    """How the words of the text hang together across the gap before each unit."""

    gap_scores: list[float]  # cosine of the windows either side
    depths: list[float]  # TextTiling depth (0 for unit 0)
    mean: float
    spread: float
    segment_starts: set[int]  # where the minimum-description-length segmentation cuts


def unit_features(model: TextModel, units: list[Unit], entities: list[Entity], boilerplate: list[BoilerplateRange]) -> list[dict[str, float]]:
    """One feature dict per unit (names -> values), the input of every story-start scorer."""
    page = _page(model, units, entities, boilerplate)
    cohesion = _cohesion(page)
    # On a page whose stories open with datelines, a start without one is unlikely. A dateline
    # in the first lines only opens the page's first story and says nothing of the others.
    layout_page = any(page.dateline[2:])
    features = [_unit_row(page, cohesion, index, layout_page) for index in range(len(units))]
    # A page with a paragraph cut off (a teaser, or a story cut short before another) shows
    # where its stories end; there a change of subject with no cut beside it is weaker evidence.
    cut_page = any(row["prev_truncated"] or row["self_truncated"] for row in features)
    for row in features:
        row["cut_page"] = float(cut_page)
    return features


def _page(model: TextModel, units: list[Unit], entities: list[Entity], boilerplate: list[BoilerplateRange]) -> _Page:
    text = model.text
    lines = [text[unit.start : unit.end] for unit in units]
    boiler = {(item.start, item.end): item.kind for item in boilerplate}
    kinds = [boiler.get((unit.start, unit.end)) for unit in units]
    is_boiler = [(unit.start, unit.end) in boiler for unit in units]
    return _Page(
        lines=lines,
        kinds=kinds,
        is_boiler=is_boiler,
        text_indexes=[index for index in range(len(units)) if not is_boiler[index]],
        words=[content_words(line) if not is_boiler[index] else Counter() for index, line in enumerate(lines)],
        keys=[name_keys(line, unit.start, entities) if not is_boiler[index] else set() for index, (line, unit) in enumerate(zip(lines, units))],
        headline=[layout.is_headline(line) and not is_boiler[index] for index, line in enumerate(lines)],
        dateline=[layout.is_dateline(line) or bool(layout.dateline_prefix_end(line)) for line in lines],
        name_line=[layout.is_name_line(line) for line in lines],
        ends_open=[layout.ends_mid_sentence(line) for line in lines],
        prose=[layout.is_prose(line) for line in lines],
        table_row=[is_table_row(line) for line in lines],
        subheading=[is_subheading(line) for line in lines],
    )


def _cohesion(page: _Page) -> _Cohesion:
    words, text_indexes = page.words, page.text_indexes
    gap_scores = [cosine(_window(words, text_indexes, index, -WINDOW), _window(words, text_indexes, index, WINDOW)) for index in range(len(words))]
    depths = [0.0] + (_depths(gap_scores[1:]) if len(words) > 1 else [])
    mean = sum(depths[1:]) / max(1, len(depths) - 1)
    spread = math.sqrt(sum((depth - mean) ** 2 for depth in depths[1:]) / max(1, len(depths) - 1)) or 1.0
    return _Cohesion(gap_scores, depths, mean, spread, dp_segmentation(words))


def _unit_row(page: _Page, cohesion: _Cohesion, index: int, layout_page: bool) -> dict[str, float]:
    """The features of unit `index` (all but cut_page, which is the page's)."""
    lines, dateline, name_line, ends_open = page.lines, page.dateline, page.name_line, page.ends_open
    line = lines[index]
    previous = _previous_text(index, page.is_boiler)
    before_words = _window(page.words, page.text_indexes, index, -WINDOW)
    before_keys: set[str] = set()
    for other in _window_indexes(page.text_indexes, index, -WINDOW):
        before_keys |= page.keys[other]
    own_keys = page.keys[index]
    shared = len(own_keys & before_keys)
    new = len(own_keys - before_keys)
    starts_capital = line[:1].isupper() or line[:1].isdigit() or line[:1] in "\"'\u201c\u2018"
    cut_before = previous is not None and ends_open[previous] and len(lines[previous]) >= TRUNCATED_MIN_CHARS and starts_capital
    last = len(lines) - 1
    # A page may end just after a story's headline, with its dateline cut to the place.
    dateline_after = [dateline[other] or (other == last and layout.is_place_line(lines[other])) for other in (index + 1, index + 2) if other <= last]
    byline_here = name_line[index] and bool(dateline_after) and dateline_after[0]
    following = bool(dateline_after) and dateline_after[0] and not byline_here
    following_after_name = len(dateline_after) == 2 and name_line[index + 1] and dateline_after[1]
    depths = cohesion.depths
    row = {
        "bias": 1.0,
        "boilerplate": float(page.is_boiler[index]),
        "headline": float(page.headline[index]),
        "dateline": float(dateline[index]),
        "next_dateline": float(following or following_after_name),
        "prev_headline": float(index > 0 and page.headline[index - 1]),
        "prev_dateline": float(index > 0 and dateline[index - 1]),
        "prev_opening": float(index > 0 and page.kinds[index - 1] in ("byline", "dateline")),
        "prev_truncated": float(cut_before),
        "self_truncated": float(ends_open[index] and len(line) >= TRUNCATED_MIN_CHARS and starts_capital and previous is not None and not ends_open[previous]),
        "layout_page": float(layout_page),
        "prev_contact": float(index > 0 and lines[index - 1].lstrip().startswith("--")),
        "prose": float(page.prose[index]),
        "starts_lower": float(line[:1].islower()),
        "starts_quote": float(line[:1] in "\"'\u201c\u2018("),
        "has_names": float(bool(own_keys)),
        "names_shared": shared / len(own_keys) if own_keys else 0.0,
        "names_new": min(new, 5) / 5.0,
        "names_none_shared": float(len(own_keys) >= 2 and shared == 0),
        "cohesion_prev": cosine(page.words[index], before_words),
        "cohesion_gap": cohesion.gap_scores[index],
        "depth": depths[index],
        "depth_z": (depths[index] - cohesion.mean) / cohesion.spread,
        "depth_peak": float(_is_peak(depths, index)),
        "short": float(len(layout.words(line)) < 5),
        "first": float(index == 0),
        "dp_start": float(index in cohesion.segment_starts),
    }
    # The opening word of this unit and of the one before, as indicator features, so a
    # learner can pick up a corpus's own markers ("UPDATE:", "BRIEFLY"); HAND_WEIGHTS ignore them.
    if LAYOUT_ROW_FEATURES:
        row.update(_row_kind_features(page, index))
    row[f"opens={opening_word(line)}"] = 1.0
    row[f"prev_opens={opening_word(lines[index - 1]) if index else '<start>'}"] = 1.0
    return row


_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")


def is_table_row(line: str) -> bool:
    """A row of a results, prices or statistics table: two numbers or more, as many as half its words."""
    numbers = len(_NUMBER.findall(line))
    return numbers >= 2 and 2 * numbers >= len(layout.words(line))


def is_subheading(line: str) -> bool:
    """A heading inside a story: a few words in capitals ending in a dash or colon ("FIXTURES -",
    "REGION / AREA -", "RESULTS:"); a headline that opens a story goes on after its dash."""
    stripped = line.strip()
    line_words = layout.words(stripped)
    if not line_words or len(line_words) > 6 or _NUMBER.search(stripped):
        return False
    return layout.uppercase_ratio(stripped) >= 0.9 and stripped[-1] in "-:\u2013\u2014"


def opening_word(line: str) -> str:
    """The first word of a line in lower case, or its first character when it opens with a sign."""
    stripped = line.lstrip()
    match = _WORD.match(stripped)
    if match:
        return match.group().lower()[:24]
    return stripped[:1] or "<empty>"


def _row_kind_features(page: _Page, index: int) -> dict[str, float]:
    """Table rows and sub-headings here and in the unit before: a table or a heading inside a
    story continues it, a switch from a table to prose (or back) may start another."""
    table = page.table_row[index]
    before = index > 0 and page.table_row[index - 1]
    return {
        "table_row": float(table),
        "prev_table_row": float(before),
        "table_switch": float(table != before and index > 0),
        "subheading": float(page.subheading[index]),
        "prev_subheading": float(index > 0 and page.subheading[index - 1]),
    }


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
