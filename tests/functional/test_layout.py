"""The annotation screen's layout driven headless: labels never move text, the text has a
maximum width, the truncation cut is marked, and the footer and `?` fit 80x24."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_run import AppRun

from curate.annotating import AnnotatorDesk
from curate.ingest import ingest
from curate.tui.app import AnnotateApp
from curate.tui.document import CUT_MARK, TEXT, cells
from curate.tui.widgets.snippet_view import SnippetView

SENTENCE = "Vladimir Putin met Kim Jong-un in Pyongyang while officials of the Bank of Korea watched the talks closely"
TEXT_ = " ".join([SENTENCE + "."] * 4) + "\nPhoto: AP\n" + " ".join([SENTENCE + "!"] * 3)
SNIPPETS = [{"id": "page-1", "text": TEXT_}, {"id": "page-2", "text": "A second page."}]


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    source = tmp_path / "source.jsonl"
    source.write_text("".join(json.dumps(snippet) + "\n" for snippet in SNIPPETS), encoding="utf-8")
    ingest([source], tmp_path / "corpus")
    return tmp_path / "corpus"


class Run(AppRun):
    def __init__(self, corpus_dir: Path, size: tuple[int, int], **options) -> None:
        self.desk = AnnotatorDesk.open(corpus_dir, "ana", "todo")
        self.app = AnnotateApp(self.desk, {}, cursor_blink=False, **options)
        self.size = size

    @property
    def view(self) -> SnippetView:
        return self.app.screen.query_one(SnippetView)

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    def screen_lines(self) -> list[str]:
        return ["".join(segment.text for segment in strip).rstrip() for strip in self.app.screen._compositor.render_strips()]

    def token_places(self) -> list[tuple[int, int]]:
        """(screen row, screen column) of every token, as the view lays it out."""
        view = self.view
        places = []
        for start, _ in view.model.tokens:
            y = view.line_of_offset(start)
            line = view.document_line(y)
            places.append((y, view.region.x + view.styles.padding.left + cells(view.display_text[line.start : start])))
        return places

    def text_columns(self) -> list[str]:
        """The screen rows of the view, cut where the text ends (the margin left out)."""
        view = self.view
        left = view.region.x + view.styles.padding.left
        rows = self.screen_lines()[view.region.y : view.region.y + view.region.height]
        return [row[left : left + view._layout_width].rstrip() for row in rows]


async def test_labelling_and_relabelling_move_no_token(corpus_dir):
    async with Run(corpus_dir, (80, 24)) as run:
        before_places = run.token_places()
        before_rows = run.text_columns()
        assert sum(1 for row in before_rows if row.strip()) > 8  # the paragraphs wrap
        # label a token, select and label a span, relabel to a longer label, mark boilerplate
        await run.press("1", "l", "l", "l", "shift+right", "shift+right", "2", "1", "j", "l", "l", "shift+right", "4")
        await run.press("]", "c", "1")
        record = run.app.screen.opened.session.record
        assert len(record.entities) == 3 and record.boilerplate
        assert run.token_places() == before_places
        assert run.text_columns() == before_rows
        labels_on_screen = "\n".join(run.screen_lines())
        assert "PERSON" in labels_on_screen and "LOC" in labels_on_screen  # the margin names them
        await run.press("u", "u")
        assert run.token_places() == before_places


@pytest.mark.parametrize("width_option, expected", [(None, 100), (60, 60), (0, None)])
async def test_text_is_no_wider_than_the_maximum_on_a_wide_terminal(corpus_dir, width_option, expected):
    options = {} if width_option is None else {"text_width": width_option}
    async with Run(corpus_dir, (200, 60), **options) as run:
        view = run.view
        available = view.scrollable_content_region.width
        limit = expected if expected is not None else available - 15  # 0: the window less the margin
        text_lines = [view.document_line(y) for y in range(view.line_count)]
        widths = [cells(view.display_text[line.start : line.end].rstrip()) for line in text_lines if line.kind == TEXT]
        assert max(widths) <= limit
        assert max(widths) > limit - 15  # the lines do fill the width they have
        left = view.region.x + view.styles.padding.left
        for row in run.screen_lines()[view.region.y : view.region.y + view.region.height]:
            text_part = row[left:].split("  ")[0] if row.startswith(" ") else ""
            assert len(text_part) <= limit


async def test_the_truncation_cut_is_marked_after_the_last_word(corpus_dir):
    async with Run(corpus_dir, (100, 32)) as run:
        before = run.text_columns()
        assert not any(CUT_MARK in row for row in run.screen_lines())
        await run.press("t")
        assert run.app.screen.opened.session.record.stories[0].truncated
        rows = run.screen_lines()
        marked = [row for row in rows if CUT_MARK in row]
        assert len(marked) == 1
        assert marked[0].rstrip().endswith("closely! " + CUT_MARK)  # the story's last words, then the mark
        after = run.text_columns()
        for old, new in zip(before, after):
            if old.startswith("━━"):
                continue  # the story's rule says "truncated" now
            assert new.replace(" " + CUT_MARK, "").rstrip() == old.rstrip()  # no text moved
        await run.press("t")
        assert not any(CUT_MARK in row for row in run.screen_lines())


def footer_pairs(row: str) -> list[tuple[str, str]]:
    """(key, word) pairs of a rendered footer row, e.g. `? help  q quit` (words never start a hint)."""
    import re

    return [(match.group(1), match.group(2)) for match in re.finditer(r"(\S+) ([a-z][a-z' .]*?)(?=\s+\S+ [a-z]|\s*$)", row.strip())]


@pytest.mark.parametrize("keymap", [{}, {"undo": "z,ctrl+z"}])
async def test_footer_at_80x24_shows_the_most_useful_hints_whole(corpus_dir, keymap):
    from curate.tui.keymap import ANNOTATE_KEYS

    run = Run(corpus_dir, (80, 24))
    run.app = AnnotateApp(run.desk, keymap, cursor_blink=False)
    async with run:
        row = run.screen_lines()[-1]
        assert len(row) <= 80
        pairs = footer_pairs(row)
        specs = {spec.id: spec for spec in ANNOTATE_KEYS}
        active = [binding for _, binding, _, _ in run.app.screen.active_bindings.values() if binding.id]
        bindings = {binding.id: binding for binding in reversed(active)}  # the first key of each
        shown_keys = {run.app.get_key_display(binding) for binding in active if binding.show}
        # every hint on the row is whole: a shown binding's key followed by a word
        assert pairs and all(key in shown_keys for key, _ in pairs)
        assert " ".join(f"{key} {word}" for key, word in pairs) == " ".join(row.split())
        must = ["help", "quit", "done", "undo", "skip", "remove-entity", "story-start", "boilerplate", "truncated"]
        keys_on_row = [key for key, _ in pairs]
        for binding_id in must:
            assert specs[binding_id].show
            assert run.app.get_key_display(bindings[binding_id]) in keys_on_row, binding_id
        if keymap:
            assert ("z", "undo") in pairs  # the user's key, not the default


async def test_help_at_80x24_shows_most_keys_at_once(corpus_dir):
    from curate.tui.screens.help import BRIEF, HelpScreen, help_entries, shown_keys

    async with Run(corpus_dir, (80, 24)) as run:
        await run.press("question_mark")
        screen = run.app.screen
        assert isinstance(screen, HelpScreen)
        rows = run.screen_lines()
        entries = [entry for entry in help_entries({}, run.desk.corpus.config, screen.specs, screen.palette) if entry[0] == "key"]

        def visible(keys: str, description: str) -> bool:
            starts = {description[:12], description.replace(" (or relabel)", "")[:12], BRIEF.get(description, description)[:12]}
            return any(f"{keys}  " in row and any(f"  {start}" in row.split(keys, 1)[1][:40] for start in starts) for row in rows)

        seen = [entry for entry in entries if visible(shown_keys(entry[1]), entry[2])]
        needed = -(-len(entries) * 2 // 3)  # two thirds of the keys the help lists, rounded up
        assert len(seen) >= needed, ([entry for entry in entries if entry not in seen], rows)
        assert all(len(row) <= 80 for row in rows)
