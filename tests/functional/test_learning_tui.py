"""Learning while annotating, driven headless: marking N snippets done starts a fit in another
process; keys answer while it runs; afterwards an unopened queued snippet has a new suggestion,
the open one is as it was, and the header names the model."""

from __future__ import annotations

import json
from pathlib import Path

from annotate_run import saved, screen_text
from app_run import wait_until
from learning_corpus import done_record, gated_fit, latest_suggestions, learning_corpus, marker_page, story_starts

from curate.annotating import AnnotatorDesk
from curate.learning_loop import LearningLoop
from curate.store import Corpus
from curate.suggest.service import SuggestOptions, run_suggest
from curate.tui.app import AnnotateApp
from curate.tui.screens.annotate import AnnotateScreen
from curate.tui.widgets.snippet_view import SnippetView

OPTIONS = SuggestOptions(entities="none")  # the story-start CRF alone: a fit of well under a second


def corpus_with_suggestions(tmp_path: Path) -> Path:
    """14 pages, hand-set suggestions for all; bob marked s006-s011 done with their '+++' starts."""
    directory = learning_corpus(tmp_path, 14)
    (directory / "annotations").mkdir(exist_ok=True)
    with (directory / "annotations" / "bob.jsonl").open("w") as handle:
        for number in range(6, 12):
            handle.write(json.dumps(done_record(number, "bob")) + "\n")
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, OPTIONS)
    return directory


async def test_a_fit_runs_beside_the_editor_and_refreshes_only_unopened_snippets(tmp_path: Path) -> None:
    directory = corpus_with_suggestions(tmp_path)
    before = latest_suggestions(directory)
    assert story_starts(before["s003"]) != marker_page(3)[1]  # the hand-set scorer misses '+++'
    loop = LearningLoop(directory, every=2, options=OPTIONS)  # refreshes the next 4 queued snippets
    loop.process_target = gated_fit  # held until the test releases it
    desk = AnnotatorDesk.open(directory, "ana")
    app = AnnotateApp(desk, cursor_blink=False, learning=loop)
    try:
        async with app.run_test(size=(160, 32)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, AnnotateScreen)
            assert "no model yet" in screen_text(app)
            await pilot.press("enter", "enter")  # s000 and s001 done: N = 2, a fit is due
            await pilot.pause()
            await wait_until(pilot, lambda: (tmp_path / "fit-started").exists() or (loop.last is not None), 20)
            assert loop.last is None, (loop.last, loop.pending, loop.counted)
            assert loop.running and loop.process.is_alive()
            assert "learning…" in screen_text(app)

            # (a) keys answer while the fit process is alive: the cursor moves, a change is saved.
            opened = screen.opened
            assert opened.snippet.id == "s002"
            stories_before = opened.session.record.stories
            view = screen.query_one(SnippetView)
            cursor = view.cursor
            await pilot.press("right")
            assert view.cursor == cursor + 1
            await pilot.press("t")  # this story truncated: saved at once
            assert saved(directory)["s002"]["stories"][0]["truncated"] is True
            assert loop.process.is_alive()

            (tmp_path / "release").touch()
            await wait_until(pilot, lambda: not loop.running, 60)
            await app.workers.wait_for_complete()
            await pilot.pause()

            # (b) the unopened queued snippets got the learned model's suggestion; the open one did not.
            assert loop.last.kind == "fitted", loop.last.message
            after = latest_suggestions(directory)
            assert loop.last.refreshed == (3, 4, 5)  # s006 (bob's) left out; s002 is open
            for number in (3, 4, 5):
                record = after[f"s{number:03d}"]
                assert record["annotator"] != before[record["snippet_id"]]["annotator"]
                assert story_starts(record) == marker_page(number)[1]
            for untouched in ("s002", "s006", "s007", "s013"):
                assert after[untouched] == before[untouched]
            assert screen.opened is opened and [story.start for story in opened.session.record.stories] == [story.start for story in stories_before]

            # (c) the header names the model and how many snippets it learned from.
            state = loop.state
            assert state is not None and state.examples == 8  # bob's 6 and ana's 2
            assert f"model {state.version} (8 snippets)" in screen_text(app)

            await pilot.press("enter")  # on to s003: it opens from the refreshed suggestion
            assert screen.opened.snippet.id == "s003"
            assert [story.start for story in screen.opened.session.record.stories[1:]] == marker_page(3)[1]
    finally:
        loop.stop()
        desk.close()


async def test_quitting_during_a_fit_kills_it(tmp_path: Path) -> None:
    directory = corpus_with_suggestions(tmp_path)
    loop = LearningLoop(directory, every=1, options=OPTIONS)
    loop.process_target = gated_fit  # never released: only quitting ends it
    desk = AnnotatorDesk.open(directory, "ana")
    app = AnnotateApp(desk, cursor_blink=False, learning=loop)
    try:
        async with app.run_test(size=(160, 32)) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            await wait_until(pilot, lambda: (tmp_path / "fit-started").exists(), 60)
            process = loop.process
            assert process.is_alive()
            await pilot.press("q")
            await pilot.pause()
        process.join(10)
        assert not process.is_alive() and loop.stopped
        assert not (directory / "models").exists() or not any((directory / "models").iterdir())
    finally:
        loop.stop()
        desk.close()


async def test_a_failed_fit_says_why_on_the_message_line_even_when_the_header_is_narrow(tmp_path: Path) -> None:
    directory = corpus_with_suggestions(tmp_path)
    (directory / "models").write_text("not a folder\n")  # the fit cannot write models/
    loop = LearningLoop(directory, every=1, options=OPTIONS)
    desk = AnnotatorDesk.open(directory, "ana")
    app = AnnotateApp(desk, cursor_blink=False, learning=loop)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            await wait_until(pilot, lambda: loop.last is not None and not loop.running, 60)
            await app.workers.wait_for_complete()
            await pilot.pause()
            text = screen_text(app)
            assert loop.last.kind == "failed"
            assert "fit failed" in text and "models" in text, text
    finally:
        loop.stop()
        desk.close()


async def test_a_finished_fit_is_said_on_the_message_line_where_the_header_has_no_room(tmp_path: Path) -> None:
    directory = corpus_with_suggestions(tmp_path)
    loop = LearningLoop(directory, every=1, options=OPTIONS)
    desk = AnnotatorDesk.open(directory, "ana")
    app = AnnotateApp(desk, cursor_blink=False, learning=loop)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            await wait_until(pilot, lambda: loop.last is not None and not loop.running, 60)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert loop.last.kind == "fitted", loop.last.message
            text = screen_text(app)
            assert f"model {loop.state.version}" in text and f"learned from {loop.state.examples} snippets" in text, text
    finally:
        loop.stop()
        desk.close()
