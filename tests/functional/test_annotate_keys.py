"""The jump, search, span and kind keys and the label guard, driven headless: keys in, records on disk out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_run import AppRun

from curate.annotating import AnnotatorDesk
from curate.ingest import ingest
from curate.model import Annotation, BoilerplateRange, Entity, Story
from curate.store import Corpus
from curate.tui.app import AnnotateApp
from curate.tui.keymap import ANNOTATE_KEYS, SCREEN_KEYS, check_conflicts
from curate.tui.screens.annotate import AnnotateScreen
from curate.tui.screens.prompts import ConfirmPrompt, KindChooser, TextPrompt

TEXT = (
    "The talks with Putin’s envoy ended at Ben Gurion airport on Monday.\n"
    "Photo: Reuters\n"
    "Kimberly Lee said the airport reopened . Putin said 2024 was calm."
)
SNIPPETS = [{"id": "page-1", "text": TEXT}, {"id": "page-2", "text": "A second page about Ben Gurion."}]


def at(text: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(text, start + 1)
    return start, start + len(text)


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    source = tmp_path / "source.jsonl"
    source.write_text("".join(json.dumps(snippet) + "\n" for snippet in SNIPPETS), encoding="utf-8")
    ingest([source], tmp_path / "corpus")
    return tmp_path / "corpus"


def suggest(corpus_dir: Path, **fields) -> None:
    with Corpus.open(corpus_dir) as corpus, corpus.suggestions(writable=True) as suggestions:
        suggestions.append(Annotation(snippet_id="page-1", annotator="model:test", **fields))


def saved(corpus_dir: Path) -> dict:
    """The last record of page-1 in ana's journal on disk."""
    path = corpus_dir / "annotations" / "ana.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    found = [record for record in records if record["snippet_id"] == "page-1"]
    return found[-1] if found else {}


def entities(record: dict) -> list[tuple[str, str]]:
    return [(TEXT[e["start"] : e["end"]], e["label"]) for e in record.get("entities", [])]


class Run(AppRun):
    """The app on the corpus, headless, as `curate annotate --annotator ana` opens it."""

    size = (120, 32)

    def __init__(self, corpus_dir: Path) -> None:
        self.desk = AnnotatorDesk.open(corpus_dir, "ana", "todo")
        self.app = AnnotateApp(self.desk, None, cursor_blink=False)

    @property
    def screen(self) -> AnnotateScreen:
        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, AnnotateScreen):
                return screen
        raise AssertionError(self.app.screen_stack)

    @property
    def view(self):
        return self.screen.view

    def cursor_text(self) -> str:
        start, end = self.view.cursor_span
        return TEXT[start:end]

    def selected(self) -> str | None:
        span = self.view.selection_span
        return None if span is None else TEXT[span[0] : span[1]]

    def context(self) -> str:
        return self.screen.context_line().plain

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def type(self, text: str) -> None:
        await self.press(*text)


# ---------------------------------------------------------------- keymap


NEW_IDS = (
    "entity-next", "entity-previous", "suggestion-next", "suggestion-previous", "name-next", "name-previous",
    "search-forward", "search-backward", "search-repeat", "search-repeat-reverse", "search-token-forward",
    "search-token-backward", "entity-grow-start", "entity-shrink-start", "entity-shrink-end", "entity-grow-end",
    "boilerplate-kind",
)


def test_every_new_key_has_an_id_a_description_and_no_clash():
    for screen, specs in SCREEN_KEYS.items():
        check_conflicts({}, specs, Path("defaults"), screen)  # raises on two bindings of one key
    ids = {spec.id: spec for spec in ANNOTATE_KEYS}
    for binding_id in NEW_IDS:
        assert ids[binding_id].description, binding_id
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    keys_section = readme[readme.index("## Keys") :]
    for spec in ANNOTATE_KEYS:
        if not spec.id.startswith("label-") or spec.id in ("label-1", "label-9", "label-all"):
            assert f"`{spec.id}`" in keys_section, spec.id


def test_keymaps_written_before_the_new_keys_still_load(tmp_path):
    """The new defaults leave e and w free: the keymap.py docstring's own example puts label-1 on e."""
    from curate.tui.keymap import load_keymap

    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\nlabel-1 = "e"\ncursor-right = "right,w"\ncursor-down = "j,down,ctrl+n"\n')
    for screen in SCREEN_KEYS:
        assert load_keymap(path, screen)["label-1"] == "e"


async def test_help_lists_the_new_keys(corpus_dir):
    from rich.console import Console

    from curate.tui.screens.help import HelpScreen, help_table

    async with Run(corpus_dir) as run:
        await run.press("question_mark")
        assert isinstance(run.app.screen, HelpScreen)
        await run.press("escape")
        console = Console(width=220, record=True)
        console.print(help_table({}, run.desk.corpus.config))
        table = console.export_text()
    for spec in ANNOTATE_KEYS:
        if spec.id in NEW_IDS:
            assert spec.id in table and spec.description in table, spec.id


# ---------------------------------------------------------------- jumps


async def test_g_and_G_jump_between_entities(corpus_dir):
    suggest(
        corpus_dir,
        stories=[Story(start=0, end=len(TEXT))],
        entities=[Entity(start=at("Putin’s")[0], end=at("Putin’s")[1], label="PERSON"), Entity(start=at("Ben Gurion")[0], end=at("Ben Gurion")[1], label="LOC")],
    )
    async with Run(corpus_dir) as run:
        await run.press("g")
        assert run.cursor_text() == "Putin"
        await run.press("g")
        assert run.cursor_text() == "Ben"
        await run.press("g")
        assert run.cursor_text() == "Ben" and "no entity after" in run.context()
        await run.press("l", "G")
        assert run.cursor_text() == "Ben"  # from inside: its own start
        await run.press("G")
        assert run.cursor_text() == "Putin"


async def test_o_selects_the_next_unlabelled_name_run_and_a_label_key_labels_it(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("o")  # 'The' starts a sentence and 'the' is in the text: skipped
        assert run.cursor_text() == "Putin" and run.selected() is None  # one token: the cursor alone
        await run.press("o")
        assert run.selected() == "Ben Gurion"
        await run.press("4")
        assert entities(saved(corpus_dir)) == [("Ben Gurion", "LOC")]
        await run.press("o", "o", "o", "o")  # Monday, Photo, Reuters, then the run
        assert run.selected() == "Kimberly Lee"
        await run.press("1", "O")
        assert run.cursor_text() == "Reuters" and entities(saved(corpus_dir))[-1] == ("Kimberly Lee", "PERSON")


async def test_r_walks_the_suggestion_accepting_what_it_leaves(corpus_dir):
    photo = at("Photo")[0]
    suggest(
        corpus_dir,
        stories=[Story(start=0, end=photo), Story(start=photo, end=len(TEXT), truncated=True)],
        entities=[Entity(start=at("Putin’s")[0], end=at("Putin’s")[1], label="PERSON"), Entity(start=at("Kimberly")[0], end=at("Kimberly")[1], label="ORG")],
        boilerplate=[BoilerplateRange(start=photo, end=at("Reuters")[1], kind="credit")],
    )
    async with Run(corpus_dir) as run:
        await run.press("r")
        assert run.cursor_text() == "Putin" and "review (4 left" in run.context() and "PERSON 'Putin’s'" in run.context()
        assert "suggested" in run.context()
        await run.press("<")  # one key: Putin’s -> Putin, which settles it
        assert entities(saved(corpus_dir))[0] == ("Putin", "PERSON")
        await run.press("r")
        assert run.cursor_text() == "Photo" and "story start, truncated; boilerplate credit" in run.context()
        await run.press("r")  # accepts the story and the boilerplate, on to Kimberly
        assert run.cursor_text() == "Kimberly" and "review (1 left" in run.context()
        await run.press("1")  # relabelled: settled
        await run.press("R")
        assert "every suggested item reviewed" in run.context()
        await run.press("g", "r")
        assert "every suggested item reviewed" in run.context()
    record = saved(corpus_dir)
    assert entities(record) == [("Putin", "PERSON"), ("Kimberly", "PERSON")]


async def test_a_label_key_on_a_suggested_entity_with_that_label_accepts_it(corpus_dir):
    suggest(corpus_dir, stories=[Story(start=0, end=len(TEXT))], entities=[Entity(start=at("Ben")[0], end=at("Ben Gurion")[1], label="LOC")])
    async with Run(corpus_dir) as run:
        await run.press("g", "4")
        assert "LOC 'Ben Gurion' accepted" in run.context()
        await run.press("r")
        assert "every suggested item reviewed" in run.context()
        assert saved(corpus_dir) == {}  # accepting changes nothing on disk
        await run.press("4")
        assert "already LOC" in run.context()


async def test_r_without_a_suggestion_says_so(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("r")
        assert "did not open from a suggestion" in run.context()


# ---------------------------------------------------------------- search


async def test_slash_searches_forward_and_semicolon_comma_repeat(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("slash")
        assert isinstance(run.app.screen, TextPrompt)
        await run.type("airport")
        await run.press("enter")
        assert run.cursor_text() == "airport" and run.view.cursor == run.desk.current().session.model.token_at(at("airport")[0])
        await run.press("semicolon")
        assert run.view.cursor_span == at("airport", 1)
        await run.press("semicolon")  # round to the top
        assert run.view.cursor_span == at("airport", 0) and "from the top" in run.context()
        await run.press("comma")
        assert run.view.cursor_span == at("airport", 1) and "from the bottom" in run.context()
        await run.press("slash")
        await run.type("ben gurion")  # case ignored; two tokens: selected, so a key labels them
        await run.press("enter")
        assert run.selected() == "Ben Gurion"
        await run.press("4")
        assert entities(saved(corpus_dir)) == [("Ben Gurion", "LOC")]
        await run.press("backslash", "enter")  # enter alone: the last search, backward
        assert run.selected() == "Ben Gurion" and "from the bottom" not in run.context()
        await run.press("slash")
        await run.type("nowhere")
        await run.press("enter")
        assert "'nowhere' is not in this snippet" in run.context()


async def test_star_and_hash_find_the_token_or_entity_under_the_cursor(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("o", "asterisk")  # 'Putin' (selected by w): the next whole 'Putin'
        assert run.view.cursor_span == at("Putin", 1)
        await run.press("number_sign")
        assert run.view.cursor_span == at("Putin", 0)
        await run.press("semicolon")  # repeats '#': backward, so round to the bottom
        assert run.view.cursor_span == at("Putin", 1)


# ---------------------------------------------------------------- span edits


async def test_grow_and_shrink_keys_edit_the_entity_under_the_cursor(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("o", "o")
        await run.press("h", "h", "shift+right", "shift+right", "3")  # 'at Ben Gurion' as GPE
        assert entities(saved(corpus_dir)) == [("at Ben Gurion", "GPE")]
        await run.press("G")
        assert run.cursor_text() == "at"
        await run.press("right_parenthesis")  # the start one token right: drop 'at'
        assert entities(saved(corpus_dir)) == [("Ben Gurion", "GPE")]
        assert run.cursor_text() == "Ben"  # the cursor's token left the entity: it followed
        await run.press("greater_than_sign")  # "Ben Gurion" -> "Ben Gurion airport": one key
        assert entities(saved(corpus_dir)) == [("Ben Gurion airport", "GPE")]
        await run.press("left_parenthesis")
        assert entities(saved(corpus_dir)) == [("at Ben Gurion airport", "GPE")]
        await run.press("less_than_sign", "less_than_sign", "less_than_sign")
        assert entities(saved(corpus_dir)) == [("at", "GPE")]
        await run.press("less_than_sign")
        assert "one token: x removes it" in run.context()
        await run.press("u")
        assert entities(saved(corpus_dir)) == [("at Ben", "GPE")]


async def test_grow_stops_at_the_line_end(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("slash")
        await run.type("Monday")
        await run.press("enter", "2", "greater_than_sign")
        assert entities(saved(corpus_dir)) == [("Monday.", "ORG")]
        await run.press("greater_than_sign")
        assert "line break" in run.context() and entities(saved(corpus_dir)) == [("Monday.", "ORG")]


async def test_a_label_key_on_a_selection_unlike_the_entity_respans_it(corpus_dir):
    suggest(corpus_dir, stories=[Story(start=0, end=len(TEXT))], entities=[Entity(start=at("Putin’s")[0], end=at("Putin’s")[1], label="PERSON")])
    async with Run(corpus_dir) as run:
        await run.press("g", "1")  # the same label, no selection: accepted as it is
        assert saved(corpus_dir) == {} and "accepted" in run.context()
        await run.press("shift+right", "shift+left")  # 'Putin' alone selected
        assert run.selected() == "Putin"
        await run.press("1")
        assert entities(saved(corpus_dir)) == [("Putin", "PERSON")]


# ---------------------------------------------------------------- guards


async def test_labelling_punctuation_or_digits_asks_first(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("slash")
        await run.type(" . ")
        await run.press("enter", "2")
        assert isinstance(run.app.screen, ConfirmPrompt)
        await run.press("n")
        assert saved(corpus_dir) == {} and "not labelled" in run.context()
        await run.press("2", "y")
        assert entities(saved(corpus_dir)) == [(".", "ORG")]
        await run.press("slash")
        await run.type("2024")
        await run.press("enter", "5")
        assert isinstance(run.app.screen, ConfirmPrompt) and "only digits" in str(run.app.screen.question)
        await run.press("escape")
        assert entities(saved(corpus_dir)) == [(".", "ORG")]
        await run.press("5", "y")
        assert entities(saved(corpus_dir)) == [(".", "ORG"), ("2024", "NORP")]
        await run.press("O", "1")  # a name: no question
        assert ("Putin", "PERSON") in entities(saved(corpus_dir)) and run.app.screen is run.screen


# ---------------------------------------------------------------- boilerplate kind


async def test_C_changes_a_kind_in_two_keys_and_c_still_unmarks_in_one(corpus_dir):
    photo_line = TEXT.split("\n")[1]

    def boilerplate() -> list[tuple[str, str]]:
        return [(TEXT[b["start"] : b["end"]], b["kind"]) for b in saved(corpus_dir).get("boilerplate", [])]

    async with Run(corpus_dir) as run:
        await run.press("]", "C", "2")
        assert boilerplate() == [(photo_line, "credit")]
        await run.press("C")
        assert isinstance(run.app.screen, KindChooser) and "now credit" in run.app.screen.question
        await run.press("1")
        assert boilerplate() == [(photo_line, "caption")]
        await run.press("C", "1")
        assert "already caption" in run.context()
        await run.press("C", "c")  # unmark from the chooser
        assert boilerplate() == []
        await run.press("C", "escape")
        assert boilerplate() == [] and "unchanged" in run.context()
        await run.press("c", "3", "c")  # c marks (asking), c unmarks at once, as before
        assert boilerplate() == []


# ---------------------------------------------------------------- context line


async def test_context_line_shows_the_token_the_entity_and_the_selected_text(corpus_dir):
    async with Run(corpus_dir) as run:
        assert run.context().endswith("· 'The'")
        await run.press("o")
        assert "selected 'Putin' (5 chars)" not in run.context()  # one token: no selection
        assert run.context().endswith("· 'Putin'")
        await run.press("1")
        assert "PERSON 'Putin'" in run.context()
        await run.press("slash")
        await run.type("Ben Gurion airport on Monday")
        await run.press("enter")
        assert "selected 'Ben Gurion airport on Monday' (28 chars)" in run.context()


async def test_context_line_escapes_and_cuts_hostile_text(tmp_path):
    hostile = "Evil\x1b[2J" + "x" * 80 + " tail"
    source = tmp_path / "source.jsonl"
    source.write_text(json.dumps({"id": "page-1", "text": hostile}) + "\n", encoding="utf-8")
    ingest([source], tmp_path / "corpus")
    async with Run(tmp_path / "corpus") as run:
        await run.press("shift+right", "shift+right", "shift+right", "shift+right")
        context = run.context()
        assert "\x1b" not in context and "…'" in context
        assert len(context) < 120
