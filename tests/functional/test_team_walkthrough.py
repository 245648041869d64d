"""The README's "Working as a team" walkthrough, step by step with the real CLI and real git:
two editors on two clones assign, annotate, sync, and run agreement and review on the union
of their work. Annotation goes through the annotation desk and the store (what the screen
calls), review through the review desk; everything else is the `curate` command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from git_env import GIT, without_git_configuration
from typer.testing import CliRunner

from curate.annotating import AnnotatorDesk
from curate.cli import app
from curate.model import Annotation
from curate.reviewing import ReviewDesk
from curate.store import Corpus, read_assignment

pytestmark = pytest.mark.skipif(GIT is None, reason="curate sync needs the git command")

PAGES = {
    "p1": "Floods close Leeds station.\nMayor Ann Lee visits York today.",
    "p2": "Storm hits Dover.\nFerries wait in Calais.",
    "p3": "Markets rise in Tokyo.\nThe yen falls against the dollar.",
    "p4": "Rain in Paris.\nThe Seine rises near the Louvre.",
    "p5": "Snow in Oslo.\nTrains stop at Bergen.",
    "p6": "Heat in Madrid.\nFires near Toledo.",
}


@pytest.fixture(autouse=True)
def no_git_identity(tmp_path, monkeypatch):
    without_git_configuration(tmp_path, monkeypatch)


def curate(*args) -> str:
    """The `curate` command, run in this process (git still runs as its own processes)."""
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def annotate(folder: Path, annotator: str, disagree_on: set[str] = frozenset()) -> list[str]:
    """Work through the annotator's todo queue as the screen would save it: the page's first word
    as a place, except on `disagree_on`."""
    desk = AnnotatorDesk.open(folder, annotator)
    try:
        ids = [desk.corpus.snippet_id(int(position)) for position in desk.queue]
    finally:
        desk.close()
    with Corpus.open(folder) as corpus, corpus.journal(annotator, writable=True) as journal:
        for snippet_id in ids:
            text = PAGES[snippet_id]
            word = text.split()[0] if snippet_id not in disagree_on else text.split()[1]
            start = text.index(word)
            journal.append(Annotation(snippet_id=snippet_id, annotator=annotator, stories=[{"start": 0, "end": len(text)}], entities=[{"start": start, "end": start + len(word), "label": "GPE"}], status="done", updated_at="2026-12-07T10:00:00Z"))
    return ids


def test_two_editors_on_two_clones_assign_annotate_sync_and_review_the_union(tmp_path):
    pages = tmp_path / "pages.jsonl"
    pages.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in PAGES.items()))
    shared = tmp_path / "shared" / "news.git"
    machine1, machine2 = tmp_path / "machine1", tmp_path / "machine2"
    machine1.mkdir()
    machine2.mkdir()

    # once, on the shared disk
    subprocess.run([GIT, "init", "-q", "--bare", "-b", "main", str(shared)], check=True)
    # machine 1: make the corpus, share it out, publish it
    news1 = machine1 / "news"
    curate("ingest", pages, "--corpus", news1)
    curate("assign", news1, "--annotators", "ana,ben", "--overlap", "1", "--iaa", "0.5", "--iaa-overlap", "2")
    curate("sync", news1, "--remote", shared)
    # machine 2: take a copy
    news2 = machine2 / "news"
    subprocess.run([GIT, "clone", "-q", str(shared), str(news2)], check=True)
    assert "up to date" in curate("sync", news2)
    assert (news2 / ".curate").is_dir()

    # each editor works on their own machine: todo holds only their assigned pages
    ana_pages = annotate(news1, "ana")
    both = set(ana_pages) & set(read_assignment(news2).snippets_of("ben"))
    ben_pages = annotate(news2, "ben", disagree_on={sorted(both)[0]})
    assert set(ana_pages) | set(ben_pages) == set(PAGES) and len(both) == 3  # half the pages to both

    # now and then, on each machine
    for folder in (news1, news2, news1):
        curate("sync", folder)
    for folder in (news1, news2):
        progress = json.loads(curate("stats", folder, "--json"))["annotators"]
        assert progress["ana"]["done"] == progress["ana"]["assigned"] == len(ana_pages)
        assert progress["ben"]["done"] == progress["ben"]["assigned"] == len(ben_pages)

    # agreement and review on machine 2, on the union
    agreement = json.loads(curate("agreement", news2, "--json"))
    assert agreement["annotators"] == ["ana", "ben"] and agreement["snippets"] == len(both)
    desk = ReviewDesk.open(news2, "cy")
    try:
        assert desk.auto_accepted == len(both) - 1  # the pages they agree on go into gold at once
        assert [desk.corpus.snippet_id(position) for position in desk.queue] == [sorted(both)[0]]
        desk.accept(desk.current())
    finally:
        desk.close()
    curate("sync", news2)  # the gold goes to the others
    curate("sync", news1)
    with Corpus.open(news1) as corpus:
        gold = corpus.gold()
        assert sorted(gold.records) == sorted(both)
        assert gold.get(sorted(both)[0]).adjudicator == "cy"
