"""`curate assign` through the CLI, the annotation queue that follows it, and `curate stats --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.annotating import AnnotatorDesk
from curate.cli import app
from curate.editing import fresh_record
from curate.ingest import ingest
from curate.store import Corpus, read_assignment, read_config, write_config

runner = CliRunner()


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    source = tmp_path / "source.jsonl"
    source.write_text("".join(json.dumps({"id": f"s{number}", "text": f"Story number {number} ran."}) + "\n" for number in range(12)), encoding="utf-8")
    ingest([source], tmp_path / "corpus")
    return tmp_path / "corpus"


def save(corpus_dir: Path, annotator: str, snippet_id: str, status: str | None, seconds: float) -> None:
    with Corpus.open(corpus_dir) as corpus:
        snippet = corpus.snippet_by_id(snippet_id)
        record = fresh_record(snippet.id, annotator, snippet.text).model_copy(update={"status": status, "seconds": seconds})
        with corpus.journal(annotator, writable=True) as journal:
            journal.append(record)


def test_assign_writes_a_balanced_assignment_and_a_rerun_keeps_it(corpus_dir):
    result = runner.invoke(app, ["assign", str(corpus_dir), "--annotators", "ana,ben,cy", "--overlap", "2", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "12 snippet(s) assigned" in result.output
    first = read_assignment(corpus_dir)
    assert first.team == ["ana", "ben", "cy"] and first.loads() == {"ana": 8, "ben": 8, "cy": 8}
    again = runner.invoke(app, ["assign", str(corpus_dir), "--annotators", "ana,ben,cy,dee", "--seed", "5"])
    assert again.exit_code == 0, again.output
    assert "(12 kept from before)" in again.output
    assert read_assignment(corpus_dir).snippets == first.snippets


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--annotators", "ana,ben", "--overlap", "3"], "--overlap 3: must be from 1 to the team's size (2)"),
        (["--annotators", ","], "--annotators: name at least one annotator"),
        (["--annotators", "ana,../x"], "is not allowed"),
        (["--annotators", "ana,ben", "--iaa", "0.2"], "--iaa needs --iaa-overlap"),
        (["--annotators", "ana,ben", "--iaa-overlap", "2"], "--iaa-overlap needs --iaa FRACTION"),
    ],
)
def test_assign_refuses_bad_teams_in_one_line_and_writes_nothing(corpus_dir, options, message):
    result = runner.invoke(app, ["assign", str(corpus_dir), *options])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert read_assignment(corpus_dir) is None


def test_assign_refuses_names_corpus_toml_does_not_list(corpus_dir):
    write_config(corpus_dir, read_config(corpus_dir).model_copy(update={"annotators": ["ana", "ben"]}))
    result = runner.invoke(app, ["assign", str(corpus_dir), "--annotators", "ana,zed", "--overlap", "1"])
    assert result.exit_code == 1 and "zed not among corpus.toml's annotators (ana, ben)" in result.output
    assert read_assignment(corpus_dir) is None


def test_the_todo_queue_holds_only_assigned_snippets_without_a_final_status(corpus_dir):
    assert runner.invoke(app, ["assign", str(corpus_dir), "--annotators", "ana,ben,cy", "--overlap", "1"]).exit_code == 0
    mine = read_assignment(corpus_dir).snippets_of("ana")
    assert len(mine) == 4
    save(corpus_dir, "ana", mine[0], "done", 10.0)
    save(corpus_dir, "ana", mine[1], None, 3.0)  # in progress: still to do
    desk = AnnotatorDesk.open(corpus_dir, "ana")
    try:
        assert [desk.corpus.snippet_id(int(position)) for position in desk.queue] == mine[1:]
        desk.set_queue("all")
        assert len(desk.queue) == 12
        desk.set_queue("todo")
        assert len(desk.queue) == 3
    finally:
        desk.close()


def test_a_name_outside_the_team_is_refused_and_no_journal_is_made(corpus_dir):
    assert runner.invoke(app, ["assign", str(corpus_dir), "--annotators", "ana,ben", "--overlap", "1"]).exit_code == 0
    result = runner.invoke(app, ["annotate", str(corpus_dir), "--annotator", "zed"])
    assert result.exit_code == 1
    assert "'zed' is not in the team" in result.output and "ana, ben" in result.output
    assert not (corpus_dir / "annotations" / "zed.jsonl").exists()


def test_without_an_assignment_todo_is_every_unfinished_snippet(corpus_dir):
    save(corpus_dir, "ana", "s3", "skipped", 1.0)
    desk = AnnotatorDesk.open(corpus_dir, "zed")
    try:
        assert len(desk.queue) == 12
    finally:
        desk.close()
    desk = AnnotatorDesk.open(corpus_dir, "ana")
    try:
        assert len(desk.queue) == 11
    finally:
        desk.close()


def test_stats_json_gives_each_annotators_progress(corpus_dir):
    assert runner.invoke(app, ["assign", str(corpus_dir), "--annotators", "ana,ben", "--overlap", "1"]).exit_code == 0
    mine = read_assignment(corpus_dir).snippets_of("ana")
    save(corpus_dir, "ana", mine[0], "done", 10.0)
    save(corpus_dir, "ana", mine[1], "done", 30.0)
    save(corpus_dir, "ana", mine[2], "done", 40.0)
    save(corpus_dir, "ana", mine[3], "flagged", 5.0)
    save(corpus_dir, "ana", mine[4], "skipped", 5.0)
    save(corpus_dir, "ana", mine[5], None, 5.0)
    result = runner.invoke(app, ["stats", str(corpus_dir), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["snippets"] == 12
    assert figures["annotators"]["ana"] == {"assigned": 6, "done": 3, "skipped": 1, "flagged": 1, "in_progress": 1, "median_seconds": 30.0}
    assert figures["annotators"]["ben"] == {"assigned": 6, "done": 0, "skipped": 0, "flagged": 0, "in_progress": 0, "median_seconds": None}
    shown = runner.invoke(app, ["stats", str(corpus_dir)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "assigned work" in shown.output and "3/6" in shown.output and "0/6" in shown.output


def test_stats_json_without_an_assignment_has_no_assigned_count(corpus_dir):
    save(corpus_dir, "ana", "s1", "done", 12.0)
    figures = json.loads(runner.invoke(app, ["stats", str(corpus_dir), "--json"]).output)
    assert figures["annotators"] == {"ana": {"assigned": None, "done": 1, "skipped": 0, "flagged": 0, "in_progress": 0, "median_seconds": 12.0}}


def test_a_damaged_assignment_file_is_one_line_with_its_place(corpus_dir):
    (corpus_dir / "assignments.jsonl").write_text('{"team": ["ana"], "overlap": 1}\n{"id": "s1"}\n', encoding="utf-8")
    result = runner.invoke(app, ["stats", str(corpus_dir), "--json"])
    assert result.exit_code == 1
    assert "assignments.jsonl:2: 'annotators' must be a non-empty list of names" in result.output


async def test_the_annotation_screen_walks_only_through_the_assigned_snippets(news_corpus):
    from annotate_run import Run, saved

    assert runner.invoke(app, ["assign", str(news_corpus), "--annotators", "ana,ben", "--overlap", "1", "--seed", "0"]).exit_code == 0
    mine = read_assignment(news_corpus).snippets_of("ana")
    assert mine == ["news-1", "news-3"]  # seed 0 gives ben the middle one, which the screen must pass over
    async with Run(news_corpus) as run:
        seen = []
        for _ in range(len(mine)):
            seen.append(run.desk.corpus.snippet_id(run.desk.position))
            assert run.view.text == run.desk.corpus.snippet_by_id(seen[-1]).text
            await run.press("enter")
    assert seen == mine
    assert {snippet_id for snippet_id, record in saved(news_corpus).items() if record["status"] == "done"} == set(mine)


def test_assign_with_iaa_gives_the_agreement_fraction_to_k_annotators(corpus_dir):
    result = runner.invoke(app, ["assign", str(corpus_dir), "--annotators", "ana,ben,cy", "--overlap", "1", "--iaa", "0.25", "--iaa-overlap", "3"])
    assert result.exit_code == 0, result.output
    written = read_assignment(corpus_dir)
    assert (written.iaa_fraction, written.iaa_overlap) == (0.25, 3)
    sizes = sorted(len(names) for names in written.snippets.values())
    assert sizes == [1] * 9 + [3] * 3
    assert written.loads() == {"ana": 6, "ben": 6, "cy": 6}
