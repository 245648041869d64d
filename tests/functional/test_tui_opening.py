"""`curate annotate` shows a screen first and opens the desk (reading or indexing a large
journal) in a worker: keys typed meanwhile are ignored, a failure exits with its one line."""

from __future__ import annotations

import asyncio
import threading

from annotate_run import SNIPPETS, saved, screen_text, write_corpus
from app_run import wait_until
from typer.testing import CliRunner

from curate.annotating import AnnotatorDesk
from curate.cli import app as cli
from curate.store import StoreError
from curate.tui.app import AnnotateApp, OpeningScreen
from curate.tui.screens.annotate import AnnotateScreen


def test_the_opening_screen_shows_first_then_the_desk_and_its_keys_work(tmp_path):
    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    release = threading.Event()
    opened: list[AnnotatorDesk] = []

    def opener() -> AnnotatorDesk:
        assert release.wait(10)
        opened.append(AnnotatorDesk.open(corpus_dir, "ana"))
        return opened[0]

    async def run() -> None:
        app = AnnotateApp(opener, cursor_blink=False, opening="opening CORPUS: indexing 1.0 MB of annotations/ana.jsonl…")
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, OpeningScreen)
            text = screen_text(app)
            assert "opening CORPUS: indexing 1.0 MB of annotations/ana.jsonl…" in text
            assert "keys typed before the snippet shows are ignored" in text
            await pilot.press("shift+right", "1", "]", "l", "enter", "ctrl+p", "question_mark")  # ignored: no desk yet
            await pilot.pause()
            assert isinstance(app.screen, OpeningScreen) and app.desk is None
            release.set()
            await wait_until(pilot, lambda: isinstance(app.screen, AnnotateScreen))
            assert app.desk is opened[0] and app.open_error is None
            await wait_until(pilot, lambda: "Kim Jong-un met Putin" in screen_text(app))  # the new screen's first frame, later on a busy machine
            await pilot.press("shift+right", "1")  # select "Kim Jong-un", label it PERSON: saved at once
            await pilot.pause()
        app.desk.close()
        entities = saved(corpus_dir)["news-1"]["entities"]
        assert [(entity["label"], NEWS_TEXT[entity["start"] : entity["end"]]) for entity in entities] == [("PERSON", "Kim Jong-un")]

    asyncio.run(run())


NEWS_TEXT = SNIPPETS[0]["text"]


def test_an_opener_that_fails_exits_the_app_with_its_error(tmp_path):
    def opener() -> AnnotatorDesk:
        raise StoreError("annotations/ana.jsonl:3: not a JSON object")

    async def run() -> AnnotateApp:
        app = AnnotateApp(opener, cursor_blink=False)
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_until(pilot, lambda: app._exit)
        return app

    app = asyncio.run(run())
    assert app.desk is None and str(app.open_error) == "annotations/ana.jsonl:3: not a JSON object"
    app.wait_opened()  # returns: the opener has finished


def test_quitting_while_opening_leaves_the_desk_for_the_caller_to_close(tmp_path):
    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    release = threading.Event()

    def opener() -> AnnotatorDesk:
        assert release.wait(10)
        return AnnotatorDesk.open(corpus_dir, "ana")

    async def run() -> AnnotateApp:
        app = AnnotateApp(opener, cursor_blink=False)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.pause()
            await pilot.press("q")
            await wait_until(pilot, lambda: app._exit)
            release.set()
        return app

    app = asyncio.run(run())
    app.wait_opened()
    assert app.desk is not None  # the journal is open and locked until the caller closes it
    app.desk.close()
    AnnotatorDesk.open(corpus_dir, "ana").close()  # unlocked again


def run_headless(monkeypatch) -> None:
    """Let `curate annotate` run its app under CliRunner: past the terminal check, headless."""
    import curate.cli

    monkeypatch.setattr(curate.cli, "require_terminal", lambda command: None)
    run = AnnotateApp.run
    monkeypatch.setattr(AnnotateApp, "run", lambda self: run(self, headless=True))


def test_cli_prints_a_failed_opening_as_one_error_line(tmp_path, monkeypatch):
    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    run_headless(monkeypatch)

    def broken(self, *args, **kwargs):
        raise StoreError(f"{corpus_dir}/annotations/ana.jsonl:7: not valid JSON")

    monkeypatch.setattr(AnnotatorDesk, "__init__", broken)
    result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: {corpus_dir}/annotations/ana.jsonl:7: not valid JSON"]
    assert "Traceback" not in result.output


def test_cli_refuses_a_locked_journal_before_the_screen(tmp_path, monkeypatch):
    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    run_headless(monkeypatch)
    started: list[AnnotateApp] = []
    monkeypatch.setattr(AnnotateApp, "run", lambda self: started.append(self))
    holder = AnnotatorDesk.open(corpus_dir, "ana")  # holds the journal's lock
    try:
        result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana"])
    finally:
        holder.close()
    assert result.exit_code == 1 and "open for writing in another curate process" in result.output
    assert not started  # refused at once, not by the worker behind an opening screen


def test_a_fresh_clone_shows_the_screen_before_the_snippet_index_is_built(tmp_path, monkeypatch):
    import shutil

    from curate.store.layout import CorpusLayout

    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    layout = CorpusLayout(corpus_dir)
    run_headless(monkeypatch)
    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(AnnotateApp, "run", lambda self: seen.append((self.opening, layout.snippet_index_meta.exists())))
    shutil.rmtree(layout.index_dir)
    result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana"])
    assert result.exit_code == 0, result.output
    size = (corpus_dir / "snippets.jsonl").stat().st_size / 1e6
    assert seen == [(f"opening {corpus_dir}: indexing {size:.1f} MB of snippets.jsonl…", False)]  # left to the worker

    # --start needs the index to refuse an unknown id at once: built before the screen
    shutil.rmtree(layout.index_dir)
    result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana", "--start", "news-2"])
    assert result.exit_code == 0, result.output
    assert seen[1] == (f"opening {corpus_dir}…", True)
