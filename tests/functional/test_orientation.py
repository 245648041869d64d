"""Orientation on the annotate screen, driven headless: reopening returns to the last snippet and
token; `seconds` counts editing, not browsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annotate_run import NEWS, SNIPPETS, Run, saved, write_corpus

from curate.annotating import Place, read_place, write_place
from curate.model import Annotation, Story, text_sha256
from curate.store import Corpus, CorpusLayout
from curate.tui.screens.annotate import AnnotateScreen


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    return write_corpus(tmp_path, SNIPPETS)


@pytest.fixture
def clock(monkeypatch) -> dict:
    now = {"now": 1000.0}
    monkeypatch.setattr(AnnotateScreen, "clock", staticmethod(lambda: now["now"]))
    return now


def place_path(corpus_dir: Path) -> Path:
    return CorpusLayout(corpus_dir).place("ana")


def journal_bytes(corpus_dir: Path) -> bytes:
    return (corpus_dir / "annotations" / "ana.jsonl").read_bytes()


class Reopened(Run):
    """The app opened like `curate annotate` does: at --start, else where the annotator last was."""

    def __init__(self, corpus_dir: Path, queue: str = "todo", start: str | None = None) -> None:
        super().__init__(corpus_dir, queue)
        self.desk.start_at(None if start is None else self.desk.corpus.position(start))


def save_done(corpus_dir: Path, snippet_id: str, text: str, seconds: float) -> None:
    with Corpus.open(corpus_dir) as corpus, corpus.journal("ana", writable=True) as journal:
        stories = [Story(start=0, end=len(text))]
        journal.append(Annotation(snippet_id=snippet_id, annotator="ana", status="done", seconds=seconds, stories=stories, text_sha256=text_sha256(text)))


# ---------------------------------------------------------------- reopening


async def test_reopening_returns_to_the_last_snippet_and_token(corpus_dir):
    async with Reopened(corpus_dir) as run:
        await run.press("n", "l", "l", "l", "l")
        assert run.screen.opened.snippet.id == "news-2" and run.cursor_text() == "mentions"
        await run.press("q")
    assert read_place(place_path(corpus_dir)) == Place("news-2", 4)
    async with Reopened(corpus_dir) as run:
        assert run.screen.opened.snippet.id == "news-2" and run.cursor_text() == "mentions"
        assert run.desk.index == 1
        await run.press("l")
        assert run.cursor_text() == "Bali"


async def test_start_wins_over_the_last_place(corpus_dir):
    write_place(place_path(corpus_dir), Place("news-2", 2))
    async with Reopened(corpus_dir, start="news-3") as run:
        assert run.screen.opened.snippet.id == "news-3" and run.cursor_text() == "Third"


async def test_a_last_snippet_no_longer_in_the_queue_opens_the_queue_at_its_start(corpus_dir):
    async with Reopened(corpus_dir) as run:
        await run.press("n", "l", "s", "p")  # skip news-2 (out of todo), come back to it, quit there
        assert run.screen.opened.snippet.id == "news-2"
        await run.press("q")
    assert read_place(place_path(corpus_dir)) == Place("news-2", 1)
    async with Reopened(corpus_dir, queue="skipped") as run:  # still in this queue
        assert run.screen.opened.snippet.id == "news-2" and run.cursor_text() == "snippet"
    async with Reopened(corpus_dir) as run:
        assert run.screen.opened.snippet.id == "news-1" and run.cursor_text() == "Kim"
    assert read_place(place_path(corpus_dir)) == Place("news-1", 0)  # where this session closed


async def test_a_token_past_the_end_lands_on_the_last_token(corpus_dir):
    write_place(place_path(corpus_dir), Place("news-3", 999))
    async with Reopened(corpus_dir) as run:
        assert run.screen.opened.snippet.id == "news-3" and run.cursor_text() == "."


@pytest.mark.parametrize(
    "content",
    [b"\x00\xff garbage", b"{\"snippet_id\": \"news-2\"}", b"{\"snippet_id\": 3, \"token\": 1}", b"{\"snippet_id\": \"news-2\", \"token\": -4}", b"[1, 2]", b"{\"snippet_id\": \"gone\", \"token\": 1}"],
)
async def test_a_damaged_or_stale_place_is_ignored_and_rewritten(corpus_dir, content):
    path = place_path(corpus_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    async with Reopened(corpus_dir) as run:
        assert run.screen.opened.snippet.id == "news-1" and run.cursor_text() == "Kim"
        await run.press("l", "q")
    assert json.loads(path.read_text()) == {"snippet_id": "news-1", "token": 1}


async def test_a_place_that_cannot_be_written_does_not_break_quitting(corpus_dir):
    path = place_path(corpus_dir)
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    path.parent.write_text("not a folder")  # writing the place fails (as on a read-only corpus)
    async with Reopened(corpus_dir) as run:
        await run.press("1", "q")
    assert saved(corpus_dir)["news-1"]["entities"][0]["label"] == "PERSON"
    assert path.parent.read_text() == "not a folder"
    assert not write_place(path, Place("news-1", 0))
    async with Reopened(corpus_dir) as run:
        assert run.screen.opened.snippet.id == "news-1"


# ---------------------------------------------------------------- seconds


async def test_browsing_a_done_snippet_adds_no_time_and_writes_nothing(corpus_dir, clock):
    save_done(corpus_dir, "news-1", NEWS, 12.0)
    before = journal_bytes(corpus_dir)
    async with Run(corpus_dir, queue="all") as run:
        assert run.screen.opened.snippet.id == "news-1"
        clock["now"] += 20
        await run.press("l", "j")
        clock["now"] += 20
        await run.press("enter")  # already done: nothing changes, on to the next snippet
        assert run.screen.opened.snippet.id == "news-2"
        await run.press("p")
        clock["now"] += 40
        await run.press("q")
    assert journal_bytes(corpus_dir) == before
    assert saved(corpus_dir)["news-1"]["seconds"] == 12.0


async def test_editing_a_done_snippet_adds_the_time_up_to_each_change(corpus_dir, clock):
    save_done(corpus_dir, "news-1", NEWS, 12.0)
    async with Run(corpus_dir, queue="all") as run:
        clock["now"] += 20
        await run.press("1")  # reading before the first change is editing time
        assert saved(corpus_dir)["news-1"]["seconds"] == 32.0
        clock["now"] += 7
        await run.press("l")
        clock["now"] += 3
        await run.press("2")
        assert saved(corpus_dir)["news-1"]["seconds"] == 42.0
        lines = journal_bytes(corpus_dir).count(b"\n")
        clock["now"] += 50  # looking after the last change, then leaving: not counted
        await run.press("n")
        clock["now"] += 30
        await run.press("q")
    assert journal_bytes(corpus_dir).count(b"\n") == lines
    assert saved(corpus_dir)["news-1"]["seconds"] == 42.0
