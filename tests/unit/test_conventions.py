"""Span conventions (curate.suggest.conventions): each convention in and out, learned by
majority from editors' records, stated in corpus.toml, and applied by `curate suggest`."""

from __future__ import annotations

import json

import pytest

from curate.model import CorpusConfig, Entity, SpanConventions
from curate.suggest.conventions import (
    INSIDE,
    MIN_EVIDENCE,
    OUTSIDE,
    Conventions,
    apply_conventions,
    corpus_conventions,
    gather_evidence,
    resolve,
)
from curate.text import TextModel


def spans_of(text: str, entities: list[Entity]) -> list[tuple[str, str]]:
    return [(text[entity.start : entity.end], entity.label) for entity in entities]


def entity(text: str, words: str, label: str, nth: int = 0) -> Entity:
    start = -1
    for _ in range(nth + 1):
        start = text.index(words, start + 1)
    return Entity(start=start, end=start + len(words), label=label)


def applied(text: str, entities: list[Entity], **conventions: str) -> list[tuple[str, str]]:
    return spans_of(text, apply_conventions(text, entities, TextModel(text).tokens, Conventions(**conventions)))


TEXT = "Pelosi told the New York Times that Putin’s visit and Russia's war worried Farmer Liu Bingyong and President Joe Biden."


def test_outside_cuts_determiner_possessive_and_title() -> None:
    found = [
        entity(TEXT, "the New York Times", "ORG"),
        entity(TEXT, "Putin’s", "PERSON"),
        entity(TEXT, "Russia's", "GPE"),
        entity(TEXT, "Farmer Liu Bingyong", "PERSON"),
        entity(TEXT, "President Joe Biden", "PERSON"),
    ]
    assert applied(TEXT, found) == [("New York Times", "ORG"), ("Putin", "PERSON"), ("Russia", "GPE"), ("Liu Bingyong", "PERSON"), ("Joe Biden", "PERSON")]


def test_inside_takes_in_the_adjacent_words() -> None:
    found = [
        entity(TEXT, "New York Times", "ORG"),
        entity(TEXT, "Putin", "PERSON"),
        entity(TEXT, "Russia", "GPE"),
        entity(TEXT, "Liu Bingyong", "PERSON"),
        entity(TEXT, "Joe Biden", "PERSON"),
    ]
    result = applied(TEXT, found, determiner=INSIDE, possessive=INSIDE, title=INSIDE)
    assert result == [("the New York Times", "ORG"), ("Putin’s", "PERSON"), ("Russia's", "GPE"), ("Farmer Liu Bingyong", "PERSON"), ("President Joe Biden", "PERSON")]


def test_each_convention_on_its_own() -> None:
    found = [entity(TEXT, "the New York Times", "ORG"), entity(TEXT, "Putin’s", "PERSON"), entity(TEXT, "Farmer Liu Bingyong", "PERSON")]
    assert applied(TEXT, found, determiner=OUTSIDE, possessive=INSIDE, title=INSIDE) == [("New York Times", "ORG"), ("Putin’s", "PERSON"), ("Farmer Liu Bingyong", "PERSON")]
    assert applied(TEXT, found, determiner=INSIDE, possessive=OUTSIDE, title=INSIDE) == [("the New York Times", "ORG"), ("Putin", "PERSON"), ("Farmer Liu Bingyong", "PERSON")]
    assert applied(TEXT, found, determiner=INSIDE, possessive=INSIDE, title=OUTSIDE) == [("the New York Times", "ORG"), ("Putin’s", "PERSON"), ("Liu Bingyong", "PERSON")]


def test_titles_only_on_person_labels_and_never_the_whole_span() -> None:
    text = "General Motors hired Minister Smith; the President spoke."
    found = [entity(text, "General Motors", "ORG"), entity(text, "Minister Smith", "PER"), entity(text, "the President", "PERSON")]
    # ORG keeps "General"; PER is a person label; a span that is all title keeps its last word
    assert applied(text, found) == [("General Motors", "ORG"), ("Smith", "PER"), ("President", "PERSON")]


def test_multiword_and_abbreviated_titles() -> None:
    text = "Israeli Prime Minister Benjamin Netanyahu met Dr. Jane Roe."
    found = [entity(text, "Israeli", "NORP"), entity(text, "Prime Minister Benjamin Netanyahu", "PERSON"), entity(text, "Dr. Jane Roe", "PERSON")]
    assert applied(text, found) == [("Israeli", "NORP"), ("Benjamin Netanyahu", "PERSON"), ("Jane Roe", "PERSON")]
    bare = [entity(text, "Israeli", "NORP"), entity(text, "Benjamin Netanyahu", "PERSON"), entity(text, "Jane Roe", "PERSON")]
    # inside: the title words are taken in, but never a neighbouring entity ("Israeli")
    assert applied(text, bare, title=INSIDE) == [("Israeli", "NORP"), ("Prime Minister Benjamin Netanyahu", "PERSON"), ("Dr. Jane Roe", "PERSON")]


def test_inside_never_crosses_a_line_or_a_neighbour() -> None:
    text = "We saw the\nTimes; Acme Corp's the Times"
    found = [entity(text, "Times", "ORG"), entity(text, "Acme Corp", "ORG"), entity(text, "'s the Times", "ORG")]
    result = applied(text, found, determiner=INSIDE, possessive=INSIDE)
    assert result == [("Times", "ORG"), ("Acme Corp", "ORG"), ("'s the Times", "ORG")]


def test_unaligned_edges_and_lone_words_are_left_alone() -> None:
    text = "the Times reported"
    found = [Entity(start=1, end=9, label="ORG")]
    assert applied(text, found) == [("he Times", "ORG")]
    assert applied("The said", [Entity(start=0, end=3, label="ORG")]) == [("The", "ORG")]


def editors(count_inside: int, count_outside: int) -> list[tuple[str, list[Entity]]]:
    """Records where `count_inside` entities hold "the" and "’s" and a title, the others not."""
    examples = []
    for index in range(count_inside):
        text = f"He read the Daily Post {index} and Putin’s note; President Ann Lee came."
        examples.append((text, [entity(text, "the Daily Post", "ORG"), entity(text, "Putin’s", "PERSON"), entity(text, "President Ann Lee", "PERSON")]))
    for index in range(count_outside):
        text = f"He read the Daily Post {index} and Putin’s note; President Ann Lee came."
        examples.append((text, [entity(text, "Daily Post", "ORG"), entity(text, "Putin", "PERSON"), entity(text, "Ann Lee", "PERSON")]))
    return examples


def test_evidence_counts_each_side() -> None:
    evidence = gather_evidence((text, entities, TextModel(text).tokens) for text, entities in editors(2, 3))
    assert evidence.as_dict() == {name: {INSIDE: 2, OUTSIDE: 3} for name in ("determiner", "possessive", "title")}


def test_majority_decides_once_there_is_enough_evidence() -> None:
    assert corpus_conventions(None, editors(4, 2)) == Conventions(INSIDE, INSIDE, INSIDE)
    assert corpus_conventions(None, editors(2, 4)) == Conventions(OUTSIDE, OUTSIDE, OUTSIDE)
    assert corpus_conventions(None, editors(3, 3)) == Conventions(OUTSIDE, OUTSIDE, OUTSIDE)  # a tie: the default
    # too little evidence: the default, however one-sided
    assert corpus_conventions(None, editors(MIN_EVIDENCE - 1, 0)) == Conventions(OUTSIDE, OUTSIDE, OUTSIDE)
    assert corpus_conventions(None, editors(MIN_EVIDENCE, 0)) == Conventions(INSIDE, INSIDE, INSIDE)


def test_corpus_toml_overrides_what_is_learned() -> None:
    stated = SpanConventions(determiner="outside", title="inside")
    assert corpus_conventions(stated, editors(6, 0)) == Conventions(determiner=OUTSIDE, possessive=INSIDE, title=INSIDE)
    assert resolve({"possessive": "inside"}, None) == Conventions(possessive=INSIDE)
    assert resolve(None, None) == Conventions(OUTSIDE, OUTSIDE, OUTSIDE)


def test_corpus_toml_conventions_are_read_and_checked(tmp_path) -> None:
    from curate.store import StoreError, read_config

    (tmp_path / "corpus.toml").write_text('name = "x"\n\n[conventions]\ndeterminer = "inside"\n', encoding="utf-8")
    assert read_config(tmp_path).conventions == SpanConventions(determiner="inside")
    (tmp_path / "corpus.toml").write_text('name = "x"\n\n[conventions]\npossessive = "within"\n', encoding="utf-8")
    with pytest.raises(StoreError, match=r"corpus\.toml:4: conventions\.possessive"):
        read_config(tmp_path)
    assert "conventions" not in CorpusConfig(name="x").model_dump(exclude_none=True)


def test_suggester_applies_its_conventions_to_any_entities() -> None:
    """The suggester moves the edges of whatever found the entities (here the gazetteer alone)."""
    from curate.suggest.service import Suggester, SuggesterSpec

    def suggested(conventions: Conventions) -> list[tuple[str, str]]:
        spec = SuggesterSpec(None, {}, {("the", "Acme", "Group"): "ORG"}, None, [], "model:test", False, conventions=conventions)
        record = Suggester(spec).suggest([("b", "Later the Acme Group fell.")])[0]
        return spans_of("Later the Acme Group fell.", record.entities)

    assert suggested(Conventions()) == [("Acme Group", "ORG")]
    assert suggested(Conventions(determiner=INSIDE)) == [("the Acme Group", "ORG")]


def test_suggest_takes_the_conventions_from_corpus_toml_and_the_records(tmp_path) -> None:
    from curate.ingest import ingest
    from curate.store import Corpus
    from curate.suggest import learn
    from curate.suggest.service import SuggestOptions, _suggester_spec

    examples = editors(MIN_EVIDENCE, 0)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"s{index}", "text": text}) + "\n" for index, (text, _) in enumerate(examples)))
    ingest([source], tmp_path / "c", labels=["ORG", "PERSON"])
    journal = tmp_path / "c" / "annotations" / "ed.jsonl"
    journal.parent.mkdir(exist_ok=True)
    rows = [
        {"snippet_id": f"s{index}", "annotator": "ed", "stories": [{"start": 0, "end": len(text), "truncated": False}], "entities": [item.model_dump() for item in entities], "status": "done"}
        for index, (text, entities) in enumerate(examples)
    ]
    journal.write_text("".join(json.dumps(row) + "\n" for row in rows))

    def spec_conventions() -> tuple[Conventions, str]:
        with Corpus.open(tmp_path / "c") as corpus:
            found = learn.annotated_examples(corpus)
            spec = _suggester_spec(corpus, SuggestOptions(entities="none"), {}, found, learn.EntityModel(None, None, "none", "0"), tmp_path / "models")
        return spec.conventions, spec.annotator

    learned, first_name = spec_conventions()
    assert learned == Conventions(INSIDE, INSIDE, INSIDE)  # the editors' records, all inside
    config = (tmp_path / "c" / "corpus.toml").read_text()
    (tmp_path / "c" / "corpus.toml").write_text(config + '\n[conventions]\ndeterminer = "outside"\n')
    stated, second_name = spec_conventions()
    assert stated == Conventions(OUTSIDE, INSIDE, INSIDE)
    assert first_name != second_name  # other conventions: the suggestions are made again


def test_a_capitalised_the_inside_a_sentence_belongs_to_the_name() -> None:
    text = "Talks at The Hague.\nThe Times said so. The Economist agreed; he read The Economist."
    found = [entity(text, "The Hague", "GPE"), entity(text, "The Times", "ORG"), entity(text, "The Economist", "ORG"), entity(text, "The Economist", "ORG", nth=1)]
    assert applied(text, found) == [("The Hague", "GPE"), ("Times", "ORG"), ("Economist", "ORG"), ("The Economist", "ORG")]
    # nor is it evidence that editors put determiners inside spans
    evidence = gather_evidence([(text, [found[0], found[3]], TextModel(text).tokens)])
    assert evidence.inside["determiner"] == 0


def test_the_hague_keeps_its_the_where_a_sentence_or_the_text_opens() -> None:
    text = "The Hague said no. Talks moved. The Hague agreed; The Gambia too.\nThe Bahamas voted."
    found = [entity(text, "The Hague", "GPE"), entity(text, "The Hague", "GPE", nth=1), entity(text, "The Gambia", "GPE"), entity(text, "The Bahamas", "GPE")]
    assert applied(text, found) == [("The Hague", "GPE"), ("The Hague", "GPE"), ("The Gambia", "GPE"), ("The Bahamas", "GPE")]
    # a lower-case "the" before such a name is still the convention's to move
    text = "Judges in the Hague ruled."
    assert applied(text, [entity(text, "the Hague", "GPE")]) == [("Hague", "GPE")]
    # and a sentence-opening "The Hague" is no evidence that editors put determiners inside
    evidence = gather_evidence([(text := "The Hague ruled.", [entity(text, "The Hague", "GPE")], TextModel(text).tokens)])
    assert evidence.inside["determiner"] == 0


def test_a_span_of_titles_alone_is_not_cut_to_its_last_title() -> None:
    # a person span made only of titles names nobody once cut; left whole, the editor sees it
    text = "The Prime Minister spoke. President Mr. Ok."
    found = [entity(text, "Prime Minister", "PERSON"), entity(text, "President Mr.", "PERSON")]
    assert applied(text, found) == [("Prime Minister", "PERSON"), ("President Mr.", "PERSON")]
    text = "Prime Minister Mr. Smith"
    assert applied(text, [entity(text, text, "PERSON")]) == [("Smith", "PERSON")]
