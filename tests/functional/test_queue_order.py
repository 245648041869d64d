"""`curate queue` (JSON and table, bad options) and `curate annotate --order uncertainty`
opening on the snippet the model is least sure of (driven headless with Pilot)."""

from __future__ import annotations

import json

import pytest
from annotate_run import SNIPPETS, write_corpus
from app_run import AppRun
from typer.testing import CliRunner

from curate.annotating import AnnotatorDesk
from curate.cli import app
from curate.store import Corpus, CorpusLayout
from curate.suggest.uncertainty import ScoreFile
from curate.tui.app import AnnotateApp
from curate.tui.widgets.snippet_view import SnippetView

runner = CliRunner()


@pytest.fixture
def corpus_dir(tmp_path):
    directory = write_corpus(tmp_path, SNIPPETS)
    scores = ScoreFile(CorpusLayout(directory).uncertainty_scores, len(SNIPPETS))
    scores.set(0, 0.2, "model:test")
    scores.set(1, 0.05, "model:test")
    scores.set(2, 0.6, "model:test")
    scores.save()
    return directory


def test_queue_json_lists_the_uncertainty_order_with_scores(corpus_dir) -> None:
    result = runner.invoke(app, ["queue", str(corpus_dir), "--annotator", "ana", "--order", "uncertainty", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(row["id"], row["score"]) for row in rows] == [("news-3", 0.6), ("news-1", 0.2), ("news-2", 0.05)]
    assert rows[0] == {"rank": 1, "position": 2, "id": "news-3", "score": 0.6, "status": None}
    corpus_order = runner.invoke(app, ["queue", str(corpus_dir), "--annotator", "ana", "--json"])
    assert [json.loads(line)["id"] for line in corpus_order.stdout.splitlines()] == ["news-1", "news-2", "news-3"]


def test_queue_table_and_limit(corpus_dir) -> None:
    result = runner.invoke(app, ["queue", str(corpus_dir), "--annotator", "ana", "--order", "uncertainty", "--limit", "1"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "news-3" in result.stdout and "0.600" in result.stdout and "news-1" not in result.stdout
    assert "1 snippet(s), 1 with an uncertainty score" in result.stdout


def test_queue_without_scores_names_the_suggest_run_that_scores_them(tmp_path) -> None:
    directory = write_corpus(tmp_path, SNIPPETS)  # suggestions made elsewhere or never: no scores file here
    result = runner.invoke(app, ["queue", str(directory), "--annotator", "ana", "--order", "uncertainty"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "3 snippet(s), 0 with an uncertainty score; `curate suggest --redo` scores them" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--order", "best"], "error: --order must be one of corpus, uncertainty, random, not 'best'"),
        (["--queue", "later"], "error: --queue must be one of todo, all, flagged, skipped, done, not 'later'"),
    ],
)
def test_queue_bad_options_are_one_line_errors(corpus_dir, args, message) -> None:
    result = runner.invoke(app, ["queue", str(corpus_dir), "--annotator", "ana", *args])
    assert result.exit_code == 1
    assert result.stderr.strip() == message


def test_queue_of_a_missing_folder_and_a_bad_name(tmp_path, corpus_dir) -> None:
    missing = runner.invoke(app, ["queue", str(tmp_path / "nowhere"), "--annotator", "ana"])
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.output
    bad = runner.invoke(app, ["queue", str(corpus_dir), "--annotator", "a/b"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: annotator name 'a/b' is not allowed")


def test_annotate_order_is_checked_before_anything_opens(corpus_dir) -> None:
    result = runner.invoke(app, ["annotate", str(corpus_dir), "--annotator", "ana", "--order", "best"])
    assert result.exit_code == 1 and result.stderr.strip() == "error: --order must be one of corpus, uncertainty, random, not 'best'"
    assert not (corpus_dir / "annotations" / "ana.jsonl").exists()


def test_queue_help() -> None:
    result = runner.invoke(app, ["queue", "--help"])
    assert result.exit_code == 0 and "--order" in result.stdout and "uncertainty" in result.stdout


class OrderedRun(AppRun):
    """The app opened as `curate annotate --order uncertainty` opens it: the desk built (and
    started) by the app's opener."""

    def __init__(self, corpus_dir, order: str, seed: int = 0) -> None:
        self.corpus = Corpus.open(corpus_dir)

        def open_desk() -> AnnotatorDesk:
            desk = AnnotatorDesk(self.corpus, "ana", "todo", order, seed)
            desk.start_at(None)
            return desk

        self.app = AnnotateApp(open_desk, None, cursor_blink=False)

    @property
    def desk(self):
        return self.app.desk

    async def __aenter__(self):
        await super().__aenter__()
        await self.app.workers.wait_for_complete()
        await self.pilot.pause()
        return self

    def text(self) -> str:
        return self.app.screen.query_one(SnippetView).text


async def test_annotate_order_uncertainty_opens_on_the_least_sure_snippet(corpus_dir) -> None:
    async with OrderedRun(corpus_dir, "uncertainty") as run:
        assert run.text() == SNIPPETS[2]["text"]  # news-3, score 0.6
        await run.pilot.press("n")
        await run.pilot.pause()
        assert run.text() == SNIPPETS[0]["text"]  # news-1, 0.2
        await run.pilot.press("n")
        await run.pilot.pause()
        assert run.text() == SNIPPETS[1]["text"]  # news-2, 0.05
    async with OrderedRun(corpus_dir, "corpus") as run:
        assert run.text() == SNIPPETS[1]["text"]  # corpus order reopens where the editor left off
        await run.pilot.press("p")
        await run.pilot.pause()
        assert run.text() == SNIPPETS[0]["text"]
    async with OrderedRun(corpus_dir, "uncertainty") as run:
        assert run.text() == SNIPPETS[2]["text"]  # the order, not the last place, decides


def test_queue_with_a_damaged_score_file_warns_and_lists_in_corpus_order(corpus_dir) -> None:
    path = CorpusLayout(corpus_dir).uncertainty_scores
    path.write_bytes(path.read_bytes()[:100])  # cut short: this was a BadZipFile traceback
    result = runner.invoke(app, ["queue", str(corpus_dir), "--annotator", "ana", "--order", "uncertainty", "--json"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["news-1", "news-2", "news-3"]
    assert f"warning: {path}: unreadable (BadZipFile); uncertainty scores ignored" in result.stderr
    assert "Traceback" not in result.output


async def test_annotate_order_uncertainty_with_a_damaged_score_file_opens_in_corpus_order(corpus_dir) -> None:
    path = CorpusLayout(corpus_dir).uncertainty_scores
    path.write_bytes(path.read_bytes()[:100])
    async with OrderedRun(corpus_dir, "uncertainty") as run:
        assert run.text() == SNIPPETS[0]["text"]
        # and the screen says why the order is the corpus's
        assert f"{path}: unreadable (BadZipFile); uncertainty scores ignored" in run.app.screen.message.plain


def test_queue_summary_in_the_command_list_is_one_sentence_on_one_line() -> None:
    # its docstring's line breaks were kept in `curate --help`, cutting the summary after "with each"
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("│ queue ")]
    assert line.rstrip(" │").endswith("works through it, with uncertainty scores.")


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
async def test_annotate_order_random_follows_the_queue_listed_with_the_same_seed(tmp_path, seed) -> None:
    # `curate queue --order random --seed S` listed an order no annotate session could follow
    # (annotate always shuffled with seed 0)
    snippets = [{"id": f"page-{number}", "text": f"Page {number} tells its own story about town {number}."} for number in range(8)]
    corpus_dir = write_corpus(tmp_path, snippets)
    listed = runner.invoke(app, ["queue", str(corpus_dir), "--annotator", "ana", "--order", "random", "--seed", str(seed), "--json"])
    ids = [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    texts = {snippet["id"]: snippet["text"] for snippet in snippets}
    async with OrderedRun(corpus_dir, "random", seed) as run:
        seen = [run.text()]
        for _ in ids[1:]:
            await run.pilot.press("n")
            await run.pilot.pause()
            seen.append(run.text())
    assert seen == [texts[snippet_id] for snippet_id in ids]


def test_annotate_help_names_the_seed() -> None:
    result = runner.invoke(app, ["annotate", "--help"], env={"COLUMNS": "200"})
    assert "--seed" in result.stdout and "--order random" in result.stdout


@pytest.mark.parametrize("command", ["queue", "annotate"])
def test_a_negative_seed_is_refused_before_anything_runs(corpus_dir, command) -> None:
    # numpy's shuffle ended `curate queue --order random --seed -1` in a ValueError traceback
    result = runner.invoke(app, [command, str(corpus_dir), "--annotator", "ana", "--order", "random", "--seed", "-1"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Invalid value for '--seed'" in result.output and "Traceback" not in result.output
