"""The review screen driven headless: keys in, gold.jsonl records with provenance out."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

from app_run import AppRun
from review_corpora import LIMA, SECOND, TEXT, same_start_corpus, three_annotator_corpus
from rich.console import Console

from curate.reviewing import ReviewDesk
from curate.store import Corpus
from curate.tui.app import ReviewApp
from curate.tui.screens.help import HelpScreen, help_table
from curate.tui.screens.review import ReviewScreen


def gold_on_disk(corpus_path) -> dict[str, dict]:
    path = corpus_path / "gold.jsonl"
    if not path.exists():
        return {}
    return {record["snippet_id"]: record for record in map(json.loads, path.read_text().splitlines())}


class Review(AppRun):
    size = (110, 30)

    def __init__(self, corpus_path, **options) -> None:
        self.desk = ReviewDesk(Corpus.open(corpus_path), "judge", **options)
        self.app = ReviewApp(self.desk, cursor_blink=False)

    @property
    def screen(self) -> ReviewScreen:
        screen = self.app.screen
        assert isinstance(screen, ReviewScreen)
        return screen

    def cursor_offset(self) -> int:
        return self.screen.view.cursor_span[0]


async def test_auto_accept_is_counted_on_screen_and_the_queue_is_most_disagreed_first(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        assert "1 snippet(s) on which all annotators agree went into gold" in run.screen.message.plain
        assert run.screen.opened.snippet.id == "s3"
        assert list(gold_on_disk(corpus.path)) == ["s1"]
        assert gold_on_disk(corpus.path)["s1"]["sources"] == ["ana", "ben", "cy"]
        highlights = run.screen.view.highlights
        assert len(highlights) == len(run.screen.opened.disagreements()) > 0


async def test_no_auto_accept_asks_about_agreed_snippets_too(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path, auto_accept=False) as run:
        assert len(run.desk) == 3
        assert gold_on_disk(corpus.path) == {}


async def test_disagreement_keys_walk_the_items_and_show_who_chose_what(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        seen = []
        for _ in range(4):
            await run.pilot.press("d")
            seen.append(run.cursor_offset())
        assert seen == sorted(seen) and len(set(seen)) == 4
        await run.pilot.press("D")
        assert run.cursor_offset() == seen[2]
        # 'Bolt Corp' (14-23): ORG by ana and cy, GPE by ben.
        run.screen.view.set_cursor(run.screen.opened.session.model.token_at(14))
        await run.pilot.pause()
        assert "ORG: ana, cy · GPE: ben" in run.screen.context_line().plain


async def test_taking_one_annotators_choice_majority_editing_undo_and_accept(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        screen = run.screen
        model = screen.opened.session.model
        screen.view.set_cursor(model.token_at(14))
        await run.pilot.press("a")
        await run.pilot.press("2")  # ben: GPE
        record = screen.opened.session.record
        assert [(e.start, e.label) for e in record.entities if e.start == 14] == [(14, "GPE")]
        await run.pilot.press("m")  # back to the majority: ORG
        assert [(e.start, e.label) for e in screen.opened.session.record.entities if e.start == 14] == [(14, "ORG")]
        await run.pilot.press("u")
        assert [(e.start, e.label) for e in screen.opened.session.record.entities if e.start == 14] == [(14, "GPE")]
        # An annotation key edits the gold record directly: Lima becomes LOC (key 4).
        screen.view.set_cursor(model.token_at(LIMA))
        await run.pilot.press("4")
        await run.pilot.press("enter")
        await run.pilot.pause()
        gold = gold_on_disk(corpus.path)["s3"]
        assert gold["adjudicator"] == "judge" and gold["sources"] == ["ana", "ben", "cy"] and gold["status"] == "done"
        labels = {(e["start"], e["label"]) for e in gold["entities"]}
        assert (14, "GPE") in labels and (LIMA, "LOC") in labels
        assert [story["start"] for story in gold["stories"][1:]] == [SECOND]  # ana and ben
        assert screen.opened.snippet.id == "s2"  # moved on


async def test_taking_a_whole_record_and_the_help_screen(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        await run.pilot.press("A")
        await run.pilot.press("3")  # cy's whole record: no story start, no boilerplate
        record = run.screen.opened.session.record
        assert record.story_starts == [] and record.boilerplate == []
        await run.pilot.press("question_mark")
        assert isinstance(run.app.screen, HelpScreen)
        console = Console(width=120, file=io.StringIO(), record=True)
        console.print(help_table({}, None, run.app.screen.specs))
        text = console.export_text()
        assert "take-majority" in text and "disagreement-next" in text and "story-start" in text


def test_a_crash_between_two_accepts_loses_nothing(review_corpus):
    corpus = review_corpus
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from curate.reviewing import ReviewDesk
        from curate.store import Corpus
        from curate.tui.app import ReviewApp

        async def main():
            desk = ReviewDesk(Corpus.open({str(corpus.path)!r}), "judge")
            app = ReviewApp(desk, cursor_blink=False)
            async with app.run_test() as pilot:
                await pilot.pause()
                await pilot.press("enter")        # s3 accepted
                await pilot.press("A", "1")       # s2: take ana's whole record (saved to the review journal)
                await pilot.pause()
                os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    assert set(gold_on_disk(corpus.path)) == {"s1", "s3"}
    desk = ReviewDesk(Corpus.open(corpus.path), "judge")
    try:
        assert [desk.corpus.snippet(position).id for position in desk.queue] == ["s2"]
        ana = Corpus.open(corpus.path).journal("ana").latest("s2")
        assert desk.current().session.record.entities == ana.entities
    finally:
        desk.close()
    assert TEXT  # the fixture text the corpus was built from


async def test_s_leaves_a_snippet_for_later_without_gold(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        await run.pilot.press("s")
        assert run.screen.opened.snippet.id == "s2"
        assert run.desk.counts()["skipped"] == 1
        assert list(gold_on_disk(corpus.path)) == ["s1"]


def test_review_with_nothing_to_review_says_so_and_exits_0_without_a_screen(review_corpus, monkeypatch):
    from typer.testing import CliRunner

    import curate.cli
    from curate.cli import app

    monkeypatch.setattr(curate.cli, "require_terminal", lambda command: None)  # CliRunner's streams are no terminal

    corpus = review_corpus
    path = corpus.path
    corpus.close()
    result = CliRunner().invoke(app, ["review", str(path), "--adjudicator", "judge", "--min-annotators", "4"])
    assert result.exit_code == 0, result.output
    assert " ".join(result.output.split()) == "nothing to review: no snippet done by at least 4 annotator(s) is without gold (0 gold in all)"
    desk = ReviewDesk(Corpus.open(path), "judge", auto_accept=False)
    try:
        while len(desk):
            desk.accept(desk.current())
            desk.queue.remove(desk.current().position)
    finally:
        desk.close()
    result = CliRunner().invoke(app, ["review", str(path), "--adjudicator", "judge"])
    assert result.exit_code == 0 and "nothing to review" in result.output and "(3 gold in all)" in " ".join(result.output.split())


def test_a_keymap_that_clashes_on_the_review_screen_stops_curate_review(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from curate.cli import app

    corpus = three_annotator_corpus(tmp_path)
    corpus.close()
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('[keys]\nlabel-1 = "a"\n')  # fine when annotating, `a` takes an annotator's choice here
    monkeypatch.setenv("CURATE_KEYMAP", str(keymap))
    result = CliRunner().invoke(app, ["review", str(corpus.path), "--adjudicator", "judge"])
    assert result.exit_code == 1
    assert str(keymap) in result.output.replace("\n", "") and "label-1" in result.output and "take-annotator" in result.output


# ---------------------------------------------------------------- a new user's findings


def screen_lines(app) -> list[str]:
    return ["".join(segment.text for segment in strip).rstrip() for strip in app.screen._compositor.render_strips()]


class NarrowReview(Review):
    size = (80, 24)


class WideReview(Review):
    size = (140, 30)


async def test_review_header_stays_one_line_and_who_chose_what_stays_visible(review_corpus):
    corpus = review_corpus
    for run_class in (NarrowReview, Review):
        async with run_class(corpus.path) as run:
            run.screen.view.set_cursor(run.screen.opened.session.model.token_at(14))
            await run.pilot.press("escape")  # any key: the opening message goes
            await run.pilot.pause()
            lines = screen_lines(run.app)
            assert "s3 [not in gold" in lines[0] and len(lines[0]) <= run.size[0]
            assert "ORG: ana, cy · GPE: ben" in lines[1]
            assert "━━ story 1" in lines[2]
            await run.pilot.press("q")


async def test_review_help_lists_review_keys_and_not_queue_filters_or_flag(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        await run.pilot.press("question_mark")
        assert isinstance(run.app.screen, HelpScreen)
        console = Console(width=140, file=io.StringIO(), record=True)
        console.print(help_table({}, run.desk.corpus.config, run.app.screen.specs, run.app.screen.palette))
        text = console.export_text()
        for binding_id in ("disagreement-next", "disagreement-previous", "take-majority", "take-majority-all", "take-annotator", "take-annotator-all", "story-start", "undo"):
            assert binding_id in text
        assert "Accept: write the snippet to gold.jsonl" in text and "Leave the snippet for later" in text
        assert "Filter queue" not in text and " flag " not in text and "Flag this snippet" not in text


async def test_review_keys_are_on_screen_at_80_and_140_columns(review_corpus):
    corpus = review_corpus
    for run_class in (NarrowReview, WideReview):
        async with run_class(corpus.path) as run:
            text = "\n".join(screen_lines(run.app))
            for shown in ("d/D next/prev disagreement", "m/M majority here/all", "a/A annotator's here/all", "⏎ accept", "s later", "? help"):
                assert shown in text, (run.size, shown)
            assert "f flag" not in text
            await run.pilot.press("q")


async def test_review_keys_line_follows_the_keymap(review_corpus):
    corpus = review_corpus
    desk = ReviewDesk(Corpus.open(corpus.path), "judge")
    app = ReviewApp(desk, {"disagreement-next": "g", "take-majority-all": "ctrl+g"}, cursor_blink=False)
    try:
        async with app.run_test(size=(110, 30)) as pilot:
            await pilot.pause()
            assert "g/D next/prev disagreement" in "\n".join(screen_lines(app))
            assert "m/^g majority" in "\n".join(screen_lines(app)) or "m/ctrl+g majority" in "\n".join(screen_lines(app))
    finally:
        desk.close()


async def test_f_does_not_flag_in_review(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        await run.pilot.press("f")
        await run.pilot.pause()
        assert isinstance(run.app.screen, ReviewScreen)
        assert run.screen.opened.snippet.id == "s3" and not run.desk.journal.has_record(run.screen.opened.position)


async def test_review_messages_make_way_for_who_chose_what(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        assert "went into gold without asking" in screen_lines(run.app)[1]
        await run.pilot.press("d")
        await run.pilot.pause()
        line = screen_lines(run.app)[1]
        assert "went into gold" not in line and line.lstrip().startswith("1 ana · 2 ben · 3 cy") and "now:" in line
        run.screen.view.set_cursor(run.screen.opened.session.model.token_at(14))
        await run.pilot.press("a", "2")
        await run.pilot.pause()
        assert "1 item(s) taken from ben" in screen_lines(run.app)[1]
        await run.pilot.press("right")
        await run.pilot.pause()
        assert "taken from ben" not in screen_lines(run.app)[1]


async def test_one_disagreement_is_singular(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        assert "disagreements ·" in run.screen.state_name()
        await run.pilot.press("s")
        assert run.screen.opened.snippet.id == "s2" and len(run.screen.opened.disagreements()) == 1
        assert "· 1 disagreement ·" in run.screen.state_name()


# ---------------------------------------------------------------- issue 13


def header(app) -> str:
    return screen_lines(app)[0]


async def test_an_accept_whose_gold_write_fails_is_not_marked_or_counted_until_a_retry_succeeds(review_corpus, monkeypatch):
    import errno
    import os
    from pathlib import Path

    corpus = review_corpus
    real_replace = os.replace
    calls = {"failed": 0}

    def full_disk_once(source, target, **options):
        # The rename that puts a rewritten gold.jsonl in place: the store's atomic write fails.
        if Path(target).name == "gold.jsonl" and not calls["failed"]:
            calls["failed"] += 1
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real_replace(source, target, **options)

    async with Review(corpus.path) as run:
        monkeypatch.setattr(os, "replace", full_disk_once)
        assert run.screen.opened.snippet.id == "s3"
        await run.pilot.press("enter")
        await run.pilot.pause()
        assert calls["failed"] == 1
        assert run.screen.opened.snippet.id == "s3"
        assert "[not in gold" in header(run.app) and "[in gold" not in header(run.app)
        assert "accepted 0" in run.screen.counts_text() and run.desk.accepted == 0 and "s3" not in run.desk.gold
        message = run.screen.message.plain
        assert message.startswith("NOT IN GOLD (enter tries again): no space left on device")
        assert list(gold_on_disk(corpus.path)) == ["s1"]
        await run.pilot.press("enter")  # the retry succeeds
        await run.pilot.pause()
        assert run.screen.opened.snippet.id == "s2"
        assert run.desk.accepted == 1 and "accepted 1" in run.screen.counts_text()
        assert set(gold_on_disk(corpus.path)) == {"s1", "s3"}


def test_review_desk_accept_leaves_gold_and_counts_as_they_were_when_the_write_fails(review_corpus, monkeypatch):
    import os

    corpus = review_corpus
    desk = ReviewDesk(corpus, "judge", auto_accept=False)
    try:
        opened = desk.current()

        def broken(source, target, **options):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "replace", broken)  # every atomic rewrite of the store fails
        try:
            desk.accept(opened)
        except OSError:
            pass
        else:
            raise AssertionError("the failed gold write was not raised")
        assert opened.snippet.id not in desk.gold and desk.counts()["done"] == 0
        monkeypatch.undo()
        desk.accept(opened)
        assert opened.snippet.id in desk.gold and desk.counts()["done"] == 1
        desk.accept(opened)  # accepted again: still one snippet
        assert desk.counts()["done"] == 1
    finally:
        desk.close()


async def test_a_then_an_annotators_number_takes_their_span_where_another_starts_at_the_same_token(tmp_path):
    corpus = same_start_corpus(tmp_path)
    async with Review(corpus.path) as run:
        assert run.screen.opened.snippet.id == "k1" and run.screen.view.cursor_span[0] == 0
        await run.pilot.press("a", "2")  # ben: "Kenyan" NORP
        await run.pilot.pause()
        assert "nothing changes" not in run.screen.message.plain
        assert [(e.start, e.end, e.label) for e in run.screen.opened.session.record.entities] == [(0, 6, "NORP")]
        await run.pilot.press("a", "1")  # ana: "Kenyan Transport" PERSON
        await run.pilot.pause()
        assert [(e.start, e.end, e.label) for e in run.screen.opened.session.record.entities] == [(0, 16, "PERSON")]
        await run.pilot.press("a", "2", "enter")
        await run.pilot.pause()
    assert [(e["start"], e["end"], e["label"]) for e in gold_on_disk(corpus.path)["k1"]["entities"]] == [(0, 6, "NORP")]


async def test_s_on_the_last_snippet_counts_as_a_skip_once(review_corpus):
    corpus = review_corpus
    async with Review(corpus.path) as run:
        await run.pilot.press("s")
        await run.pilot.pause()
        assert run.screen.opened.snippet.id == "s2" and run.desk.counts()["skipped"] == 1
        await run.pilot.press("s")  # the last snippet
        await run.pilot.pause()
        assert run.desk.counts()["skipped"] == 2 and "skipped 2" in run.screen.counts_text()
        assert "skipped; that was the last snippet to review" in run.screen.message.plain
        await run.pilot.press("s")  # the same snippet again: still two snippets skipped
        await run.pilot.pause()
        assert run.desk.counts()["skipped"] == 2
        await run.pilot.press("enter")  # accepted after all: no longer skipped
        await run.pilot.pause()
        assert run.desk.counts()["skipped"] == 1 and run.desk.counts()["done"] == 1
    assert set(gold_on_disk(corpus.path)) == {"s1", "s2"}


def test_curate_review_sums_up_what_reached_gold_after_a_failed_write_and_a_retry(review_corpus, monkeypatch):
    import asyncio
    import errno
    import os
    from pathlib import Path

    from typer.testing import CliRunner

    import curate.cli
    from curate.cli import app

    corpus = review_corpus
    corpus.close()
    real_replace = os.replace
    gold_writes = []

    def second_gold_write_fails(source, target, **options):
        # The rename that puts a rewritten gold.jsonl in place: the store's atomic write fails.
        if Path(target).name == "gold.jsonl":
            gold_writes.append(target)
            if len(gold_writes) == 2:  # the first merged s1 on opening
                raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real_replace(source, target, **options)

    async def drive(review_app) -> None:
        review_app.cursor_blink = False
        async with review_app.run_test(size=(110, 30)) as pilot:
            while review_app.desk is None or not isinstance(review_app.screen, ReviewScreen):
                await pilot.pause(0.02)  # the desk opens in a worker behind the opening screen
            for key in ("enter", "enter", "s", "q"):  # s3: fails, then goes in; s2 (the last): skipped
                await pilot.press(key)
                await pilot.pause()

    monkeypatch.setattr(os, "replace", second_gold_write_fails)
    monkeypatch.setattr(curate.cli, "require_terminal", lambda command: None)
    monkeypatch.setattr(ReviewApp, "run", lambda self: asyncio.run(drive(self)))
    result = CliRunner().invoke(app, ["review", str(corpus.path), "--adjudicator", "judge"])
    assert result.exit_code == 0, result.output
    assert len(gold_writes) == 3
    assert " ".join(result.output.split()) == "1 snippet(s) accepted into gold, 1 skipped, 1 merged without asking; 2 gold in all"
    assert set(gold_on_disk(corpus.path)) == {"s1", "s3"}
