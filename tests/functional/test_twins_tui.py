"""Annotate a wire story once (issue 18, item 3), driven headless: the status line names the
annotated near twin, `T` copies its marks onto this snippet, `u` takes the copy back; records on disk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from annotate_run import Run, saved, write_corpus

from curate.model import BoilerplateRange, Entity, GoldAnnotation, Story, text_sha256
from curate.store import Corpus
from curate.twins import build_index

BODY = (
    "Acme Corp said on Tuesday it would buy Widget Holdings for two billion dollars in cash and shares, "
    "the largest deal in the sector this year. Chief executive Jane Doe told reporters the purchase "
    "would close in June once regulators in Brussels and Washington had approved it. Shares of the "
    "company rose four percent in early trade while the wider market was flat. Analysts at Big Bank "
    "said the price was fair and that the combined group would save money on factories, shipping and "
    "research over the next three years, though some investors worried about the debt it would carry."
)
SOURCE = "PARIS, March 3 (Reuters) -\n" + BODY + "\n"
# the twin: another dateline, one word changed, and the chief executive's name spelled otherwise
TWIN = "LONDON, March 4 (Reuters) -\n" + BODY.replace("early trade", "morning trade").replace("Jane Doe", "Jane Dough") + "\n"
OTHER = "Local news: the council met on Monday to discuss parking fees and a new library."


def span(text: str, surface: str) -> tuple[int, int]:
    start = text.index(surface)
    return start, start + len(surface)


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    corpus_dir = write_corpus(tmp_path, [{"id": "page-a", "text": SOURCE}, {"id": "page-b", "text": TWIN}, {"id": "page-c", "text": OTHER}])
    entities = [Entity(start=start, end=end, label=label) for (start, end), label in ((span(SOURCE, "Acme Corp"), "ORG"), (span(SOURCE, "Widget Holdings"), "ORG"), (span(SOURCE, "Jane Doe"), "PERSON"), (span(SOURCE, "Brussels"), "GPE"), (span(SOURCE, "Big Bank"), "ORG"))]
    dateline = span(SOURCE, "PARIS, March 3 (Reuters) -")
    gold = GoldAnnotation(
        snippet_id="page-a",
        annotator="gold",
        text_sha256=text_sha256(SOURCE),
        stories=[Story(start=0, end=len(SOURCE), truncated=True)],
        boilerplate=[BoilerplateRange(start=dateline[0], end=dateline[1], kind="dateline")],
        entities=sorted(entities, key=lambda entity: entity.start),
        status="done",
        adjudicator="carol",
    )
    with Corpus.open(corpus_dir) as corpus:
        corpus.gold().put(gold)
    return corpus_dir


async def ready(run: Run) -> None:
    """Wait for the twin index the screen builds in a worker."""
    await run.app.workers.wait_for_complete()
    await run.pilot.pause()


def test_the_index_finds_the_gold_twin_of_the_queued_page(corpus_dir):
    index = build_index(corpus_dir)
    (twin,) = index.of("page-b")
    assert (twin.source_id, twin.source_story) == ("page-a", 0)
    assert 0.8 <= twin.similarity < 1.0
    assert index.of("page-c") == [] and index.of("page-a") == []  # page-a is the source, not a copy


async def test_T_copies_the_twin_and_u_takes_the_copy_back(corpus_dir):
    async with Run(corpus_dir, start="page-b") as run:
        await ready(run)
        line = run.screen.context_line().plain
        assert re.search(r"story 1 is a near twin of page-a story 1 \(similarity 0\.[89]\d\): T copies it", line), line
        await run.press("T")
        record = saved(corpus_dir)["page-b"]
        copied = [(TWIN[entity["start"] : entity["end"]], entity["label"]) for entity in record["entities"]]
        assert copied == [("Acme Corp", "ORG"), ("Widget Holdings", "ORG"), ("Brussels", "GPE"), ("Big Bank", "ORG")]
        assert [(TWIN[item["start"] : item["end"]], item["kind"]) for item in record["boilerplate"]] == [("LONDON, March 4 (Reuters) -", "dateline")]
        assert record["stories"] == [{"start": 0, "end": len(TWIN), "truncated": True}]
        message = run.screen.message.plain
        assert "copied 4 of 5 entities; 1 not mapped: “Jane Doe”" in message
        await run.press("u")
        record = saved(corpus_dir)["page-b"]
        assert record["entities"] == [] and record["boilerplate"] == []
        assert record["stories"] == [{"start": 0, "end": len(TWIN), "truncated": False}]


async def test_T_on_a_snippet_without_a_twin_says_so_and_saves_nothing(corpus_dir):
    async with Run(corpus_dir, start="page-c") as run:
        await ready(run)
        assert "near twin" not in run.screen.context_line().plain
        await run.press("T")
        assert "no story of this snippet has an annotated near twin" in run.screen.message.plain
    assert "page-c" not in saved(corpus_dir)


async def test_a_story_marked_done_becomes_the_twin_of_a_later_page(tmp_path):
    corpus_dir = write_corpus(tmp_path, [{"id": "page-a", "text": SOURCE}, {"id": "page-b", "text": TWIN}])
    async with Run(corpus_dir, start="page-a") as run:
        await ready(run)
        assert "near twin" not in run.screen.context_line().plain  # nothing annotated yet
        await run.press("enter")  # page-a done: the index is built again in the worker
        await ready(run)
        assert run.screen.opened.snippet.id == "page-b"
        assert "near twin of page-a story 1" in run.screen.context_line().plain


def test_T_is_in_the_help_and_not_on_the_review_screen():
    from curate.tui.keymap import REVIEW_SCREEN_KEYS
    from curate.tui.screens.help import help_entries

    rows = {binding_id: (keys, does) for kind, keys, does, binding_id in help_entries({}, None) if kind == "key"}
    assert rows["copy-twin"][0] == "T" and "near twin" in rows["copy-twin"][1]
    assert "copy-twin" not in {spec.id for spec in REVIEW_SCREEN_KEYS}


async def test_a_twin_index_that_fails_to_build_leaves_the_screen_working(corpus_dir, monkeypatch):
    import curate.tui.screens.annotate as annotate

    def broken(root):
        raise RuntimeError("a bug in building the index")

    monkeypatch.setattr(annotate, "build_index", broken)
    async with Run(corpus_dir, start="page-b") as run:
        await ready(run)
        await run.press("T")
        assert "no story of this snippet has an annotated near twin (still looking)" in run.screen.message.plain
        await run.press("shift+right", "1")  # the screen still edits and saves
        assert saved(corpus_dir)["page-b"]["entities"][0]["label"] == "PERSON"


async def test_twin_index_builds_run_one_at_a_time_and_a_request_meanwhile_builds_once_after(corpus_dir, monkeypatch):
    import threading

    import curate.tui.screens.annotate as annotate

    release = threading.Event()
    builds: list[int] = []

    def slow_build(root):
        builds.append(1)
        assert release.wait(10)
        return build_index(root)

    monkeypatch.setattr(annotate, "build_index", slow_build)
    async with Run(corpus_dir, start="page-b") as run:
        await run.pilot.pause()
        for _ in range(3):  # three snippets marked done while the first build still runs
            run.screen.find_twins()
        release.set()
        for _ in range(100):
            await run.app.workers.wait_for_complete()
            await run.pilot.pause(0.02)
            if not run.screen._twins_building:
                break
        assert len(builds) == 2 and run.screen.twins is not None and not run.screen._twins_stale
        await run.press("T")
        assert saved(corpus_dir)["page-b"]["entities"]


def test_a_done_record_is_a_twin_source_and_a_skipped_gold_is_not(tmp_path):
    from curate.model import Annotation

    corpus_dir = write_corpus(tmp_path, [{"id": "page-a", "text": SOURCE}, {"id": "page-b", "text": TWIN}])
    with Corpus.open(corpus_dir) as corpus:
        corpus.gold().put(GoldAnnotation(snippet_id="page-a", annotator="gold", stories=[Story(start=0, end=len(SOURCE))], status="skipped", adjudicator="carol"))
    assert build_index(corpus_dir).of("page-b") == []
    with Corpus.open(corpus_dir) as corpus, corpus.journal("bob", writable=True) as journal:
        journal.append(Annotation(snippet_id="page-a", annotator="bob", text_sha256=text_sha256(SOURCE), stories=[Story(start=0, end=len(SOURCE))], status="done"))
    (twin,) = build_index(corpus_dir).of("page-b")
    assert twin.source_id == "page-a" and twin.source.annotator == "bob"



async def test_after_T_cuts_a_heading_off_the_status_line_names_the_twin_story(tmp_path, corpus_dir):
    # page-d holds the twin under a heading: T makes "Top stories" story 1 and the twin story 2,
    # and the line went on calling story 1 (the heading) the near twin
    headed = "Top stories\n\n" + TWIN
    with Corpus.open(corpus_dir) as corpus:
        gold = corpus.gold().get("page-a")
    (tmp_path / "headed").mkdir()
    other = write_corpus(tmp_path / "headed", [{"id": "page-a", "text": SOURCE}, {"id": "page-d", "text": headed}])
    with Corpus.open(other) as corpus:
        corpus.gold().put(gold)
    async with Run(other, start="page-d") as run:
        await ready(run)
        assert "story 1 is a near twin of page-a story 1" in run.screen.context_line().plain
        await run.press("T")
        assert [story["start"] for story in saved(other)["page-d"]["stories"]] == [0, len("Top stories\n\n")]
        line = run.screen.context_line().plain
        assert "story 2 is a near twin of page-a story 1" in line and "story 1 is a near twin" not in line, line
