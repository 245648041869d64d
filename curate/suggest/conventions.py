"""Span conventions: whether a leading determiner, a trailing possessive or a leading title
belongs inside an entity's span.

Models disagree with editors less about what is a name than about where it ends: spaCy's
OntoNotes model writes "the New York Times", "Putin’s" and "Farmer Liu Bingyong" while most
guidelines (OntoNotes' own, CoNLL's) keep "the", "’s" and the title outside. Each convention
is "inside" or "outside". A corpus states them in corpus.toml's `[conventions]`; a convention
not stated there is learned from the editors' gold and done records (the majority of the
entities where the question arises, once there are MIN_EVIDENCE of them), and without enough
evidence it is "outside". `apply_conventions` then moves every model's entity edges to match,
after whichever model proposed them.

Pure functions: text, entities and tokens in, entities out.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from curate.model import Entity
from curate.text import text_tokens

INSIDE, OUTSIDE = "inside", "outside"
CONVENTION_NAMES = ("determiner", "possessive", "title")
# A convention is learned once editors' records show at least this many entities where it applies.
MIN_EVIDENCE = 5

DETERMINERS = frozenset({"the"})
# Names whose "The" is part of the name wherever it stands, so a capitalised "The" before them
# stays even where a sentence opens ("The Hague said ..." is not "the Hague" with its "the").
NAMES_WITH_THE = frozenset({"hague", "gambia", "bahamas"})
POSSESSIVES = frozenset({"'s", "’s", "'S", "’S"})
# Titles and job words written before a person's name. The title convention applies to person
# labels only: "General Motors" and "President's Choice" are not a title and a name.
TITLE_WORDS = frozenset(
    """
    mr mrs ms miss mx dr prof professor sir dame lord lady madam madame monsieur herr frau senor
    señor signor
    president vice prime minister premier chancellor secretary senator sen rep representative
    congressman congresswoman assemblyman governor gov mayor councillor councilor councilman
    councilwoman alderman speaker ambassador envoy consul commissioner delegate deputy
    minister-president president-elect leader chairman chairwoman chairperson chair chief
    executive ceo cfo coo director manager boss founder owner spokesman spokeswoman
    spokesperson adviser advisor aide official
    king queen prince princess emperor empress crown duke duchess earl count countess baron
    baroness marquis sultan emir sheikh shah tsar czar
    pope cardinal archbishop bishop reverend rev father pastor rabbi imam ayatollah mullah
    lama monk nun brother sister
    general gen colonel col major maj captain capt lieutenant lt sergeant sgt corporal cpl
    private pte admiral commander cmdr marshal brigadier commodore officer constable sheriff
    inspector detective superintendent trooper agent
    judge justice magistrate attorney prosecutor lawyer barrister solicitor
    doctor nurse surgeon
    coach trainer striker midfielder defender goalkeeper keeper forward quarterback pitcher
    batsman bowler skipper jockey driver rider champion veteran
    farmer fisherman worker labourer laborer miner teacher student pupil principal dean
    economist analyst scientist researcher engineer architect author writer novelist poet
    journalist reporter correspondent editor columnist photographer actor actress singer
    rapper artist director producer comedian designer chef
    comrade citizen
    """.split()
)
PERSON_LABELS = frozenset({"PERSON", "PER", "PERS", "PEOPLE"})


@dataclass(frozen=True)
class Conventions:
    """Where each of the three words goes: INSIDE or OUTSIDE the span."""

    determiner: str = OUTSIDE
    possessive: str = OUTSIDE
    title: str = OUTSIDE


@dataclass(frozen=True)
class Evidence:
    """How many editors' entities put each word inside and outside their span."""

    inside: Counter[str]
    outside: Counter[str]

    def decided(self, name: str, min_evidence: int = MIN_EVIDENCE) -> str | None:
        """The majority for `name` once there is enough evidence (a tie is OUTSIDE), else None."""
        inside, outside = self.inside[name], self.outside[name]
        if inside + outside < min_evidence:
            return None
        return INSIDE if inside > outside else OUTSIDE

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {name: {INSIDE: self.inside[name], OUTSIDE: self.outside[name]} for name in CONVENTION_NAMES}


def is_person_label(label: str) -> bool:
    return label.upper() in PERSON_LABELS


def _word(text: str, token: tuple[int, int]) -> str:
    return text[token[0] : token[1]]


def _is_title(word: str) -> bool:
    return word.lower().rstrip(".") in TITLE_WORDS


def _joined(text: str, left: tuple[int, int], right: tuple[int, int]) -> bool:
    """True when two tokens are neighbours on one line with nothing but spaces or tabs between."""
    gap = text[left[1] : right[0]]
    return gap.strip(" \t") == ""


def _loose_determiner(text: str, tokens: Sequence[tuple[int, int]], index: int) -> bool:
    """True for a determiner the convention governs: "the", or "The" where a capital says nothing
    (opening the text, a line or a sentence). A capitalised "The" inside a sentence is part of
    the name ("The Hague", "The Economist") and stays."""
    word = _word(text, tokens[index])
    if word.lower() not in DETERMINERS:
        return False
    if word.islower():
        return True
    if index + 1 < len(tokens) and _word(text, tokens[index + 1]).lower() in NAMES_WITH_THE:
        return False
    if index == 0:
        return True
    before = text[tokens[index - 1][0] : tokens[index][0]]
    return "\n" in before or before.rstrip()[-1:] in ".!?:;\"“”'‘’(-—–"


def _token_range(tokens: Sequence[tuple[int, int]], starts: Sequence[int], entity: Entity) -> tuple[int, int] | None:
    """Indexes of the first and last token of `entity`, or None when its edges are not token edges."""
    first = bisect_left(starts, entity.start)
    if first >= len(tokens) or tokens[first][0] != entity.start:
        return None
    last = first
    while last + 1 < len(tokens) and tokens[last + 1][1] <= entity.end:
        last += 1
    if tokens[last][1] != entity.end:
        return None
    return first, last


def _title_run_end(text: str, tokens: Sequence[tuple[int, int]], first: int, last: int) -> int:
    """The index after the title words (and their abbreviation dots) that open tokens[first..last]."""
    index = first
    while index < last and _is_title(_word(text, tokens[index])):
        index += 1
        if index < last and _word(text, tokens[index]) == ".":
            index += 1
    return index


def apply_conventions(text: str, entities: Sequence[Entity], tokens: Sequence[tuple[int, int]], conventions: Conventions) -> list[Entity]:
    """The entities with their edges moved to follow `conventions` (sorted, not overlapping).

    Outside: a leading "the" (a capitalised "The" only where a sentence or line opens), a
    trailing "’s"/"'s" and, on person labels, leading title words
    followed by a capitalised name are cut off the span. Inside: an adjacent one on the same
    line is taken in, unless it belongs to a neighbouring entity. Edges that are not token
    edges are left as they are.
    """
    starts = [start for start, _ in tokens]
    ordered = sorted(entities, key=lambda entity: (entity.start, entity.end))
    spans: list[list] = []
    for entity in ordered:
        found = _token_range(tokens, starts, entity)
        if found is None:
            spans.append([entity.start, entity.end, entity.label, None, None])
            continue
        first, last = found
        if conventions.determiner == OUTSIDE and first < last and _loose_determiner(text, tokens, first):
            first += 1
        if conventions.possessive == OUTSIDE and first < last and _word(text, tokens[last]) in POSSESSIVES:
            last -= 1
        if conventions.title == OUTSIDE and is_person_label(entity.label):
            after = _title_run_end(text, tokens, first, last)
            name_left = any(not _is_title(_word(text, tokens[index])) and _word(text, tokens[index]) != "." for index in range(after, last + 1))
            if after > first and after <= last and _word(text, tokens[after])[:1].isupper() and name_left:
                first = after
        spans.append([tokens[first][0], tokens[last][1], entity.label, first, last])
    for index, span in enumerate(spans):
        first, last = span[3], span[4]
        if first is None:
            continue
        floor = spans[index - 1][1] if index > 0 else 0
        ceiling = spans[index + 1][0] if index + 1 < len(spans) else len(text)
        if conventions.title == INSIDE and is_person_label(span[2]):
            while first > 0 and tokens[first - 1][0] >= floor and _joined(text, tokens[first - 1], tokens[first]):
                word = _word(text, tokens[first - 1])
                if word == "." and first > 1 and _is_title(_word(text, tokens[first - 2])) and tokens[first - 2][0] >= floor:
                    first -= 2
                elif word[:1].isupper() and _is_title(word):
                    first -= 1
                else:
                    break
        if conventions.determiner == INSIDE and first > 0 and tokens[first - 1][0] >= floor and _joined(text, tokens[first - 1], tokens[first]):
            if _word(text, tokens[first - 1]).lower() in DETERMINERS:
                first -= 1
        if conventions.possessive == INSIDE and last + 1 < len(tokens) and tokens[last + 1][1] <= ceiling:
            if tokens[last + 1][0] == tokens[last][1] and _word(text, tokens[last + 1]) in POSSESSIVES:
                last += 1
        span[0], span[1] = tokens[first][0], tokens[last][1]
    result: list[Entity] = []
    for start, end, label, _, _ in spans:
        if result and start < result[-1].end:
            continue
        result.append(Entity(start=start, end=end, label=label))
    return result


def gather_evidence(examples: Iterable[tuple[str, Sequence[Entity], Sequence[tuple[int, int]]]]) -> Evidence:
    """Count, over editors' (text, entities, tokens), the entities that show each convention.

    Inside: an entity that opens with "the" (and goes on), ends with "’s", or (a person)
    opens with a capitalised title word before a capitalised name. Outside: an entity right
    after a "the" on its line, right before an attached "’s", or (a person) right after a
    capitalised title word on its line.
    """
    inside: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    for text, entities, tokens in examples:
        starts = [start for start, _ in tokens]
        for entity in entities:
            found = _token_range(tokens, starts, entity)
            if found is None:
                continue
            first, last = found
            words = [_word(text, tokens[index]) for index in range(first, last + 1)]
            before = _word(text, tokens[first - 1]) if first > 0 and _joined(text, tokens[first - 1], tokens[first]) else ""
            after = _word(text, tokens[last + 1]) if last + 1 < len(tokens) and tokens[last + 1][0] == tokens[last][1] else ""
            if len(words) > 1 and _loose_determiner(text, tokens, first):
                inside["determiner"] += 1
            elif before.lower() in DETERMINERS and words[0][:1].isupper():
                outside["determiner"] += 1
            if len(words) > 1 and words[-1] in POSSESSIVES:
                inside["possessive"] += 1
            elif after in POSSESSIVES:
                outside["possessive"] += 1
            if is_person_label(entity.label):
                opening = _title_run_end(text, tokens, first, last)
                if opening > first and opening <= last and words[0][:1].isupper() and _word(text, tokens[opening])[:1].isupper():
                    inside["title"] += 1
                elif before[:1].isupper() and _is_title(before):
                    outside["title"] += 1
    return Evidence(inside, outside)


def resolve(stated: Mapping[str, str | None] | None, evidence: Evidence | None, min_evidence: int = MIN_EVIDENCE) -> Conventions:
    """What corpus.toml states wins; then what the editors' records show; then OUTSIDE."""
    chosen = {}
    for name in CONVENTION_NAMES:
        value = (stated or {}).get(name)
        if value is None and evidence is not None:
            value = evidence.decided(name, min_evidence)
        chosen[name] = value or OUTSIDE
    return Conventions(**chosen)


def corpus_conventions(stated: object | None, examples: Iterable[tuple[str, Sequence[Entity]]]) -> Conventions:
    """The conventions of a corpus: corpus.toml's `[conventions]` (a SpanConventions or None)
    over what the editors' (text, entities) show."""
    evidence = gather_evidence((text, entities, text_tokens(text)) for text, entities in examples)
    return resolve(None if stated is None else {name: getattr(stated, name) for name in CONVENTION_NAMES}, evidence)
