"""One key, one pass over the suggestion: the label key and the status line ask the review
items through a cache, and the review jump still lands on the right items after edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate import navigation
from curate.annotating import AnnotatorDesk
from curate.ingest import ingest
from curate.model import Annotation, Entity, Story
from curate.store import Corpus
from curate.tui.app import AnnotateApp
from curate.tui.screens.annotate import AnnotateScreen

TEXT = "Putin met Kimberly Lee in Jakarta on Monday. Reuters said UNESCO and Bali agreed."


def span(word: str) -> tuple[int, int]:
    start = TEXT.index(word)
    return start, start + len(word)


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    source = tmp_path / "source.jsonl"
    source.write_text(json.dumps({"id": "page-1", "text": TEXT}) + "\n", encoding="utf-8")
    ingest([source], tmp_path / "corpus")
    folder = tmp_path / "corpus"
    names = [("Putin", "PERSON"), ("Kimberly Lee", "ORG"), ("Jakarta", "LOC"), ("Reuters", "ORG"), ("Bali", "LOC")]
    entities = [Entity(start=span(name)[0], end=span(name)[1], label=label) for name, label in names]
    with Corpus.open(folder) as corpus, corpus.suggestions(writable=True) as suggestions:
        suggestions.append(Annotation(snippet_id="page-1", annotator="model:test", stories=[Story(start=0, end=len(TEXT))], entities=entities))
    return folder


@pytest.fixture
def passes(monkeypatch) -> list[int]:
    """Counts the records gone through item by item (the expensive part of items_to_review:
    one pass is two, the suggestion's and the record's)."""
    counted: list[int] = []
    original = navigation.record_items

    def counting(record):
        counted.append(1)
        return original(record)

    monkeypatch.setattr(navigation, "record_items", counting)
    return counted


async def test_a_label_key_goes_through_the_suggestion_at_most_once_and_r_still_lands_right(corpus_dir, passes):
    desk = AnnotatorDesk.open(corpus_dir, "ana", "todo")
    app = AnnotateApp(desk, None, cursor_blink=False)
    try:
        async with app.run_test(size=(120, 32)) as pilot:
            await pilot.pause()
            screen = next(screen for screen in app.screen_stack if isinstance(screen, AnnotateScreen))

            def cursor_text() -> str:
                start, end = screen.view.cursor_span
                return TEXT[start:end]

            assert cursor_text() == "Putin" and "suggested" in screen.context_line().plain
            await pilot.press("r")  # accepts Putin, on to Kimberly
            await pilot.pause()
            assert cursor_text() == "Kimberly" and "4 left" in screen.context_line().plain
            passes.clear()
            await pilot.press("1")  # relabel Kimberly Lee: an edit, a save, two status lines
            await pilot.pause()
            assert len(passes) <= 2, passes
            assert "suggested" not in screen.context_line().plain  # relabelled: settled
            passes.clear()
            await pilot.press("r")  # on to Jakarta, past the relabelled Kimberly Lee
            await pilot.pause()
            assert len(passes) <= 2 and cursor_text() == "Jakarta" and "3 left" in screen.context_line().plain
            passes.clear()
            await pilot.press("4")  # Jakarta's own label: accepted, nothing written
            await pilot.pause()
            assert len(passes) <= 2 and "LOC 'Jakarta' accepted" in screen.context_line().plain
            assert "suggested" not in screen.context_line().plain
            await pilot.press("r")  # Jakarta was accepted by its label: on to Reuters
            await pilot.pause()
            assert cursor_text() == "Reuters" and "2 left" in screen.context_line().plain
            await pilot.press("x")  # removed: settled
            await pilot.pause()
            await pilot.press("R")  # back: nothing before it is left to review
            await pilot.pause()
            assert "no suggested item to review before" in screen.context_line().plain
            await pilot.press("r")
            await pilot.pause()
            assert cursor_text() == "Bali" and "1 left" in screen.context_line().plain
            await pilot.press("u")  # undo the removal: Reuters is to review again
            await pilot.pause()
            await pilot.press("R")
            await pilot.pause()
            assert cursor_text() == "Reuters"
    finally:
        desk.close()
