"""The learned entity tagger: IOB2 over curate tokens, and a CRF that learns the editors' conventions."""

from __future__ import annotations

import json
from pathlib import Path

from curate.ingest import ingest
from curate.model import Entity, annotation_problems
from curate.store import Corpus
from curate.suggest import learn
from curate.suggest.gazetteer import Gazetteer
from curate.suggest.service import SuggestOptions, run_suggest
from curate.suggest.tagger import TAGGER_MODEL, EntityTagger, fit_tagger, tags_to_entities, token_tags
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
    assert (directory / learn.MODELS_DIR / TAGGER_MODEL).exists()
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
