"""`curate review` shows a screen first and opens the review desk (every annotator's journal
read, agreed snippets merged into gold) in a worker, as `curate annotate` does."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest
from annotate_run import screen_text
from app_run import wait_until
from review_corpora import three_annotator_corpus
from typer.testing import CliRunner

import curate.cli
from curate.cli import app as cli
from curate.reviewing import NothingToReview, ReviewDesk
from curate.tui.app import OpeningScreen, ReviewApp
from curate.tui.screens.review import ReviewScreen


def gold_on_disk(path) -> dict[str, dict]:
    gold = path / "gold.jsonl"
    return {record["snippet_id"]: record for record in map(json.loads, gold.read_text().splitlines())} if gold.exists() else {}


def test_the_opening_screen_paints_before_the_desk_opens_then_keys_reach_gold(tmp_path):
    corpus = three_annotator_corpus(tmp_path)
    path = corpus.path
    release = threading.Event()

    def opener() -> ReviewDesk:
        assert release.wait(10)
        return ReviewDesk.open_to_review(corpus, "judge")

    async def run() -> ReviewApp:
        review = ReviewApp(opener, cursor_blink=False, opening="opening CORPUS for review: reading the annotators' journals…")
        async with review.run_test(size=(110, 30)) as pilot:
            await pilot.pause()
            assert isinstance(review.screen, OpeningScreen) and review.desk is None
            assert "opening CORPUS for review" in screen_text(review)
            await pilot.press("enter", "m", "M")  # ignored: nothing is open yet
            assert gold_on_disk(path) == {}  # the merge of agreed snippets waits for the worker too
            release.set()
            await wait_until(pilot, lambda: isinstance(review.screen, ReviewScreen) and review.screen.opened is not None)
            assert set(gold_on_disk(path)) == {"s1"}  # s1, where all agree, merged on opening
            first = review.screen.opened.snippet.id
            await pilot.press("M", "enter")  # the majority everywhere, then accept into gold
            await pilot.pause()
        review.desk.close()
        return first

    first = asyncio.run(run())
    gold = gold_on_disk(path)
    assert set(gold) == {"s1", first} and gold[first]["adjudicator"] == "judge"


def test_nothing_to_review_closes_the_desk_and_says_why(tmp_path):
    corpus = three_annotator_corpus(tmp_path)
    with pytest.raises(NothingToReview, match=r"nothing to review: no snippet done by at least 4 annotator\(s\)"):
        ReviewDesk.open_to_review(corpus, "judge", min_annotators=4)
    # The desk let go of its journal: a second one opens it.
    ReviewDesk.open(corpus.path, "judge").close()


def test_cli_review_paints_first_and_says_nothing_to_review_after_the_worker(tmp_path, monkeypatch):
    corpus = three_annotator_corpus(tmp_path)
    path = corpus.path
    corpus.close()
    monkeypatch.setattr(curate.cli, "require_terminal", lambda command: None)
    screens = []

    async def drive(review: ReviewApp) -> None:
        async with review.run_test(size=(110, 30)) as pilot:
            screens.append(type(review.screen).__name__)
            await wait_until(pilot, lambda: review._exit)

    monkeypatch.setattr(ReviewApp, "run", lambda self: asyncio.run(drive(self)))
    result = CliRunner().invoke(cli, ["review", str(path), "--adjudicator", "judge", "--min-annotators", "4"])
    assert result.exit_code == 0, result.output
    assert screens == ["OpeningScreen"]
    assert " ".join(result.output.split()) == "nothing to review: no snippet done by at least 4 annotator(s) is without gold (0 gold in all)"


def test_cli_review_refuses_a_review_journal_locked_by_another_process_before_any_screen(tmp_path, monkeypatch):
    corpus = three_annotator_corpus(tmp_path)
    path = corpus.path
    corpus.close()
    monkeypatch.setattr(curate.cli, "require_terminal", lambda command: None)
    monkeypatch.setattr(ReviewApp, "run", lambda self: pytest.fail("a screen was opened"))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from curate.reviewing import ReviewDesk; d = ReviewDesk.open(sys.argv[1], 'judge'); print('ready', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"ready"
        result = CliRunner().invoke(cli, ["review", str(path), "--adjudicator", "judge"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "open for writing in another curate process" in result.output
    assert len(result.output.strip().splitlines()) == 1
