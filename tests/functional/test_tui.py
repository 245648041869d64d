"""The annotation UI driven headless: keys in, journal records on disk out (DESIGN.md's keys)."""

from __future__ import annotations

from pathlib import Path

import pytest
from annotate_run import NEWS, SNIPPETS, Run, saved, screen_text, write_corpus

from curate.model import Annotation, Entity, Story
from curate.tui.messages import FilterQueue, GoToSnippet
from curate.tui.screens.annotate import AnnotateScreen
from curate.tui.screens.help import HelpScreen
from curate.tui.widgets.snippet_view import SnippetView


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    return write_corpus(tmp_path, SNIPPETS)


def line_count(corpus_dir: Path, annotator: str = "ana") -> int:
    path = corpus_dir / "annotations" / f"{annotator}.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def entities(record: dict) -> list[tuple[str, str]]:
    return [(NEWS[e["start"] : e["end"]], e["label"]) for e in record["entities"]]


# ---------------------------------------------------------------- moving and labelling


async def test_opens_on_first_token_and_labels_with_number_keys(corpus_dir):
    async with Run(corpus_dir) as run:
        assert run.cursor_text() == "Kim"
        await run.press("1")
        assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON")]
        await run.press("2")  # on an entity: relabel
        assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "ORG")]
        await run.press("9")  # no label on key 9: nothing written
        assert line_count(corpus_dir) == 2
        record = saved(corpus_dir)["news-1"]
        assert record["status"] is None and record["annotator"] == "ana"
        assert len(record["text_sha256"]) == 64 and record["updated_at"].endswith("Z")


async def test_arrows_and_hjkl_move_by_token_and_line(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("right", "l")
        assert run.cursor_text() == "met"
        await run.press("left", "h", "h")
        assert run.cursor_text() == "Kim"
        await run.press("l", "l", "l", "3")  # Putin
        await run.press("h")
        await run.press("1")  # "met" is not an entity: labelled as a token
        assert entities(saved(corpus_dir)["news-1"]) == [("met", "PERSON"), ("Putin", "GPE")]
        await run.press("down")
        assert run.view.cursor_span[0] >= NEWS.index("Photo")
        await run.press("j", "k")
        assert run.view.cursor_span[0] >= NEWS.index("Photo")
        await run.press("up")
        assert run.view.cursor_span[0] < NEWS.index("Photo")


async def test_paragraph_and_story_jumps(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("]")
        assert run.cursor_text() == "Photo"
        await run.press("]", "]")
        assert run.cursor_text() == "Airlines"
        await run.press("[")
        assert run.cursor_text() == "Kim"
        await run.press("b")  # the third paragraph starts story 2
        await run.press("[", "[", "}")
        assert run.view.cursor_span[0] == NEWS.index("Kim said")
        await run.press("{")
        assert run.view.cursor_span[0] == 0
        stories = saved(corpus_dir)["news-1"]["stories"]
        assert [story["start"] for story in stories] == [0, NEWS.index("Kim said")]


async def test_shift_arrows_select_and_label_a_multi_token_entity(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("shift+right")
        assert run.view.selection_span == (0, len("Kim Jong-un"))
        await run.press("1")
        assert entities(saved(corpus_dir)["news-1"]) == [("Kim Jong-un", "PERSON")]
        assert run.view.selection_span is None
        await run.press("]", "]", "shift+right", "shift+right", "shift+left", "5")
        assert entities(saved(corpus_dir)["news-1"])[-1] == ("Kim said", "NORP")
        await run.press("shift+down")  # the next line is another paragraph: the selection stops at this line's end
        line_end = NEWS.index("\nAirlines")
        assert run.view.selection_span == (NEWS.index("said"), line_end)
        await run.press("escape")
        assert run.view.selection_span is None
        await run.press("shift+up")  # and at its start, going up
        assert run.view.selection_span == (NEWS.index("Kim said"), line_end)


async def test_x_removes_and_equals_labels_every_other_occurrence(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("1", "=")
        kims = [text for text, label in entities(saved(corpus_dir)["news-1"])]
        assert kims == ["Kim", "Kim", "Kim"]  # not "Kimberly"
        await run.press("x")
        assert [text for text, _ in entities(saved(corpus_dir)["news-1"])] == ["Kim", "Kim"]
        await run.press("l", "x")  # nothing under the cursor: refused, nothing written
        assert len(saved(corpus_dir)["news-1"]["entities"]) == 2
        assert "no entity" in screen_text(run.app)


async def test_b_c_t_story_boilerplate_truncated(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("]", "c")
        await run.press("2")  # the chooser: second kind (credit)
        record = saved(corpus_dir)["news-1"]
        assert [(NEWS[b["start"] : b["end"]], b["kind"]) for b in record["boilerplate"]] == [("Photo: AP", "credit")]
        await run.press("c")  # marked already: unmarks without asking
        assert saved(corpus_dir)["news-1"]["boilerplate"] == []
        await run.press("c", "enter")  # the chooser remembers the last kind
        assert saved(corpus_dir)["news-1"]["boilerplate"][0]["kind"] == "credit"
        await run.press("]", "]", "b", "t")
        stories = saved(corpus_dir)["news-1"]["stories"]
        assert [(s["start"], s["truncated"]) for s in stories] == [(0, False), (NEWS.index("Airlines"), True)]
        await run.press("b")
        stories = saved(corpus_dir)["news-1"]["stories"]
        assert [(s["start"], s["truncated"]) for s in stories] == [(0, True)]
        text = screen_text(run.app)
        assert "story 1 · truncated" in text
        assert any(line.startswith(" Photo: AP ") and line.endswith(" [credit]") for line in text.splitlines())  # the kind in the margin


async def test_enter_done_s_skip_f_flag_with_note_and_n_p(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("enter")
        assert saved(corpus_dir)["news-1"]["status"] == "done"
        assert run.screen.opened.snippet.id == "news-2"
        await run.press("s")
        assert saved(corpus_dir)["news-2"]["status"] == "skipped"
        assert run.screen.opened.snippet.id == "news-3"
        await run.press("f")
        await run.pilot.press(*"odd page")
        await run.press("enter")
        assert saved(corpus_dir)["news-3"]["status"] == "flagged"
        assert saved(corpus_dir)["news-3"]["note"] == "odd page"
        await run.press("p")
        assert run.screen.opened.snippet.id == "news-2"
        await run.press("n")
        assert run.screen.opened.snippet.id == "news-3"
        await run.press("f", "escape")  # cancelled: still flagged with the same note
        assert saved(corpus_dir)["news-3"]["note"] == "odd page"
        assert "done 1  skipped 1  flagged 1" in screen_text(run.app)


async def test_undo_redo_with_u_ctrl_z_ctrl_y(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("1", "l", "l", "l", "2")
        assert len(saved(corpus_dir)["news-1"]["entities"]) == 2
        await run.press("u")
        assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON")]
        await run.press("ctrl+z")
        assert saved(corpus_dir)["news-1"]["entities"] == []
        await run.press("u")  # nothing left: nothing written
        lines = line_count(corpus_dir)
        await run.press("u")
        assert line_count(corpus_dir) == lines
        await run.press("ctrl+y", "ctrl+y")
        assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON"), ("Putin", "ORG")]
        await run.press("enter", "p", "u")  # undo the status after coming back
        assert saved(corpus_dir)["news-1"]["status"] is None


async def test_help_lists_every_binding_and_q_quits(corpus_dir):
    import io

    from rich.console import Console

    from curate.tui.keymap import ANNOTATE_KEYS
    from curate.tui.screens.help import help_table

    async with Run(corpus_dir) as run:
        await run.press("question_mark")
        assert isinstance(run.app.screen, HelpScreen)
        assert "← h          Previous token" in screen_text(run.app)  # binding ids show from about 120 columns
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(help_table({}, run.desk.corpus.config))
        text = console.export_text()
        for spec in ANNOTATE_KEYS:
            if spec.id not in ("label-8", "label-9"):  # no label on those keys in this corpus
                assert spec.id in text
        assert "Label (or relabel) as PERSON" in text
        await run.press("escape")
        assert isinstance(run.app.screen, AnnotateScreen)
        await run.press("q")
        assert run.app.return_code == 0 and not run.app.is_running


async def test_mouse_click_places_cursor_and_drag_selects(corpus_dir):
    async with Run(corpus_dir) as run:
        view = run.view
        # the first text line is under the story rule; column 1 of the view is padding
        y = 1
        x = 1 + NEWS.index("Putin")
        await run.pilot.click(SnippetView, offset=(x, y))
        await run.pilot.pause()
        assert run.cursor_text() == "Putin"
        await run.pilot.mouse_down(SnippetView, offset=(1 + NEWS.index("Pyongyang"), y))
        await run.pilot.hover(SnippetView, offset=(1 + NEWS.index("Putin thanked") + 8, y))
        await run.pilot.mouse_up(SnippetView, offset=(1 + NEWS.index("Putin thanked") + 8, y))
        await run.pilot.pause()
        assert view.selection_span == (NEWS.index("Pyongyang"), NEWS.index("Putin thanked") + len("Putin thanked"))
        await run.press("4")
        # the selection runs over a sentence end inside one story: one entity
        assert entities(saved(corpus_dir)["news-1"]) == [("Pyongyang. Putin thanked", "LOC")]


# ---------------------------------------------------------------- suggestions, queues, keymap, palette


async def test_starts_from_suggestion_marked_unreviewed(corpus_dir):
    from curate.store import Corpus

    with Corpus.open(corpus_dir) as corpus, corpus.suggestions(writable=True) as suggestions:
        suggestions.append(
            Annotation(
                snippet_id="news-1",
                annotator="model:test",
                stories=[Story(start=0, end=NEWS.index("Airlines")), Story(start=NEWS.index("Airlines"), end=len(NEWS))],
                entities=[Entity(start=0, end=3, label="PERSON")],
            )
        )
    async with Run(corpus_dir) as run:
        assert "suggested, unreviewed" in screen_text(run.app)
        assert line_count(corpus_dir) == 0
        await run.press("enter")
        record = saved(corpus_dir)["news-1"]
        assert record["status"] == "done" and record["annotator"] == "ana"
        assert entities(record) == [("Kim", "PERSON")] and len(record["stories"]) == 2


async def test_queue_start_and_palette_commands(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("s")
    async with Run(corpus_dir, queue="skipped") as run:
        assert len(run.desk) == 1 and run.screen.opened.snippet.id == "news-1"
    async with Run(corpus_dir, start="news-3") as run:
        assert run.screen.opened.snippet.id == "news-3"
        await run.press("ctrl+p")
        await run.pilot.press(*"news-2")
        await run.pilot.pause(0.3)
        await run.press("enter")
        assert run.screen.opened.snippet.id == "news-2"
        await run.press("ctrl+p")
        await run.pilot.press(*"Filter queue: skipped")
        await run.pilot.pause(0.3)
        await run.press("enter")
        assert run.desk.queue_name == "skipped" and run.screen.opened.snippet.id == "news-1"
        await run.press("ctrl+p")
        await run.pilot.press(*"find Bali")
        await run.pilot.pause(0.3)
        await run.press("enter")
        assert run.cursor_text() == "Bali"


async def test_user_keymap_remaps_by_binding_id(corpus_dir, tmp_path, monkeypatch):
    from curate.tui.keymap import KeymapError, load_keymap

    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\nlabel-1 = "a"\ncursor-right = "right,w"\n')
    monkeypatch.setenv("CURATE_KEYMAP", str(path))
    keymap = load_keymap()
    assert keymap == {"label-1": "a", "cursor-right": "right,w"}
    async with Run(corpus_dir, keymap=keymap) as run:
        await run.press("1")
        assert line_count(corpus_dir) == 0
        await run.press("w", "a")
        assert entities(saved(corpus_dir)["news-1"]) == [("Jong-un", "PERSON")]
        await run.press("question_mark")
        assert "a  " in screen_text(run.app) or " a " in screen_text(run.app)
    path.write_text('[keys]\nlabel-one = "a"\n')
    with pytest.raises(KeymapError, match="unknown binding id 'label-one'"):
        load_keymap()


# ---------------------------------------------------------------- hostile text and snapshots


HOSTILE = (
    "Evil \x1b[31mred\x1b[0m text\x07 with \u202eoverride\u202c and \x00nul.\n"
    + "x" * 1500
    + "\nZero\u200bwidth and tab\there."
)


async def test_hostile_text_is_shown_with_placeholders_and_long_paragraphs_wrap(tmp_path):
    import re

    corpus_dir = write_corpus(tmp_path, [{"id": "evil\x1b[2J", "text": HOSTILE}])
    async with Run(corpus_dir) as run:
        view = run.view
        width = view.scrollable_content_region.width
        assert view.line_count > 1500 // width
        strips = [view.render_line(y) for y in range(view.size.height)]
        screen = screen_text(run.app)
        for text in [*screen.splitlines(), *("".join(s.text for s in strip) for strip in strips)]:
            assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u200b]", text)
        assert "␛[31mred␛[0m" in screen and "␇" in screen and "␀nul" in screen and "¿override¿" in screen
        assert "evil␛[2J" in screen
        for strip in strips:
            assert strip.cell_length == width
        await run.press("]", "1", "]", "1")
        record = saved(corpus_dir)["evil\x1b[2J"]
        assert [(e["end"] - e["start"]) for e in record["entities"]] == [1500, 4]


async def test_main_screen_snapshot(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("shift+right", "1", "]", "c", "2", "]", "b", "t")
        await run.press("l", "l", "l", "l", "l", "l", "l", "l", "shift+right", "shift+right")
        lines = screen_text(run.app).splitlines()
        view = run.view
        first = {segment.text: segment.style for segment in view.render_line(1)}
        third_story_line = {segment.text: segment.style for segment in view.render_line(6)}
        selection = view.get_component_rich_style("snippet-view--selection", partial=True)
    rule = "━" * 200
    assert lines[:12] == [
        " corpus  ·  ana  ·  news-1 [in progress]  ·  1/3 todo  ·  done 0  skipped 0  flagged 0",
        " story 2/2 truncated · paragraph 3/4 · selected '. Kimberly Lee' (14 chars)",  # the selected text itself
        (" ━━ story 1 " + rule)[:82],  # rules span the text width (81 at 100 columns), not the margin
        " Kim Jong-un met Putin in Pyongyang. Putin thanked Kim warmly." + " " * 22 + "PERSON",  # labels in the margin
        "",
        " Photo: AP" + " " * 74 + "[credit]",
        "",
        (" ━━ story 2 · truncated " + rule)[:82],
        " Kim said ties are at a new high. Kimberly Lee disagreed.",
        "",
        " Airlines in Bali canceled flights after an eruption. ✂ cut",
        "",
    ]
    assert lines[-3].split()[:4] == ["1", "PERSON", "2", "ORG"]
    assert lines[-2] == " boilerplate: caption, credit, byline, dateline, ad, navigation"  # the legend's second line
    assert lines[-1].startswith(" ? help q quit ⏎ done u undo s skip x del")
    # the entity is drawn in its label's colour, the selection and the cursor are marked
    assert first["Kim Jong-un"].bgcolor.name == "#e06c75"
    assert first["PERSON"].bold
    assert third_story_line["Lee"].reverse
    # ". Kimberly Lee" is selected: the selection's background and underline, unlike the text before it
    assert third_story_line[". Kimberly "].bgcolor == selection.bgcolor != third_story_line["Kim said ties are at a new high"].bgcolor
    assert third_story_line[". Kimberly "].underline and not third_story_line["Kim said ties are at a new high"].underline
    assert not third_story_line["Kim said ties are at a new high"].reverse


def test_readme_keys_section_names_every_binding():
    from curate.tui.keymap import ANNOTATE_KEYS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    keys_section = readme[readme.index("## Keys") :]
    for spec in ANNOTATE_KEYS:
        if not spec.id.startswith("label-") or spec.id in ("label-1", "label-9", "label-all"):
            assert f"`{spec.id}`" in keys_section, spec.id


async def test_snippet_without_tokens_takes_every_key_without_failing(tmp_path):
    corpus_dir = write_corpus(tmp_path, [{"id": "blank", "text": "\u200b\u2060\u200b"}, {"id": "next", "text": "Next one."}])
    async with Run(corpus_dir) as run:
        assert run.view.cursor_span is None
        for key in ["l", "j", "]", "}", "shift+right", "1", "x", "=", "b", "c", "u", "ctrl+y"]:
            await run.press(key)
        assert line_count(corpus_dir) == 0
        await run.press("t")  # a story without words can still be cut off
        assert saved(corpus_dir)["blank"]["stories"][0]["truncated"] is True
        await run.press("enter")
        assert saved(corpus_dir)["blank"]["status"] == "done"
        assert run.screen.opened.snippet.id == "next"


async def test_seconds_accumulate_per_snippet_with_idle_gaps_capped(corpus_dir, monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(AnnotateScreen, "clock", staticmethod(lambda: clock["now"]))
    async with Run(corpus_dir) as run:
        clock["now"] += 30
        await run.press("1")
        assert saved(corpus_dir)["news-1"]["seconds"] == 30.0
        clock["now"] += 500  # away from the keyboard: counts as two minutes
        await run.press("2")
        assert saved(corpus_dir)["news-1"]["seconds"] == 150.0
        clock["now"] += 10
        await run.press("n")  # the time after the last change was looking: not counted, nothing written
        assert saved(corpus_dir)["news-1"]["seconds"] == 150.0
        clock["now"] += 1000  # time on another snippet does not count for this one
        await run.press("p")
        clock["now"] += 5
        await run.press("enter")
        assert saved(corpus_dir)["news-1"]["seconds"] == 155.0


async def test_changed_text_under_a_record_is_announced(corpus_dir):
    from curate.store import Corpus

    with Corpus.open(corpus_dir) as corpus, corpus.journal("ana", writable=True) as journal:
        journal.append(Annotation(snippet_id="news-1", annotator="ana", text_sha256="0" * 64, stories=[Story(start=0, end=len(NEWS))]))
    async with Run(corpus_dir) as run:
        assert "text changed" in screen_text(run.app)


async def test_a_record_for_another_text_is_not_overwritten_by_looking(corpus_dir, monkeypatch):
    from curate.store import Corpus

    stale = Annotation(snippet_id="news-1", annotator="ana", status="done", stories=[Story(start=0, end=len(NEWS) - 5)])
    with Corpus.open(corpus_dir) as corpus, corpus.journal("ana", writable=True) as journal:
        journal.append(stale)
    clock = {"now": 1000.0}
    monkeypatch.setattr(AnnotateScreen, "clock", staticmethod(lambda: clock["now"]))
    async with Run(corpus_dir, queue="all") as run:
        assert "starting again" in run.screen.message.plain and "[new]" in screen_text(run.app)
        clock["now"] += 60
        await run.press("n")
        await run.press("p")
        clock["now"] += 60
    assert line_count(corpus_dir) == 1 and saved(corpus_dir)["news-1"]["status"] == "done"


async def test_empty_queue_says_so_and_filter_brings_snippets_back(corpus_dir):
    async with Run(corpus_dir, queue="flagged") as run:
        assert len(run.desk) == 0
        assert "queue 'flagged' is empty" in screen_text(run.app)
        for key in ["l", "1", "b", "enter", "s", "n", "u"]:
            await run.press(key)
        assert line_count(corpus_dir) == 0
        run.screen.post_message(FilterQueue("all"))
        await run.pilot.pause()
        assert run.screen.opened.snippet.id == "news-1" and len(run.desk) == 3


async def test_find_text_moves_on_to_the_next_snippet_that_has_it(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.find("jakarta")
        assert run.screen.opened.snippet.id == "news-3" and run.cursor_text() == "Jakarta"
        await run.find("nowhere at all")
        assert "in no snippet" in screen_text(run.app)
        await run.find("bali")  # news-1 has it, after wrapping round the queue
        assert run.screen.opened.snippet.id == "news-1" and run.cursor_text() == "Bali"


@pytest.mark.parametrize("line, words", [
    ('label-1 = "q"', ["label-1", "'q'", "quit"]),  # would shadow quit
    ('label-1 = "not a key!!"', ["label-1", "not a key!!", "not a key name"]),
    ('help = "x"', ["help", "remove-entity"]),
    ('cursor-down = "j,down,ctrl+bogus"', ["cursor-down", "ctrl+bogus"]),
    ('undo = "ctrl+p"', ["undo", "command palette"]),
    ('story-start = "question_mark"', ["story-start", "help"]),  # `?` by its name is still `?`
])
def test_bad_keymaps_are_refused_naming_the_file_and_the_binding(tmp_path, monkeypatch, line, words):
    from typer.testing import CliRunner

    from curate.cli import app
    from curate.tui.keymap import KeymapError, load_keymap

    path = tmp_path / "keymap.toml"
    path.write_text(f"[keys]\n{line}\n")
    with pytest.raises(KeymapError) as refused:
        load_keymap(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message
    monkeypatch.setenv("CURATE_KEYMAP", str(path))
    result = CliRunner().invoke(app, ["annotate", str(tmp_path), "--annotator", "ana"])
    assert result.exit_code == 1 and "keymap.toml" in result.output


def test_good_keymaps_and_the_defaults_pass(tmp_path):
    from curate.tui.keymap import load_keymap

    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\nlabel-1 = "e"\ncursor-down = "j,down,ctrl+n"\nhelp = "f1,question_mark"\nquit = "q,ctrl+q"\nredo = "ctrl+shift+z"\n')
    for screen in ("annotate", "review"):
        assert load_keymap(path, screen)["help"] == "f1,question_mark"
    path.write_text("")
    assert load_keymap(path, "review") == {}


# ---------------------------------------------------------------- a new user's findings


def header_and_context(app) -> tuple[str, str, str]:
    lines = screen_text(app).splitlines()
    return lines[0], lines[1], lines[2]


@pytest.mark.parametrize("size", [(80, 24), (60, 24), (40, 20)])
async def test_header_stays_one_line_and_the_context_line_stays_visible(corpus_dir, size):
    class Narrow(Run):
        pass

    Narrow.size = size
    async with Narrow(corpus_dir) as run:
        await run.press("l")
        header, context, first_text_line = header_and_context(run.app)
        assert "news-1 [new]" in header and len(header) <= size[0]
        assert context.startswith(" story 1/1 · paragraph 1/4")
        assert "━━ story 1" in first_text_line
        if size[0] < 80:
            assert "done 0" not in header  # the counts go before anything else
        if size[0] == 40:
            assert "corpus" not in header and "1/3 todo" in header


def test_header_parts_are_dropped_least_useful_first_then_cut():
    from rich.text import Text

    from curate.tui.widgets.status import fit_parts, identity_parts

    parts = identity_parts("corpus", "ana", "news-1", "suggested, unreviewed", 0, 3, "todo", "done 0  skipped 0  flagged 0")
    full = fit_parts(parts, 0).plain
    assert full == "corpus  ·  ana  ·  news-1 [suggested, unreviewed]  ·  1/3 todo  ·  done 0  skipped 0  flagged 0"
    assert fit_parts(parts, len(full)).plain == full
    assert fit_parts(parts, 70).plain == "corpus  ·  ana  ·  news-1 [suggested, unreviewed]  ·  1/3 todo"
    assert fit_parts(parts, 51).plain == "ana  ·  news-1 [suggested, unreviewed]  ·  1/3 todo"
    assert fit_parts(parts, 50).plain == "news-1 [suggested, unreviewed]  ·  1/3 todo"
    assert fit_parts(parts, 36).plain == "news-1 [suggested, unreviewed]"
    cut = fit_parts(parts, 20)
    assert cut.plain == "news-1 [suggested, …" and isinstance(cut, Text)


async def test_messages_go_at_the_next_key_and_at_a_jump_to_another_snippet(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.find("nowhere at all")
        assert header_and_context(run.app)[1].startswith(" 'nowhere at all' is in no snippet")  # first, so it is not cut
        await run.press("l")
        assert "in no snippet" not in header_and_context(run.app)[1] and run.screen.message.plain == ""
        await run.press("9")  # no label on key 9: the message of this very key shows
        assert "no label on key 9" in header_and_context(run.app)[1]
        run.screen.say("a message from before the jump")
        run.screen.post_message(GoToSnippet("news-3"))
        await run.pilot.pause()
        assert run.screen.opened.snippet.id == "news-3"
        assert "from before the jump" not in header_and_context(run.app)[1]


async def test_a_failed_save_stays_on_screen_until_a_save_succeeds(corpus_dir, monkeypatch):
    async with Run(corpus_dir) as run:
        real_append = run.desk.journal.append

        def refuse(record):
            raise OSError("disk full")

        monkeypatch.setattr(run.desk.journal, "append", refuse)
        await run.press("1")
        await run.press("l", "l")
        assert "NOT SAVED" in header_and_context(run.app)[1] and "disk full" in header_and_context(run.app)[1]
        monkeypatch.setattr(run.desk.journal, "append", real_append)
        await run.press("2")
        await run.press("l")
        assert "NOT SAVED" not in header_and_context(run.app)[1]


async def test_undoing_every_change_to_a_suggestion_shows_it_unreviewed_again(corpus_dir):
    from curate.store import Corpus

    with Corpus.open(corpus_dir) as corpus, corpus.suggestions(writable=True) as suggestions:
        suggestions.append(
            Annotation(snippet_id="news-1", annotator="model:test", stories=[Story(start=0, end=len(NEWS))], entities=[Entity(start=0, end=3, label="PERSON")])
        )
    async with Run(corpus_dir) as run:
        assert "[suggested, unreviewed]" in header_and_context(run.app)[0]
        await run.press("l", "l", "l", "2", "b")
        assert "[in progress]" in header_and_context(run.app)[0]
        await run.press("u", "u")
        assert "[suggested, unreviewed]" in header_and_context(run.app)[0]
        await run.press("ctrl+y")
        assert "[in progress]" in header_and_context(run.app)[0]


async def test_a_selection_stays_inside_its_paragraph(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("]")  # 'Photo: AP', a line of its own
        assert run.cursor_text() == "Photo"
        await run.press("l", "l", "shift+right", "shift+right", "shift+right")
        assert run.view.selection_span == (NEWS.index("AP"), NEWS.index("AP") + 2)
        await run.press("shift+down", "1")
        assert entities(saved(corpus_dir)["news-1"]) == [("AP", "PERSON")]
        await run.press("shift+left", "shift+left", "shift+left", "shift+left")
        start, end = run.view.selection_span
        assert "\n" not in NEWS[start:end]


async def test_paragraph_previous_goes_to_the_start_of_this_paragraph_first(corpus_dir):
    async with Run(corpus_dir) as run:
        await run.press("j", "j", "l", "l")  # mid-way through 'Kim said ties ...'
        assert run.cursor_text() == "ties"
        await run.press("[")
        assert run.cursor_text() == "Kim" and run.view.cursor_span[0] == NEWS.index("Kim said")
        await run.press("[")
        assert run.cursor_text() == "Photo"


# ---------------------------------------------------------------- a save that fails (issue 13)


class FailingAppend:
    """The journal's append, failing (as the store does: nothing written, journal as before)
    while `failures` is above 0, or always with `forever`."""

    def __init__(self, journal, failures: int = 1, forever: bool = False) -> None:
        import errno

        self.real = journal.append
        self.failures = failures
        self.forever = forever
        self.error = OSError(errno.ENOSPC, "No space left on device", str(journal.path))
        self.calls = 0

    def __call__(self, record) -> None:
        self.calls += 1
        if self.forever or self.failures > 0:
            self.failures -= 1
            raise self.error
        self.real(record)


async def test_a_failed_save_keeps_the_change_on_screen_and_the_next_save_writes_both(corpus_dir, monkeypatch):
    async with Run(corpus_dir) as run:
        failing = FailingAppend(run.desk.journal)
        monkeypatch.setattr(run.desk.journal, "append", failing)
        await run.press("1")  # Kim: PERSON, not saved
        context = header_and_context(run.app)[1]
        assert context.startswith(" NOT SAVED, kept here (saved with your next change): no space left on device")
        assert [(NEWS[e.start : e.end], e.label) for e in run.view.record.entities] == [("Kim", "PERSON")]
        assert "news-1" not in saved(corpus_dir) and run.screen.opened.unsaved == "no space left on device: annotations/ana.jsonl"
        await run.press("l", "l")  # moving the cursor does not clear it
        assert "NOT SAVED" in header_and_context(run.app)[1]
        await run.press("l", "3")  # Putin: GPE, saved with Kim
        assert failing.calls == 2
        assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON"), ("Putin", "GPE")]
        assert "NOT SAVED" not in header_and_context(run.app)[1] and run.screen.opened.unsaved is None


async def test_q_after_a_failed_save_retries_it_and_quits(corpus_dir, monkeypatch):
    async with Run(corpus_dir) as run:
        monkeypatch.setattr(run.desk.journal, "append", FailingAppend(run.desk.journal))
        await run.press("1")
        assert "news-1" not in saved(corpus_dir)
        await run.press("q")  # the retry succeeds: nothing to ask
        assert not run.app.is_running
    assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON")]


async def test_q_asks_before_losing_a_change_that_cannot_be_saved_and_the_answer_is_no_by_default(corpus_dir, monkeypatch):
    from curate.tui.screens.prompts import ConfirmPrompt

    async with Run(corpus_dir) as run:
        failing = FailingAppend(run.desk.journal, forever=True)
        monkeypatch.setattr(run.desk.journal, "append", failing)
        await run.press("1")
        await run.press("q")
        assert isinstance(run.app.screen, ConfirmPrompt) and run.app.is_running
        assert run.app.screen.question == "1 change to news-1 is NOT SAVED (no space left on device: annotations/ana.jsonl). Quit and lose it?"
        assert "annotations/ana.jsonl). Quit and lose it?" in screen_text(run.app)
        await run.press("enter")  # no
        assert isinstance(run.app.screen, AnnotateScreen) and run.app.is_running
        assert header_and_context(run.app)[1].startswith(" NOT SAVED, not quitting (q tries again): no space left")
        await run.press("ctrl+q")  # the app's quit key asks too
        assert isinstance(run.app.screen, ConfirmPrompt)
        await run.press("escape")  # no
        assert run.app.is_running
        failing.forever = False  # space again: q saves and quits
        await run.press("q")
        assert not run.app.is_running
    assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON")]


async def test_q_then_y_quits_and_loses_the_unsaved_change(corpus_dir, monkeypatch):
    from curate.tui.screens.prompts import ConfirmPrompt

    async with Run(corpus_dir) as run:
        monkeypatch.setattr(run.desk.journal, "append", FailingAppend(run.desk.journal, forever=True))
        await run.press("1", "q")
        assert isinstance(run.app.screen, ConfirmPrompt)
        await run.press("y")
        assert not run.app.is_running
    assert saved(corpus_dir) == {}


async def test_moving_on_retries_a_failed_save_and_stays_while_it_fails(corpus_dir, monkeypatch):
    async with Run(corpus_dir) as run:
        failing = FailingAppend(run.desk.journal, forever=True)
        monkeypatch.setattr(run.desk.journal, "append", failing)
        await run.press("1", "n")
        assert run.screen.opened.snippet.id == "news-1"
        assert header_and_context(run.app)[1].startswith(" NOT SAVED, staying on this snippet until it is: no space left")
        await run.press("enter")  # done: the status change cannot be saved either
        assert run.screen.opened.snippet.id == "news-1" and "NOT SAVED" in header_and_context(run.app)[1]
        run.screen.post_message(GoToSnippet("news-3"))
        await run.pilot.pause()
        assert run.screen.opened.snippet.id == "news-1"
        assert run.view.record.status == "done" and [e.label for e in run.view.record.entities] == ["PERSON"]
        failing.forever = False
        await run.press("n")
        assert run.screen.opened.snippet.id == "news-2"
    record = saved(corpus_dir)["news-1"]
    assert entities(record) == [("Kim", "PERSON")] and record["status"] == "done"


async def test_a_failed_fsync_in_the_store_says_not_saved_and_the_next_change_saves_both(corpus_dir, monkeypatch):
    import errno
    import os

    async with Run(corpus_dir) as run:
        await run.press("1")  # Kim: saved
        size = (corpus_dir / "annotations" / "ana.jsonl").stat().st_size
        real_fsync = os.fsync
        failures = {"left": 1}

        def fsync_failing_once(fd):
            if failures["left"]:
                failures["left"] -= 1
                raise OSError(errno.EIO, "Input/output error")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync_failing_once)
        await run.press("l", "l", "l", "3")  # Putin: the fsync fails, the store cuts the line off
        assert "NOT SAVED" in header_and_context(run.app)[1]
        assert (corpus_dir / "annotations" / "ana.jsonl").stat().st_size == size
        assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON")]
        await run.press("]", "l", "l", "2")  # AP: ORG, saved with Putin
        assert "NOT SAVED" not in header_and_context(run.app)[1]
    assert entities(saved(corpus_dir)["news-1"]) == [("Kim", "PERSON"), ("Putin", "GPE"), ("AP", "ORG")]


async def test_an_undo_whose_save_fails_says_not_saved_and_keeps_saying_it(corpus_dir, monkeypatch):
    async with Run(corpus_dir) as run:
        await run.press("1")  # Kim: saved
        failing = FailingAppend(run.desk.journal, forever=True)
        monkeypatch.setattr(run.desk.journal, "append", failing)
        await run.press("u")
        assert run.view.record.entities == [] and failing.calls == 1
        assert header_and_context(run.app)[1].startswith(" NOT SAVED")
        await run.press("l")
        assert header_and_context(run.app)[1].startswith(" NOT SAVED")
        failing.forever = False
        await run.press("n")  # leaving saves the undo
        assert run.screen.opened.snippet.id == "news-2"
    assert saved(corpus_dir)["news-1"]["entities"] == []
