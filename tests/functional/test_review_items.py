"""Review's who-chose-what items (issue 15, item 7), driven headless: keys in, screen and gold out.

Each item under the cursor shows its text and the choice the record holds now; the annotators
are numbered as `a` takes them; a resolved disagreement is dim with a ✓, no longer underlined,
and `d`/`D` pass it by. Self-contained: the corpus is built here.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from app_run import AppRun
from rich.console import Console

from curate.adjudicate import Item
from curate.ingest import ingest
from curate.model import Annotation, BoilerplateRange, Entity, Story, text_sha256
from curate.reviewing import ReviewDesk, item_excerpt, resolved_keys
from curate.store import Corpus
from curate.tui.app import ReviewApp
from curate.tui.screens.help import HelpScreen, help_table
from curate.tui.screens.review import ReviewScreen

TEXT = "Ana Lopez met Bolt Corp in Lima.\nPhoto: Ben Ray\nStorms hit Oslo on Monday and the"
BOLT = TEXT.index("Bolt Corp")
LIMA = TEXT.index("Lima")
PHOTO = TEXT.index("Photo")
SECOND = TEXT.index("Storms")
# A page whose entity holds a terminal escape and a right-to-left override.
HOSTILE = "Met Evil\x1b[2J\u202eCorp today.\nNothing else happened there at all."
EVIL = HOSTILE.index("Evil")
EVIL_END = HOSTILE.index(" today")
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


def record(annotator, entities, *, snippet_id="s1", text=TEXT, starts=(SECOND,), boilerplate=((PHOTO, PHOTO + 14, "credit"),)):
    cuts = [0, *(start for start in starts if start < len(text)), len(text)]
    return Annotation(
        snippet_id=snippet_id,
        annotator=annotator,
        text_sha256=text_sha256(text),
        stories=[Story(start=a, end=b) for a, b in zip(cuts, cuts[1:])],
        boilerplate=[BoilerplateRange(start=a, end=b, kind=kind) for a, b, kind in boilerplate],
        entities=[Entity(start=a, end=b, label=label) for a, b, label in entities],
        status="done",
        updated_at="2026-11-28T10:00:00Z",
    )


def make_corpus(tmp_path, texts: dict[str, str], journals: dict[str, list[Annotation]]) -> Path:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": value}) + "\n" for key, value in texts.items()))
    ingest([source], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    try:
        for name, records in journals.items():
            with corpus.journal(name, writable=True) as journal:
                for one in records:
                    journal.append(one)
    finally:
        corpus.close()
    return tmp_path / "c"


def two_annotators(tmp_path) -> Path:
    """ana and ben agree on Ana Lopez and disagree on Bolt Corp (ORG/GPE) and Lima (GPE/LOC): two ties."""
    ana = record("ana", ((0, 9, "PERSON"), (BOLT, BOLT + 9, "ORG"), (LIMA, LIMA + 4, "GPE")))
    ben = record("ben", ((0, 9, "PERSON"), (BOLT, BOLT + 9, "GPE"), (LIMA, LIMA + 4, "LOC")))
    return make_corpus(tmp_path, {"s1": TEXT}, {"ana": [ana], "ben": [ben]})


def three_annotators(tmp_path) -> Path:
    """Bolt Corp: ORG by ana and ben, GPE by cy (the review starts from ORG); Lima: GPE, LOC, none."""
    ana = record("ana", ((BOLT, BOLT + 9, "ORG"), (LIMA, LIMA + 4, "GPE")))
    ben = record("ben", ((BOLT, BOLT + 9, "ORG"), (LIMA, LIMA + 4, "LOC")))
    cy = record("cy", ((BOLT, BOLT + 9, "GPE"),))
    return make_corpus(tmp_path, {"s1": TEXT}, {"ana": [ana], "ben": [ben], "cy": [cy]})


def gold_on_disk(path: Path) -> dict[str, dict]:
    gold = path / "gold.jsonl"
    if not gold.exists():
        return {}
    return {line["snippet_id"]: line for line in map(json.loads, gold.read_text().splitlines())}


class Review(AppRun):
    """A review app on the corpus, headless, with the desk closed on the way out."""

    def __init__(self, path: Path, size=(110, 30)) -> None:
        self.desk = ReviewDesk(Corpus.open(path), "judge")
        self.app = ReviewApp(self.desk, cursor_blink=False)
        self.size = size

    @property
    def screen(self) -> ReviewScreen:
        assert isinstance(self.app.screen, ReviewScreen)
        return self.app.screen

    def strips(self):
        return self.app.screen._compositor.render_strips()

    def line(self, y: int) -> str:
        return "".join(segment.text for segment in self.strips()[y]).rstrip()

    def segment_with(self, y: int, text: str):
        found = [segment for segment in self.strips()[y] if text in segment.text]
        assert found, (text, self.line(y))
        return found[0]

    def cursor_offset(self) -> int:
        return self.screen.view.cursor_span[0]

    def entities(self) -> list[tuple[int, int, str]]:
        return [(e.start, e.end, e.label) for e in self.screen.opened.session.record.entities]

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()


# ---------------------------------------------------------------- on screen


async def test_annotators_are_numbered_and_each_item_shows_its_text_and_the_records_choice(tmp_path):
    async with Review(two_annotators(tmp_path)) as run:
        await run.press("d")  # the first disagreement: Bolt Corp (both marked Ana Lopez alike)
        assert run.cursor_offset() == BOLT
        line = run.line(1)
        assert line.lstrip().startswith("1 ana · 2 ben  ")
        # A tie: the review starts without the span, so the record holds none for it yet.
        assert "entity “Bolt Corp”: ORG: ana · GPE: ben · now: none" in line
        assert "✓" not in line
        assert "not in gold · 2 disagreements · score" in run.line(0)


async def test_a_2_takes_bens_choice_the_item_looks_resolved_and_d_passes_it_by(tmp_path):
    path = two_annotators(tmp_path)
    async with Review(path) as run:
        await run.press("d")
        assert (BOLT, BOLT + 9) in run.screen.view.highlights  # underlined while open
        await run.press("a", "2")  # 2 is ben, as the line numbers him
        assert (BOLT, BOLT + 9, "GPE") in run.entities()
        await run.press("escape")  # the message goes; the item shows again
        line = run.line(1)
        assert "✓ entity “Bolt Corp”: ORG: ana · GPE: ben · now: GPE" in line
        resolved_colour = run.segment_with(1, "Bolt Corp").style.color
        assert "2 disagreements · 1 resolved ·" in run.line(0)
        assert (BOLT, BOLT + 9) not in run.screen.view.highlights
        assert (LIMA, LIMA + 4) in run.screen.view.highlights
        # From the first token, d passes the resolved Bolt Corp and lands on Lima.
        run.screen.view.set_cursor(0)
        await run.press("d")
        assert run.cursor_offset() == LIMA
        assert "entity “Lima”: GPE: ana · LOC: ben · now: none" in run.line(1)
        open_colour = run.segment_with(1, "Lima").style.color
        assert sum(resolved_colour.get_truecolor()) < sum(open_colour.get_truecolor())  # the resolved item is dimmed
        await run.press("D")  # nothing open before Lima: Bolt Corp is passed by here too
        assert run.cursor_offset() == LIMA
        assert run.screen.message.plain == "no more open disagreements this way"
        run.screen.view.set_cursor(0)
        await run.press("D")
        assert run.cursor_offset() == 0 and run.screen.message.plain == "no more open disagreements this way (1 the other way)"
        run.screen.view.set_cursor(run.screen.opened.session.model.token_at(LIMA))
        await run.press("a", "1")  # ana's GPE for Lima: every disagreement resolved
        await run.press("d")
        assert "every disagreement is resolved" in run.screen.message.plain
        assert run.screen.view.highlights == []
        await run.press("enter")
    gold = gold_on_disk(path)["s1"]
    assert [(e["start"], e["end"], e["label"]) for e in gold["entities"]] == [(0, 9, "PERSON"), (BOLT, BOLT + 9, "GPE"), (LIMA, LIMA + 4, "GPE")]
    assert gold["sources"] == ["ana", "ben"] and gold["adjudicator"] == "judge"


async def test_taking_the_choice_the_record_already_holds_resolves_it_and_undo_opens_it_again(tmp_path):
    async with Review(three_annotators(tmp_path)) as run:
        await run.press("d")
        assert run.cursor_offset() == BOLT
        assert "1 ana · 2 ben · 3 cy" in run.line(1)
        assert "entity “Bolt Corp”: ORG: ana, ben · GPE: cy · now: ORG" in run.line(1)  # the majority, taken at the start
        before = run.entities()
        await run.press("m")  # agree with the majority: nothing changes but the item is settled
        assert run.entities() == before
        assert "now resolved" in run.screen.message.plain and "nothing changes" not in run.screen.message.plain
        assert run.screen.opened.resolved() == {("entity", BOLT, BOLT + 9)}
        await run.press("m")  # again: now it is refused, there is nothing left to do
        assert "nothing changes" in run.screen.message.plain
        run.screen.view.set_cursor(0)
        await run.press("d")
        assert run.cursor_offset() == LIMA
        await run.press("u")  # the `m` undone: Bolt Corp is open again
        assert run.screen.opened.resolved() == frozenset()
        assert (BOLT, BOLT + 9) in run.screen.view.highlights
        run.screen.view.set_cursor(0)
        await run.press("d")
        assert run.cursor_offset() == BOLT


async def test_an_annotation_key_that_changes_an_items_choice_resolves_it_and_a_reopening_still_shows_it(tmp_path):
    path = three_annotators(tmp_path)
    async with Review(path) as run:
        await run.press("d", "d")
        assert run.cursor_offset() == LIMA
        assert "now: none" in run.line(1)  # GPE, LOC, none: a tie
        await run.press("4")  # LOC, by the label key: the adjudicator's own decision
        assert (LIMA, LIMA + 4, "LOC") in run.entities()
        await run.press("escape")
        assert "✓ entity “Lima”: GPE: ana · LOC: ben · none: cy · now: LOC" in run.line(1)
        await run.press("q")
    async with Review(path) as run:  # from the review journal: Lima is still settled, Bolt Corp open
        assert run.screen.opened.resolved() == {("entity", LIMA, LIMA + 4)}
        await run.press("d")
        assert run.cursor_offset() == BOLT
        await run.press("d")
        assert run.cursor_offset() == BOLT and "no more open disagreements this way" in run.screen.message.plain


async def test_A_resolves_every_disagreement_at_once(tmp_path):
    async with Review(two_annotators(tmp_path)) as run:
        await run.press("A", "1")
        assert run.screen.opened.resolved() == {("entity", BOLT, BOLT + 9), ("entity", LIMA, LIMA + 4)}
        assert "2 disagreements · 2 resolved" in run.line(0)
        run.screen.view.set_cursor(0)
        await run.press("escape")
        assert "every disagreement is resolved (enter: accept)" in run.line(1)


async def test_span_text_from_a_hostile_page_is_shown_escaped(tmp_path):
    ana = record("ana", ((EVIL, EVIL_END, "ORG"),), snippet_id="h1", text=HOSTILE, starts=(), boilerplate=())
    ben = record("ben", (), snippet_id="h1", text=HOSTILE, starts=(), boilerplate=())
    path = make_corpus(tmp_path, {"h1": HOSTILE}, {"ana": [ana], "ben": [ben]})
    async with Review(path) as run:
        await run.press("d")
        assert run.cursor_offset() == EVIL
        shown = run.screen.context_line().plain
        assert "entity “Evil\\x1b[2J\\u202eCorp”: ORG: ana · none: ben · now: none" in shown
        for y in range(len(run.strips())):
            assert not UNSAFE.search(run.line(y)), run.line(y)


async def test_help_and_readme_describe_the_item_line(tmp_path):
    async with Review(two_annotators(tmp_path)) as run:
        await run.press("question_mark")
        help_screen = run.app.screen
        assert isinstance(help_screen, HelpScreen)
        shown = " ".join(str(widget.render()) for widget in help_screen.query("Static"))
        assert "1 ana · 2 ben" in shown and "now:" in shown and "✓" in shown
        console = Console(width=140, file=io.StringIO(), record=True)
        console.print(help_table({}, None, help_screen.specs))
        assert "not yet resolved" in console.export_text()
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert "1 ana · 2 ben" in readme and "now: GPE" in readme and "✓" in readme


async def test_at_80_columns_the_item_line_keeps_the_numbers_the_text_and_the_records_choice(tmp_path):
    async with Review(two_annotators(tmp_path), size=(80, 24)) as run:
        await run.press("d")
        line = run.line(1)
        assert len(line) <= 80
        assert "1 ana · 2 ben" in line and "“Bolt Corp”" in line and "now: none" in line


# ---------------------------------------------------------------- the pure parts


def test_item_excerpts_are_one_line_and_cut_between_words():
    long = "The Very Long Name Of A Company Limited\nand more text follows here."
    assert item_excerpt(Item("entity", 0, long.index("\n"), ()), long, 20) == "The Very Long Name…"
    assert item_excerpt(Item("boilerplate", 0, len(long), ()), long, 100) == "The Very Long Name Of A Company Limited and more text follows here."
    assert item_excerpt(Item("story_start", 0, 0, ()), long, 24) == "The Very Long Name Of…"
    assert item_excerpt(Item("truncated", len(long), len(long), ()), long, 16) == "…follows here."
    word = "Abcdefghijklmnopqrstuvwxyzabcdefgh"
    assert item_excerpt(Item("entity", 0, len(word), ()), word, 10) == "Abcdefghi…"
    assert item_excerpt(Item("truncated", len(word), len(word), ()), word, 10) == "…zabcdefgh"


def test_resolved_keys_come_from_choice_edits_still_done_and_from_changed_choices():
    from curate.reviewing import choices_edit

    ana = record("ana", ((BOLT, BOLT + 9, "ORG"),))
    ben = record("ben", ((BOLT, BOLT + 9, "GPE"),))
    item = Item("entity", BOLT, BOLT + 9, (("ana", "ORG"), ("ben", "GPE")))
    merged = record("judge", ())
    assert resolved_keys([item], merged, merged, []) == frozenset()
    assert resolved_keys([item], ben, merged, []) == {item.key}  # the record's choice changed
    confirm = choices_edit("take", merged, merged, "", [item.key])  # no change, but decided
    assert resolved_keys([item], merged, merged, [confirm]) == {item.key}
    assert resolved_keys([item], ana, ana, []) == frozenset()
