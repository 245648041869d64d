"""The learned entity tagger: IOB2 over curate tokens, and a CRF that learns the editors' conventions."""

from __future__ import annotations

import json
from pathlib import Path

from curate.ingest import ingest
from curate.model import Entity, annotation_problems
from curate.store import Corpus
from curate.suggest.gazetteer import Gazetteer
from curate.suggest.service import SuggestOptions, run_suggest
from curate.suggest.tagger import (
    TAGGER_MODEL,
    EntityTagger,
    document_features,
    first_stage_path,
    fit_tagger,
    folded_gazetteer,
    folded_tags,
    tags_to_entities,
    token_tags,
    word_labels,
)
from curate.text import TextModel

TRAIN_CITIES = ["Chicago", "Boston", "Denver", "Seattle", "Houston", "Dallas", "Phoenix", "Atlanta", "Miami", "Detroit", "Toronto", "Montreal"]
TEST_CITIES = ["Madrid", "Lisbon", "Vienna", "Prague", "Dublin", "Warsaw"]


def results_page(cities: list[str], shift: int) -> tuple[str, list[Entity]]:
    """Two results-table rows (teams named after cities: ORG) and a sentence naming two places (LOC)."""
    pick = [cities[(shift + step) % len(cities)] for step in range(6)]
    parts: list[tuple[str, str | None]] = [
        ("Results on Sunday.\n", None),
        (pick[0], "ORG"), (" 3 ", None), (pick[1], "ORG"), (" 1\n", None),
        (pick[2], "ORG"), (" 2 ", None), (pick[3], "ORG"), (" 2\n", None),
        ("Fans travelled from ", None), (pick[4], "LOC"), (" to watch the game in ", None), (pick[5], "LOC"), (".\n", None),
    ]
    text, entities = "", []
    for piece, label in parts:
        if label is not None:
            entities.append(Entity(start=len(text), end=len(text) + len(piece), label=label))
        text += piece
    return text, entities


def as_places(entities: list[Entity]) -> list[tuple[int, int, str]]:
    """What a pretrained model says of these names: every one a place."""
    return [(entity.start, entity.end, "GPE") for entity in entities]


def test_tags_round_trip_and_a_stray_inside_tag_opens_a_span() -> None:
    text = "Mara Quill of Harbour Works spoke.\n"
    model = TextModel(text)
    spans = [(0, 10, "PER"), (14, 27, "ORG")]
    tags = token_tags(model, spans)
    assert tags == ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "O", "O"]
    assert [(entity.start, entity.end, entity.label) for entity in tags_to_entities(model, tags)] == spans
    stray = ["I-PER", "I-ORG", "O", "I-ORG", "B-ORG", "O", "O"]
    assert [(text[entity.start : entity.end], entity.label) for entity in tags_to_entities(model, stray)] == [("Mara", "PER"), ("Quill", "ORG"), ("Harbour", "ORG"), ("Works", "ORG")]


def test_a_span_across_a_line_break_is_not_proposed() -> None:
    model = TextModel("Wexbridge\nHarbour reopened.\n")
    assert tags_to_entities(model, ["B-LOC", "I-LOC", "O", "O"]) == []


def test_crf_learns_that_cities_in_results_rows_are_teams(tmp_path: Path) -> None:
    pages = [results_page(TRAIN_CITIES, shift) for shift in range(12)]
    path = tmp_path / TAGGER_MODEL
    fit_tagger(pages, [as_places(entities) for _, entities in pages], path)
    # Unseen names, so neither the gazetteer nor the editors' word list can answer: only the line's shape can.
    tagger = EntityTagger(path, Gazetteer(), {}, ["PER", "ORG", "LOC", "MISC"])
    tests = [results_page(TEST_CITIES, shift) for shift in range(3)]
    found = tagger.tag([TextModel(text) for text, _ in tests], [as_places(entities) for _, entities in tests])
    for (text, expected), proposed in zip(tests, found):
        assert [(entity.start, entity.end, entity.label) for entity in proposed] == [(entity.start, entity.end, entity.label) for entity in expected]
    # the pretrained model's tags alone would have called every one of them a place
    assert {entity.label for _, entities in tests for entity in entities} == {"ORG", "LOC"}


FIRST_NAMES = ["Mara", "Tobin", "Elsa", "Ivo", "Greta", "Anton", "Lena", "Oskar", "Nina", "Pavel", "Rhea", "Milo", "Sven", "Ada"]
SURNAMES = ["Quill", "Varga", "Brask", "Holm", "Dunmore", "Kessel", "Arlow", "Fenwick", "Orrin", "Tamsin", "Wexley", "Corbel", "Lindqvist", "Marrow"]
FIRMS = ["Halvern", "Ostrava", "Belmonte", "Corvin", "Drayfield", "Emsworth", "Farrow", "Glenmore", "Hartwell", "Ingram", "Jessop", "Kilbride", "Lanford", "Mortlake"]


def person_page(number: int) -> tuple[str, list[Entity], list[tuple[int, int, str]]]:
    """A person named in full, then by surname alone beside a firm; with what a pretrained model says.

    The model (simulated) knows the full name is a person but calls both lone words companies:
    only the full name above tells the surname apart from the firm.
    """
    first, last, firm = FIRST_NAMES[number % len(FIRST_NAMES)], SURNAMES[number % len(SURNAMES)], FIRMS[number % len(FIRMS)]
    parts: list[tuple[str, str | None, str | None]] = [
        ("Talks opened on Monday.\n", None, None),
        (f"{first} {last}", "PER", "PERSON"), (" met the board.\n", None, None),
    ]
    lone = [(last, "PER", "ORG"), (firm, "ORG", "ORG")]
    if number % 2:
        lone.reverse()  # either may come first, so the sentence's words cannot tell them apart
    parts += [("Later ", None, None), lone[0], (" and ", None, None), lone[1], (" spoke.\n", None, None)]
    text, entities, model = "", [], []
    for piece, label, model_label in parts:
        if label is not None:
            entities.append(Entity(start=len(text), end=len(text) + len(piece), label=label))
        if model_label is not None:
            model.append((len(text), len(text) + len(piece), model_label))
        text += piece
    return text, entities, model


def test_document_features_carry_the_first_stage_labels_of_the_same_name_elsewhere() -> None:
    text = "Mara Quill met the board.\nLater Quill spoke for Halvern.\nHalvern agreed.\n"
    model = TextModel(text)
    words = [text[start:end] for start, end in model.tokens]
    first_tags = token_tags(model, [(0, 10, "PER"), (text.index("Halvern."), text.index("Halvern.") + 7, "ORG")])
    features = document_features(model, first_tags)
    lone = words.index("Quill", 2)
    assert features[lone]["doc_part=PER"] == 1.0  # part of the person named in full above
    assert features[lone]["s1=O"] == 1.0
    last_firm = len(words) - 1 - words[::-1].index("Halvern")
    assert features[last_firm]["doc_name=B-ORG"] == 1.0  # the other occurrence was tagged ORG
    first_firm = words.index("Halvern")
    assert "doc_name=B-ORG" not in features[first_firm]  # its own tag does not count as elsewhere
    assert features[first_firm]["doc_word=O"] == 1.0


def test_the_tagger_labels_a_lone_surname_as_the_person_named_in_full_above(tmp_path: Path) -> None:
    pages = [person_page(number) for number in range(10)]
    path = tmp_path / TAGGER_MODEL
    fit_tagger([(text, entities) for text, entities, _ in pages], [model for _, _, model in pages], path)
    assert path.exists() and first_stage_path(path).exists()
    tagger = EntityTagger(path, Gazetteer(), {}, ["PER", "ORG", "LOC", "MISC"])
    tests = [person_page(number) for number in range(10, 14)]  # names never seen in training
    found = tagger.tag([TextModel(text) for text, _, _ in tests], [model for _, _, model in tests])
    for (text, expected, _), proposed in zip(tests, found):
        assert [(entity.start, entity.end, entity.label) for entity in proposed] == [(entity.start, entity.end, entity.label) for entity in expected]
    # the model alone (and the word's own features) would say ORG for the lone surname
    assert all(label == "ORG" for text, _, model in tests for start, end, label in model if " " not in text[start:end])


def test_folded_gazetteer_finds_a_name_written_in_capitals() -> None:
    gazetteer = Gazetteer({("National", "League"): "MISC", ("Chicago",): "LOC"})
    text = "NATIONAL LEAGUE\nCHICAGO 71 64\nnational\nleague\n"
    model = TextModel(text)
    tags = folded_tags(folded_gazetteer(gazetteer), model)
    assert tags[:3] == ["B-MISC", "I-MISC", "B-LOC"]
    assert tags[-2:] == ["O", "O"]  # a match does not run across lines
    assert gazetteer.matches(model) == []  # the exact-case gazetteer finds none of them


def test_word_labels_keep_every_frequent_label_most_frequent_first() -> None:
    examples = [("Kent beat Essex.\n", [Entity(start=0, end=4, label="ORG"), Entity(start=10, end=15, label="ORG")]), ("Kent is wet.\n", [Entity(start=0, end=4, label="LOC")]), ("Kent won.\n", [Entity(start=0, end=4, label="ORG")])]
    labels = word_labels(examples)
    assert labels["kent"] == "ORG,LOC" and labels["essex"] == "ORG"
    assert "is" not in labels and "beat" not in labels  # only capitalised words


def test_learn_fits_the_tagger_and_suggest_uses_it(tmp_path: Path) -> None:
    pages = [results_page(TRAIN_CITIES, shift) for shift in range(8)] + [results_page(TEST_CITIES, shift) for shift in range(2)]
    source = tmp_path / "source.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for number, (text, _) in enumerate(pages):
            handle.write(json.dumps({"id": f"s{number:03d}", "text": text}) + "\n")
    directory = tmp_path / "corpus"
    ingest([source], directory, labels=["PER", "ORG", "LOC", "MISC"])
    (directory / "annotations").mkdir()
    with (directory / "annotations" / "ed.jsonl").open("w") as handle:
        for number, (text, entities) in enumerate(pages[:8]):
            record = {"snippet_id": f"s{number:03d}", "annotator": "ed", "status": "done", "stories": [{"start": 0, "end": len(text), "truncated": False}], "entities": [entity.model_dump() for entity in entities]}
            handle.write(json.dumps(record) + "\n")
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions(learn=True))
    assert report.annotator.startswith("model:corpus-crf@")
    assert report.learned["entities"]["examples"] == 8 and report.learned["entities"]["model"] == "en_core_web_sm"
    assert (directory / "models" / TAGGER_MODEL).exists()
    with Corpus.open(directory) as corpus, corpus.suggestions() as journal:
        records = {record.snippet_id: record for record in journal.records()}
        config = corpus.config
    for number in (8, 9):
        text, expected = pages[number]
        record = records[f"s{number:03d}"]
        assert annotation_problems(record, text, config, TextModel(text).token_edges) == []
        proposed = {(text[entity.start : entity.end], entity.label) for entity in record.entities}
        assert {(text[entity.start : entity.end], "ORG") for entity in expected if entity.label == "ORG"} <= proposed
    with Corpus.open(directory) as corpus:
        again = run_suggest(corpus, SuggestOptions())
    assert again.annotator == report.annotator and again.written == 0 and again.skipped == len(pages)


def test_cli_refuses_an_unknown_entity_learner(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    text, _ = results_page(TRAIN_CITIES, 0)
    source = tmp_path / "source.jsonl"
    source.write_text(json.dumps({"id": "s000", "text": text}) + "\n")
    ingest([source], tmp_path / "corpus")
    result = CliRunner().invoke(app, ["suggest", str(tmp_path / "corpus"), "--entities", "none", "--entity-learner", "guess"])
    assert result.exit_code != 0 and "--entity-learner" in result.output
    assert not (tmp_path / "corpus" / "suggestions.jsonl").exists()
