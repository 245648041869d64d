"""Where the annotation screen's jump keys land: pure functions of a record and its TextModel.

Every function takes the cursor as a token index and answers a token index (or a run of
them), so the screen only moves its cursor. Nothing here imports Textual.

A machine suggestion is reviewed item by item. An *item* is one thing the suggestion claims:
an entity (its span and label), a story start (with its truncated flag; the first story only
when it is flagged truncated) or a boilerplate range (with its kind). An item is *still to
review* while the record holds it exactly as suggested and the editor has not accepted it;
changing it (relabel, re-span, remove, unmark, toggling the flag) settles it, and moving on
from it with the review jump accepts it. Acceptances live in the editing session: a snippet
reopened from the editor's own saved record has nothing left to review (everything in it was
saved by the editor).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from curate.editing import entity_index_at
from curate.model import Annotation
from curate.text import TextModel

# ---------------------------------------------------------------- entities


def entity_first_token(model: TextModel, start: int) -> int:
    """The token holding character `start` (the token at or before it)."""
    return model.token_at(start)


def entity_token(record: Annotation, model: TextModel, token: int, step: int) -> int | None:
    """First token of the next entity after the cursor token (step 1), or of the previous one
    (step -1: from inside an entity, its own first token); None when there is none."""
    if not model.tokens or not record.entities:
        return None
    firsts = sorted({entity_first_token(model, entity.start) for entity in record.entities})
    if step > 0:
        index = bisect_right(firsts, token)
        return firsts[index] if index < len(firsts) else None
    index = bisect_left(firsts, token) - 1
    return firsts[index] if index >= 0 else None


# ---------------------------------------------------------------- suggestions to review


@dataclass(frozen=True)
class SuggestedItem:
    """One claim of a suggestion; `key` identifies it in the record and in the accepted set."""

    kind: str  # "entity", "story" or "boilerplate"
    start: int
    end: int
    value: str  # the label, the kind, or "truncated"/"" for a story

    @property
    def key(self) -> tuple[str, int, int, str]:
        """A story is known by its start and flag only: its end moves when a later story start
        is added or removed, which is no change to this one."""
        return (self.kind, self.start, -1 if self.kind == "story" else self.end, self.value)

    def describe(self, text: str) -> str:
        if self.kind == "entity":
            return f"{self.value} {text[self.start : self.end]!r}"
        if self.kind == "boilerplate":
            return f"boilerplate {self.value}"
        return "story start" + (", truncated" if self.value else "") if self.start else "story truncated"


def record_items(record: Annotation) -> list[SuggestedItem]:
    """Every claim a record makes, in the terms of :class:`SuggestedItem`."""
    items = [SuggestedItem("entity", entity.start, entity.end, entity.label) for entity in record.entities]
    for index, story in enumerate(record.stories):
        if index > 0 or story.truncated:
            items.append(SuggestedItem("story", story.start, story.end, "truncated" if story.truncated else ""))
    items.extend(SuggestedItem("boilerplate", item.start, item.end, item.kind) for item in record.boilerplate)
    return items


# The last answer of items_to_review and _suggested_entities, with what it was asked of.
_last_review: tuple | None = None
_last_suggested: tuple | None = None


def items_to_review(suggestion: Annotation | None, record: Annotation, accepted: set) -> list[SuggestedItem]:
    """The suggestion's items the record still holds exactly and the editor has not accepted.

    Records are never changed in place (an edit makes a new one), so the answer is kept for
    the last (suggestion, record, accepted) asked: the status line and the keys of one key
    press ask again and again, and a long suggestion costs milliseconds to go through."""
    global _last_review
    if suggestion is None:
        return []
    last = _last_review
    if last is not None and last[0] is suggestion and last[1] is record and last[2] == accepted:
        return list(last[3])
    items = _review_items(suggestion, record, accepted)
    _last_review = (suggestion, record, frozenset(accepted), tuple(items))
    return items


def _review_items(suggestion: Annotation, record: Annotation, accepted: set) -> list[SuggestedItem]:
    held = {item.key for item in record_items(record)}
    return [item for item in record_items(suggestion) if item.key in held and item.key not in accepted]


def _suggested_entities(suggestion: Annotation) -> frozenset[tuple[int, int, str]]:
    """(start, end, label) of the suggestion's entities, kept for the last suggestion asked."""
    global _last_suggested
    last = _last_suggested
    if last is not None and last[0] is suggestion:
        return last[1]
    entities = frozenset((entity.start, entity.end, entity.label) for entity in suggestion.entities)
    _last_suggested = (suggestion, entities)
    return entities


def entity_to_review(suggestion: Annotation | None, record: Annotation, accepted: set, start: int, end: int, label: str) -> bool:
    """True when the record holds the entity (start, end, label) as the suggestion made it and
    the editor has not accepted it: what :func:`items_to_review` says of that one entity, in a
    lookup rather than a pass over both records."""
    if suggestion is None or ("entity", start, end, label) in accepted:
        return False
    if (start, end, label) not in _suggested_entities(suggestion):
        return False
    index = entity_index_at(record, start)
    if index is None:
        return False
    entity = record.entities[index]
    return (entity.start, entity.end, entity.label) == (start, end, label)


def item_token(model: TextModel, item: SuggestedItem) -> int:
    """The token the review jump puts the cursor on: the item's first token."""
    index = bisect_left(model.token_starts, item.start)
    if item.kind == "entity":
        index = model.token_at(item.start)
    return min(index, max(0, len(model.tokens) - 1))


def review_step(model: TextModel, items: list[SuggestedItem], token: int, step: int) -> tuple[list[SuggestedItem], int | None]:
    """(the items under the cursor token, which moving on accepts; the token of the next item to
    review after the cursor (step 1) or before it (step -1), None when there is none)."""
    here = [item for item in items if item_token(model, item) == token]
    tokens = sorted({item_token(model, item) for item in items} - {token})
    if step > 0:
        later = [candidate for candidate in tokens if candidate > token]
        return here, later[0] if later else None
    earlier = [candidate for candidate in tokens if candidate < token]
    return here, earlier[-1] if earlier else None


# ---------------------------------------------------------------- names without a label


def is_capitalised(token_text: str) -> bool:
    return bool(token_text) and token_text[0].isupper()


def _common_words(model: TextModel) -> set[str]:
    """Words the text also writes in lower case: a capitalised one at a sentence start is no name."""
    text = model.text
    return {text[start:end] for start, end in model.tokens if text[start].islower()}


def _name_like(model: TextModel, record: Annotation, token: int, common: set[str], sentence_starts: set[int], labelled: set[int] | None = None) -> bool:
    """`labelled`, when given, holds every token inside an entity (a lookup instead of a search)."""
    start, end = model.tokens[token]
    word = model.text[start:end]
    if not is_capitalised(word):
        return False
    if (token in labelled) if labelled is not None else (entity_index_at(record, start) is not None):
        return False
    return not (start in sentence_starts and word.lower() in common)


def _joined(model: TextModel, left: int, right: int) -> bool:
    """True when tokens `left` and `right` are one space apart on one line (one name run)."""
    tokens = model.tokens
    gap = model.text[tokens[left][1] : tokens[right][0]]
    return gap == " " and model.paragraph_at(tokens[left][0]) == model.paragraph_at(tokens[right][0])


def name_run(record: Annotation, model: TextModel, token: int, step: int) -> tuple[int, int] | None:
    """(first, last) token of the next run of capitalised tokens without a label after the
    cursor (step 1) or before it (step -1).

    A run is tokens next to each other on one line, a space apart, each starting with a
    capital; a sentence's first word is left out when the text also has it in lower case
    ("The", "He"). A run the cursor is in is skipped going forward, so the key walks on.
    """
    tokens = model.tokens
    if not tokens:
        return None
    common = _common_words(model)
    sentence_starts = set(model.sentence_starts)

    def name(index: int) -> bool:
        return _name_like(model, record, index, common, sentence_starts)

    def run_from(first: int) -> tuple[int, int]:
        last = first
        while last + 1 < len(tokens) and name(last + 1) and _joined(model, last, last + 1):
            last += 1
        return first, last

    if step > 0:
        index = token + 1
        # Out of the run the cursor is in (its end is not a new name).
        while index < len(tokens) and name(index) and name(index - 1) and _joined(model, index - 1, index):
            index += 1
        while index < len(tokens):
            if name(index):
                return run_from(index)
            index += 1
        return None
    index = token - 1
    while index >= 0:
        if name(index):
            while index > 0 and name(index - 1) and _joined(model, index - 1, index):
                index -= 1
            return run_from(index)
        index -= 1
    return None


# ---------------------------------------------------------------- search


@dataclass(frozen=True)
class Search:
    """What `/`, `\\`, `*` and `#` looked for, so `;` and `,` can look again."""

    query: str
    backward: bool = False
    whole_tokens: bool = False  # `*`/`#`: only matches on token edges, case as typed

    def reversed(self) -> "Search":
        return Search(self.query, not self.backward, self.whole_tokens)


def find_match(model: TextModel, search: Search, offset: int) -> tuple[tuple[int, int], bool] | None:
    """((start, end) of the next match after `offset` (before it, searching backward), wrapped):
    `wrapped` is True when the search went round the end (or the top) of the text to find it.
    Matching ignores case unless `whole_tokens`; offsets are those of the original text."""
    if not search.query:
        return None
    pattern = re.compile(re.escape(search.query), 0 if search.whole_tokens else re.IGNORECASE)
    edges = model.token_edges if search.whole_tokens else None
    matches = []
    position = 0
    while True:
        found = pattern.search(model.text, position)
        if found is None:
            break
        if edges is None or (found.start() in edges and found.end() in edges):
            matches.append(found.span())
        position = found.start() + 1
    if not matches:
        return None
    starts = [start for start, _ in matches]
    if search.backward:
        index = bisect_left(starts, offset) - 1
        return (matches[index], False) if index >= 0 else (matches[-1], True)
    index = bisect_right(starts, offset)
    return (matches[index], False) if index < len(matches) else (matches[0], True)


# ---------------------------------------------------------------- what most likely needs a fix

# Words that, leading or ending a span, are usually outside an entity (OntoNotes and CoNLL keep
# "the" and a trailing possessive out of the name; "A" leads too many initials to count).
_DETERMINERS = frozenset({"the"})
_POSSESSIVES = frozenset({"'s", "\u2019s", "'S", "\u2019S", "'", "\u2019"})


@dataclass(frozen=True)
class Check:
    """One place the check jump (`i`/`I`) stops at: tokens `first`..`last`, and why.

    `select` is True for a run of capitalised tokens without a label (the jump selects it, as
    `o` does, ready for a label key); an entity in doubt puts the cursor on its first token."""

    first: int
    last: int
    select: bool
    reason: str


def labelled_tokens(record: Annotation, model: TextModel) -> set[int]:
    """Every token inside an entity of the record."""
    starts = model.token_starts
    tokens: set[int] = set()
    for entity in record.entities:
        tokens.update(range(model.token_at(entity.start), bisect_left(starts, entity.end)))
    return tokens


@dataclass(frozen=True)
class _TextFacts:
    """What the check jump needs of a snippet's text alone, worked out once per TextModel."""

    capitalised: tuple[int, ...]  # tokens starting with a capital, in order
    common: frozenset[str]  # words the text writes in lower case
    common_lower: frozenset[str]  # the same, lower-cased
    openers: frozenset[int]  # each sentence's first word token
    written_mid: frozenset[str]  # capitalised words written other than as a sentence's first word


_last_facts: tuple | None = None


def _text_facts(model: TextModel) -> _TextFacts:
    global _last_facts
    if _last_facts is not None and _last_facts[0] is model:
        return _last_facts[1]
    text = model.text
    capitalised = tuple(index for index, (start, _) in enumerate(model.tokens) if text[start].isupper())
    common = frozenset(_common_words(model))
    openers = frozenset(_sentence_first_words(model))
    written_mid = frozenset(text[model.tokens[index][0] : model.tokens[index][1]] for index in capitalised if index not in openers)
    facts = _TextFacts(capitalised, common, frozenset(word.lower() for word in common), openers, written_mid)
    _last_facts = (model, facts)
    return facts


def name_runs(record: Annotation, model: TextModel, *, strict: bool = False) -> list[tuple[int, int]]:
    """Every run :func:`name_run` walks over, in text order, in one pass over the capitalised tokens.

    `strict` (the check jump's runs) also reads headlines and initials: an all-capitals word
    the text also writes in lower case ("TAKE", "OVER") is no name, and an initial and its
    full stop join the name after them ("P. Simmons"), as do an apostrophe between two
    capitalised parts ("O'Brien")."""
    tokens = model.tokens
    text = model.text
    facts = _text_facts(model)
    sentence_starts = set(model.sentence_starts)
    labelled = labelled_tokens(record, model)

    def name(index: int) -> bool:
        if not _name_like(model, record, index, facts.common, sentence_starts, labelled):
            return False
        if strict:
            word = text[tokens[index][0] : tokens[index][1]]
            return not (len(word) > 1 and word.isupper() and word.lower() in facts.common_lower)
        return True

    names = [index for index in facts.capitalised if name(index)]
    runs: list[tuple[int, int]] = []
    for index in names:
        if runs and runs[-1][1] == index - 1 and _joined(model, index - 1, index):
            runs[-1] = (runs[-1][0], index)
            continue
        if strict and runs and runs[-1][1] == index - 2 and _joins(model, index - 2, index - 1, index):
            runs[-1] = (runs[-1][0], index)
            continue
        runs.append((index, index))
    return runs


_APOSTROPHES = frozenset("'\u2019")


def _joins(model: TextModel, left: int, middle: int, right: int) -> bool:
    """True when the token between two names belongs to one name with them: the full stop
    after an initial ("P. Simmons") or an apostrophe inside a name ("O'Brien")."""
    tokens, text = model.tokens, model.text
    before = text[tokens[left][1] : tokens[middle][0]]
    after = text[tokens[middle][1] : tokens[right][0]]
    word, mark = text[tokens[left][0] : tokens[left][1]], text[tokens[middle][0] : tokens[middle][1]]
    if mark == "." and len(word) == 1 and before == "" and after == " ":
        return True
    return mark in _APOSTROPHES and before == "" and after == ""


def entity_doubt(record: Annotation, model: TextModel, index: int, common: set[str], labels_of: dict[str, set[str]]) -> str | None:
    """Why entity `index` of the record may be wrong, or None when nothing speaks against it:
    a leading determiner or a trailing possessive inside the span, a first letter in lower
    case, a one-word entity or a first or last word in capitals that the text also writes in
    lower case ("State" where "state" appears, "CRICKET - SRI LANKA"), or the same words
    labelled otherwise elsewhere in the snippet."""
    entity = record.entities[index]
    text = model.text
    words = [text[start:end] for start, end in model.tokens[model.token_at(entity.start) : model.token_at(max(entity.start, entity.end - 1)) + 1]]
    if not words:
        return None
    if len(words) > 1 and words[0].lower() in _DETERMINERS:
        return f"{words[0]!r} inside the span"
    if len(words) > 1 and words[-1] in _POSSESSIVES:
        return f"{words[-1]!r} inside the span"
    if not words[0][:1].isupper() and not words[0][:1].isdigit():
        return "starts in lower case"
    for word in {words[0], words[-1]}:
        # A one-word entity ("State" where "state" appears) or a headline's word in capitals
        # ("CRICKET - SRI LANKA"); a title-case word inside a longer name is usual ("New York").
        if word[:1].isupper() and word.lower() in common and (len(words) == 1 or (len(word) > 1 and word.isupper())):
            return f"{word!r} is also written in lower case"
    labels = labels_of.get(text[entity.start : entity.end], set())
    if len(labels) > 1:
        return f"also labelled {', '.join(sorted(labels - {entity.label}))}"
    return None


# Capitalised words that are no name under OntoNotes' or CoNLL's names (dates are not labels here).
_CALENDAR = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april june july "
    "august september october november december".split()
)


def _sentence_first_words(model: TextModel) -> set[int]:
    """The first word token of every sentence (after any opening quote or bracket)."""
    firsts = set()
    tokens, text = model.tokens, model.text
    for start in model.sentence_starts:
        index = bisect_left(model.token_starts, start)
        while index < len(tokens) and not text[tokens[index][0]].isalnum():
            index += 1
        firsts.add(index)
    return firsts


def _likely_name(model: TextModel, first: int, last: int, openers: frozenset[int], written_inside: set[str], labelled: set[int]) -> bool:
    """A run without a label worth a stop: not a weekday or month, not a title or modifier
    written just before an entity ("President" in "President Joe Biden"), and not a lone
    capitalised word opening a sentence unless the snippet also writes it capitalised
    elsewhere (`written_inside`: words seen mid-sentence or inside an entity)."""
    tokens, text = model.tokens, model.text
    words = [text[start:end] for start, end in tokens[first : last + 1]]
    if all(word.lower() in _CALENDAR for word in words):
        return False
    following = last + 1
    if following < len(tokens) and text[tokens[last][1] : tokens[following][0]] == " " and following in labelled:
        return False
    if first == last and first in openers:
        return words[0] in written_inside
    return True


def _written_inside(record: Annotation, model: TextModel, facts: _TextFacts) -> set[str]:
    """Capitalised words the snippet writes somewhere other than a sentence's first word, and
    every word inside an entity."""
    text = model.text
    words = set(facts.written_mid)
    for entity in record.entities:
        words.update(text[entity.start : entity.end].split())
    return words


# The last answer of check_places, with the record and model it was asked of.
_last_checks: tuple | None = None


def check_places(record: Annotation, model: TextModel) -> list[Check]:
    """Every place the check jump stops at, in text order: the runs of capitalised tokens
    without a label and the entities :func:`entity_doubt` has a reason against. Kept for the
    last (record, model) asked: records are never changed in place."""
    global _last_checks
    last = _last_checks
    if last is not None and last[0] is record and last[1] is model:
        return last[2]
    facts = _text_facts(model)
    labels_of: dict[str, set[str]] = {}
    for entity in record.entities:
        labels_of.setdefault(model.text[entity.start : entity.end], set()).add(entity.label)
    written_inside = _written_inside(record, model, facts)
    labelled = labelled_tokens(record, model)
    places = [
        Check(first, last_token, True, "no label")
        for first, last_token in name_runs(record, model, strict=True)
        if _likely_name(model, first, last_token, facts.openers, written_inside, labelled)
    ]
    for index, entity in enumerate(record.entities):
        reason = entity_doubt(record, model, index, facts.common_lower, labels_of)
        if reason is not None:
            first = model.token_at(entity.start)
            places.append(Check(first, model.token_at(max(entity.start, entity.end - 1)), False, reason))
    places.sort(key=lambda place: (place.first, place.last))
    _last_checks = (record, model, places)
    return places


def check_step(record: Annotation, model: TextModel, token: int, step: int) -> Check | None:
    """The next place to check after the cursor token (step 1), or the last one before it
    (step -1); None when there is none."""
    places = check_places(record, model)
    firsts = [place.first for place in places]
    if step > 0:
        index = bisect_right(firsts, token)
        return places[index] if index < len(places) else None
    index = bisect_left(firsts, token) - 1
    return places[index] if index >= 0 else None

