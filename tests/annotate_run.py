"""The annotation UI on a small news corpus, run headless: the corpus, the app run, and what it saved."""

from __future__ import annotations

import json
from pathlib import Path

from app_run import AppRun

from curate.annotating import AnnotatorDesk
from curate.ingest import ingest
from curate.tui.app import AnnotateApp
from curate.tui.messages import FindText
from curate.tui.screens.annotate import AnnotateScreen
from curate.tui.widgets.snippet_view import SnippetView

NEWS = (
    "Kim Jong-un met Putin in Pyongyang. Putin thanked Kim warmly.\n"
    "Photo: AP\n"
    "Kim said ties are at a new high. Kimberly Lee disagreed.\n"
    "Airlines in Bali canceled flights after an eruption."
)
SNIPPETS = [
    {"id": "news-1", "text": NEWS},
    {"id": "news-2", "text": "Second snippet. It mentions Bali once.\nAnd a second line."},
    {"id": "news-3", "text": "Third snippet with Jakarta."},
]


def write_corpus(folder: Path, snippets: list[dict]) -> Path:
    source = folder / "source.jsonl"
    source.write_text("".join(json.dumps(snippet) + "\n" for snippet in snippets), encoding="utf-8")
    ingest([source], folder / "corpus")
    return folder / "corpus"


def saved(corpus_dir: Path, annotator: str = "ana") -> dict[str, dict]:
    """The last record per snippet, read from the journal file on disk."""
    path = corpus_dir / "annotations" / f"{annotator}.jsonl"
    records: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            records[record["snippet_id"]] = record
    return records


class Run(AppRun):
    """An app on a corpus, opened like `curate annotate` does."""

    def __init__(self, corpus_dir: Path, queue: str = "todo", keymap: dict | None = None, start: str | None = None) -> None:
        self.desk = AnnotatorDesk.open(corpus_dir, "ana", queue)
        if start:
            assert self.desk.go_to_id(start)
        self.app = AnnotateApp(self.desk, keymap, cursor_blink=False)

    @property
    def screen(self) -> AnnotateScreen:
        screen = self.app.screen
        assert isinstance(screen, AnnotateScreen), screen
        return screen

    @property
    def view(self) -> SnippetView:
        return self.screen.query_one(SnippetView)

    def cursor_text(self) -> str:
        start, end = self.view.cursor_span
        return self.view.text[start:end]

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def find(self, text: str) -> None:
        """Ask the screen to find `text` and wait for its search worker to finish."""
        self.screen.post_message(FindText(text))
        await self.pilot.pause()
        await self.app.workers.wait_for_complete()
        await self.pilot.pause()


def screen_text(app) -> str:
    return "\n".join("".join(segment.text for segment in strip).rstrip() for strip in app.screen._compositor.render_strips())
