"""`i` / `I`, the check jump, driven headless: keys in, records on disk out."""

from __future__ import annotations

from annotate_run import Run, saved, write_corpus

from curate.model import Annotation, Entity, Story
from curate.store import Corpus
from curate.tui.keymap import ANNOTATE_KEYS

TEXT = (
    "On Monday President Joe Biden met the New York Times.\n"
    "Crowds cheered Putin’s aide.\n"
    "Maria Lopez spoke to Reuters and Fox News."
)


def span(text: str) -> tuple[int, int]:
    start = TEXT.index(text)
    return start, start + len(text)


def entity(text: str, label: str) -> Entity:
    start, end = span(text)
    return Entity(start=start, end=end, label=label)


def corpus(tmp_path):
    corpus_dir = write_corpus(tmp_path, [{"id": "page", "text": TEXT}])
    suggestion = Annotation(
        snippet_id="page",
        annotator="model:test",
        stories=[Story(start=0, end=len(TEXT))],
        entities=[entity("Joe Biden", "PERSON"), entity("the New York Times", "ORG"), entity("Putin’s", "PERSON"), entity("Maria Lopez", "PERSON")],
    )
    with Corpus.open(corpus_dir) as opened, opened.suggestions(writable=True) as suggestions:
        suggestions.append(suggestion)
    return corpus_dir


def on_disk(corpus_dir) -> list[tuple[str, str]]:
    record = saved(corpus_dir)["page"]
    return [(TEXT[e["start"] : e["end"]], e["label"]) for e in record["entities"]]


def test_the_check_keys_are_bound_to_i_and_shift_i():
    keys = {spec.id: spec.keys for spec in ANNOTATE_KEYS}
    assert keys["check-next"] == "i" and keys["check-previous"] == "I"


async def test_i_walks_the_places_to_fix_and_the_fixes_are_saved(tmp_path):
    corpus_dir = corpus(tmp_path)
    async with Run(corpus_dir) as run:
        # Monday (a weekday) and President (a title before Joe Biden) are passed over.
        await run.press("i")
        assert run.cursor_text() == "the" and run.view.selection_span is None
        assert "'the' inside the span" in run.screen.context_line().plain
        await run.press("right_parenthesis")  # `)`: the start one token right
        await run.press("i")
        assert run.cursor_text() == "Putin"
        await run.press("less_than_sign")  # `<`: the end one token left
        await run.press("i")
        # A name without a label is selected (a one-token name: the cursor is on it), ready for a label key (2: ORG).
        assert run.cursor_text() == "Reuters" and "no label" in run.screen.context_line().plain
        await run.press("2")
        assert on_disk(corpus_dir) == [
            ("Joe Biden", "PERSON"),
            ("New York Times", "ORG"),
            ("Putin", "PERSON"),
            ("Maria Lopez", "PERSON"),
            ("Reuters", "ORG"),
        ]
        await run.press("i")
        assert run.view.selection_span == span("Fox News")  # a longer name is selected
        await run.press("2")
        assert on_disk(corpus_dir)[-1] == ("Fox News", "ORG")
        await run.press("i")
        assert "nothing to check in this snippet" in run.screen.context_line().plain  # every place fixed


async def test_shift_i_goes_back_to_the_previous_place(tmp_path):
    corpus_dir = corpus(tmp_path)
    async with Run(corpus_dir) as run:
        await run.press("i", "i", "i", "i")
        assert run.view.selection_span == span("Fox News") and run.cursor_text() == "News"
        await run.press("I")  # from the end of a selected name: its start, as O does
        assert run.view.selection_span == span("Fox News") and run.cursor_text() == "Fox"
        await run.press("I")
        assert run.cursor_text() == "Reuters"
        await run.press("I")
        assert run.cursor_text() == "Putin"
        await run.press("I")
        assert run.cursor_text() == "the"
        await run.press("I")
        assert "nothing to check before the cursor" in run.screen.context_line().plain
        await run.press("x")  # the cursor stayed on the entity: x removes it
    assert ("the New York Times", "ORG") not in on_disk(corpus_dir)


async def test_help_and_the_review_screen_list_the_check_keys(tmp_path):
    from rich.console import Console

    from curate.tui.keymap import REVIEW_SCREEN_KEYS
    from curate.tui.screens.help import HelpScreen, help_table

    corpus_dir = corpus(tmp_path)
    async with Run(corpus_dir) as run:
        await run.press("question_mark")
        assert isinstance(run.app.screen, HelpScreen)
        shown = " ".join(str(widget.render()) for widget in run.app.screen.query("Static"))
        await run.press("escape")
        console = Console(width=220, record=True)
        console.print(help_table({}, run.desk.corpus.config))
        table = console.export_text()
    for binding_id in ("check-next", "check-previous"):
        spec = next(spec for spec in ANNOTATE_KEYS if spec.id == binding_id)
        assert binding_id in table and spec.description in table
    assert "Next place to check" in shown and "Previous place to check" in shown  # help's short wording
    assert {"check-next", "check-previous"} <= {spec.id for spec in REVIEW_SCREEN_KEYS}


async def test_at_either_end_the_line_says_how_many_places_lie_the_other_way(tmp_path):
    corpus_dir = corpus(tmp_path)
    async with Run(corpus_dir) as run:
        await run.press("I")  # on the first token: all four places lie after it
        assert "nothing to check before the cursor (4 after it)" in run.screen.context_line().plain
        await run.press("i", "i", "i", "i", "i")
        assert "nothing to check after the cursor (4 before it)" in run.screen.context_line().plain


async def test_i_on_a_snippet_with_nothing_to_check_says_so(tmp_path):
    corpus_dir = write_corpus(tmp_path, [{"id": "plain", "text": "rain fell all day.\nthe river rose."}])
    async with Run(corpus_dir) as run:
        await run.press("i")
        assert "nothing to check in this snippet" in run.screen.context_line().plain
        await run.press("I")
        assert "nothing to check in this snippet" in run.screen.context_line().plain


async def test_help_at_80x24_shows_the_check_keys_whole(tmp_path):
    from curate.tui.screens.help import HelpScreen

    corpus_dir = corpus(tmp_path)
    run = Run(corpus_dir)
    run.size = (80, 24)
    async with run:
        await run.press("question_mark")
        assert isinstance(run.app.screen, HelpScreen)
        lines = ["".join(segment.text for segment in strip).rstrip() for strip in run.app.screen._compositor.render_strips()]
        rows = [row for row in lines if row.strip().startswith(("i  ", "I  ")) or "  i  " in row or "  I  " in row]
        assert len(rows) == 2, lines
        for row, key in zip(rows, ("i", "I")):
            described = row.split(f"{key}  ", 1)[1].strip()
            assert "…" not in described and "check" in described, row
