"""Killing the annotation UI loses nothing saved; reopening shows the last saved state; the CLI's errors."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from curate.annotating import AnnotatorDesk
from curate.cli import app as cli
from test_tui import NEWS, SNIPPETS, Run, saved, screen_text, write_corpus

KILLED_SESSION = """
import asyncio, os, signal, sys
from curate.annotating import AnnotatorDesk
from curate.tui.app import AnnotateApp

async def main():
    desk = AnnotatorDesk.open(sys.argv[1], "ana")
    app = AnnotateApp(desk, cursor_blink=False)
    async with app.run_test(size=(100, 32)) as pilot:
        for key in ["shift+right", "1", "]", "]", "b", "]", "t", "enter", "l", "3"]:
            await pilot.press(key)
            await pilot.pause()
        # no clean exit: the journal is never closed, its index never saved
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_killed_session_reopens_with_the_last_saved_state(tmp_path):
    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_SESSION)
    tests_dir = Path(__file__).parent
    result = subprocess.run([sys.executable, str(script), str(corpus_dir)], cwd=tests_dir, capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()[-2000:]
    records = saved(corpus_dir)
    first = records["news-1"]
    assert first["status"] == "done"
    assert [NEWS[e["start"] : e["end"]] for e in first["entities"]] == ["Kim Jong-un"]
    assert [(s["start"], s["truncated"]) for s in first["stories"]] == [(0, False), (NEWS.index("Kim said"), True)]
    second = records["news-2"]
    assert second["status"] is None and second["entities"][0]["label"] == "GPE"

    import asyncio

    async def reopen() -> None:
        async with Run(corpus_dir) as run:  # the todo queue: news-2 (in progress) first
            assert run.screen.opened.snippet.id == "news-2"
            assert run.view.record.entities[0].label == "GPE"
            assert "[in progress]" in screen_text(run.app)
            await run.press("p")  # news-1 is done, so not in the todo queue
            assert run.screen.opened.snippet.id == "news-2"
        async with Run(corpus_dir, queue="all") as run:
            text = screen_text(run.app)
            assert "Kim Jong-un PERSON" in text and "story 2 · truncated" in text and "[done]" in text

    asyncio.run(reopen())


def test_cli_refuses_a_journal_locked_by_another_process(tmp_path):
    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from curate.annotating import AnnotatorDesk; d = AnnotatorDesk.open(sys.argv[1], 'ana'); print('ready', flush=True); time.sleep(60)", str(corpus_dir)],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"ready"
        result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana"])
        assert result.exit_code == 1
        assert "open for writing in another curate process" in result.output
    finally:
        holder.kill()
        holder.wait()


def test_cli_rejects_bad_options(tmp_path):
    corpus_dir = write_corpus(tmp_path, SNIPPETS)
    runner = CliRunner()
    result = runner.invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana", "--queue", "later"])
    assert result.exit_code == 1 and "--queue must be one of" in result.output
    result = runner.invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana", "--start", "nope"])
    assert result.exit_code == 1 and "no snippet with id 'nope'" in result.output
    result = runner.invoke(cli, ["annotate", str(corpus_dir), "--annotator", "../evil"])
    assert result.exit_code == 1 and "not allowed" in result.output
    result = runner.invoke(cli, ["annotate", str(tmp_path / "missing"), "--annotator", "ana"])
    assert result.exit_code == 1
    # a refused start leaves the journal unlocked for the next try (this would raise JournalLocked)
    desk = AnnotatorDesk.open(corpus_dir, "ana")
    desk.close()


def test_ui_path_imports_neither_spacy_nor_datasets():
    code = (
        "import sys, curate.cli, curate.annotating, curate.editing, curate.tui.app; "
        "heavy = [name for name in ('spacy', 'datasets', 'pyarrow', 'torch', 'sklearn') if name in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
