"""`curate suggest` over a corpus folder: records, resuming, fallback, learning, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from suggest_corpora import PAGE, make_corpus, marker_page, suggestions
from typer.testing import CliRunner

from curate.cli import app
from curate.model import annotation_problems
from curate.store import Corpus
from curate.suggest import entities as entities_module
from curate.suggest import learn
from curate.suggest.entities import ModelNotInstalled
from curate.suggest.service import SuggestError, SuggestOptions, run_suggest
from curate.text import TextModel


def test_suggestions_are_valid_records_and_a_second_run_skips_them(tmp_path: Path) -> None:
    directory = make_corpus(tmp_path, [PAGE, "A short note about the weather in Oslo.\n"])
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions())
        assert report.written == 2 and report.skipped == 0
        assert report.annotator.startswith("model:en_core_web_sm@3.8.0-")
        again = run_suggest(corpus, SuggestOptions())
        assert again.written == 0 and again.skipped == 2 and again.annotator == report.annotator
        config = corpus.config
    records = suggestions(directory)
    assert len(records) == 2
    first = records[0]
    assert first["annotator"] == report.annotator and first["status"] is None
    assert [PAGE[start : start + 9] for start in (story["start"] for story in first["stories"][1:])] == ["Shoppers ", "A rare wh"]
    assert [story["truncated"] for story in first["stories"]] == [False, True, False]
    assert [(PAGE[item["start"] : item["end"]], item["kind"]) for item in first["boilerplate"]] == [("Photo: Port Authority", "credit")]
    labelled = {(PAGE[item["start"] : item["end"]], item["label"]) for item in first["entities"]}
    assert ("Rotterdam", "GPE") in labelled
    from curate.model import Annotation

    record = Annotation.model_validate(first)
    assert annotation_problems(record, PAGE, config, TextModel(PAGE).token_edges) == []


def test_changed_options_suggest_again_under_another_name(tmp_path: Path) -> None:
    directory = make_corpus(tmp_path, [PAGE])
    with Corpus.open(directory) as corpus:
        first = run_suggest(corpus, SuggestOptions(entities="none"))
        second = run_suggest(corpus, SuggestOptions(entities="none", boundaries="none"))
    assert first.annotator != second.annotator and second.written == 1
    latest = suggestions(directory)[-1]
    assert len(latest["stories"]) == 1 and latest["entities"] == []


def test_without_a_model_the_gazetteer_and_place_list_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str):
        raise ModelNotInstalled(f"NER model {name!r} is not installed")

    monkeypatch.setattr(entities_module, "locate_model", not_installed)
    directory = make_corpus(tmp_path, [PAGE, "Wexbridge Rovers beat a team from Lindau.\n"], labels=["PER", "ORG", "LOC", "MISC"])
    annotations = directory / "annotations"
    annotations.mkdir()
    text = "Wexbridge Rovers beat a team from Lindau.\n"
    done = {
        "snippet_id": "s001", "annotator": "ed", "status": "done",
        "stories": [{"start": 0, "end": len(text), "truncated": False}],
        "entities": [{"start": 0, "end": 16, "label": "ORG"}],
    }
    (annotations / "ed.jsonl").write_text(json.dumps(done) + "\n")
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions())
    assert report.annotator.startswith("model:gazetteer@")
    assert any("country/capital list" in message for message in report.messages)
    record = suggestions(directory)[0]
    labelled = {(PAGE[item["start"] : item["end"]], item["label"]) for item in record["entities"]}
    assert ("Germany", "LOC") in labelled and ("Rotterdam", "LOC") not in labelled
    with Corpus.open(directory) as corpus:
        with pytest.raises(SuggestError, match="not installed"):
            run_suggest(corpus, SuggestOptions(entities="some_other_model", redo=True))


def test_several_processes_give_the_same_suggestions(tmp_path: Path) -> None:
    texts = [PAGE.replace("Wexbridge", name) for name in ("Aberholt", "Bryn", "Cowley", "Dunmore", "Elstow", "Farley")]
    directory = make_corpus(tmp_path, texts)
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, SuggestOptions(entities="none", batch_size=2, n_process=2))
    parallel = {record["snippet_id"]: record["stories"] for record in suggestions(directory)}
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, SuggestOptions(entities="none", batch_size=2, redo=True))
    single = {record["snippet_id"]: record["stories"] for record in suggestions(directory)[len(texts) :]}
    assert parallel == single and len(parallel) == len(texts)


def test_learning_picks_up_an_unusual_cue_from_done_annotations(tmp_path: Path) -> None:
    pages = [marker_page(number) for number in range(30)]
    directory = make_corpus(tmp_path, [text for text, _ in pages])
    annotations = directory / "annotations"
    annotations.mkdir()
    with (annotations / "ed.jsonl").open("w") as handle:
        for number, (text, starts) in enumerate(pages[:24]):
            cuts = [0, *starts, len(text)]
            record = {"snippet_id": f"s{number:03d}", "annotator": "ed", "status": "done", "stories": [{"start": a, "end": b, "truncated": False} for a, b in zip(cuts, cuts[1:])]}
            handle.write(json.dumps(record) + "\n")
    held_out = {f"s{number:03d}": starts for number, (_, starts) in enumerate(pages) if number >= 24}

    def found(records: list[dict]) -> float:
        hits = total = 0
        for record in records:
            if record["snippet_id"] in held_out:
                starts = [story["start"] for story in record["stories"][1:]]
                hits += len(set(starts) & set(held_out[record["snippet_id"]]))
                total += len(held_out[record["snippet_id"]])
        return hits / total

    with Corpus.open(directory) as corpus:
        before = run_suggest(corpus, SuggestOptions(entities="none", boundaries="auto", learn=False))
    # 24 done snippets pass AUTO_LEARN_MIN, so the plain run above already learned.
    assert learn.AUTO_LEARN_MIN <= 24 and "story_starts" in before.learned
    assert (directory / "models" / learn.STORY_MODEL).exists()
    assert found(suggestions(directory)) >= 0.9
    meta = json.loads((directory / "models" / learn.META_NAME).read_text())
    assert meta["story_starts"]["examples"] == 24


def test_hand_set_default_misses_the_unusual_cue(tmp_path: Path) -> None:
    pages = [marker_page(number) for number in range(6)]
    directory = make_corpus(tmp_path, [text for text, _ in pages])
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions(entities="none"))
    assert report.learned == {}
    expected = {f"s{number:03d}": set(starts) for number, (_, starts) in enumerate(pages)}
    hits = sum(len(set(story["start"] for story in record["stories"][1:]) & expected[record["snippet_id"]]) for record in suggestions(directory))
    assert hits / sum(len(starts) for starts in expected.values()) < 0.9


def test_learn_without_annotations_is_refused(tmp_path: Path) -> None:
    directory = make_corpus(tmp_path, [PAGE])
    with Corpus.open(directory) as corpus:
        with pytest.raises(SuggestError, match="no gold or done annotations"):
            run_suggest(corpus, SuggestOptions(entities="none", learn=True))


def test_ner_fine_tuning_learns_a_new_label(tmp_path: Path) -> None:
    nlp, _ = entities_module.load_ner("en_core_web_sm")
    sentences = [f"The {name} Zorblat 3000 was sold out in {place}." for name, place in [("new", "Oslo"), ("old", "Lima"), ("red", "Kyiv"), ("blue", "Rome"), ("small", "Bern"), ("big", "Riga")]]
    labelled = []
    for sentence in sentences * 2:
        start = sentence.index("Zorblat")
        labelled.append((sentence + "\n", [entities_module.Entity(start=start, end=start + len("Zorblat 3000"), label="GADGET")]))
    output = tmp_path / "ner"
    learn.fine_tune_ner(nlp, labelled, [], ["GADGET"], output, epochs=8)
    tuned, source = entities_module.load_ner(str(output))
    assert source.known is None and tuned.pipe_names == ["ner"]
    text = "Shops in Paris said the Zorblat 3000 was popular.\n"
    [found] = entities_module.propose_entities([TextModel(text)], tuned, {"GADGET": "GADGET"}, entities_module.Gazetteer())
    assert [(text[entity.start : entity.end], entity.label) for entity in found] == [("Zorblat 3000", "GADGET")]


def test_cli_suggest_runs_and_reports(tmp_path: Path) -> None:
    directory = make_corpus(tmp_path, [PAGE])
    runner = CliRunner()
    result = runner.invoke(app, ["suggest", str(directory), "--entities", "none"])
    assert result.exit_code == 0, result.output
    assert "1 suggestion(s) written" in result.output
    bad = runner.invoke(app, ["suggest", str(directory), "--boundaries", "sometimes"])
    assert bad.exit_code != 0 and "--boundaries" in bad.output
    wrong_map = runner.invoke(app, ["suggest", str(directory), "--label-map", "PERSON=NOPE"])
    assert wrong_map.exit_code != 0 and "not a corpus label" in wrong_map.output


def test_cli_suggest_interrupted_says_what_was_written_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.suggest import service

    directory = make_corpus(tmp_path, [PAGE, PAGE.replace("Wexbridge", "Porthaven"), PAGE.replace("Brenner", "Aldstow")])
    real_suggest = service.Suggester.suggest
    calls = []

    def suggest_then_ctrl_c(self, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_suggest(self, batch)

    monkeypatch.setattr(service.Suggester, "suggest", suggest_then_ctrl_c)
    runner = CliRunner()
    result = runner.invoke(app, ["suggest", str(directory), "--entities", "none", "--batch-size", "1"])
    assert result.exit_code == 130
    assert "interrupted: 1 suggestion(s) written; run the command again to resume" in result.output
    assert len(suggestions(directory)) == 1
    monkeypatch.setattr(service.Suggester, "suggest", real_suggest)
    result = runner.invoke(app, ["suggest", str(directory), "--entities", "none", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "2 suggestion(s) written" in result.output and "1 already suggested" in result.output
