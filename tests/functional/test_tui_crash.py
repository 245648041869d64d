"""Killing the annotation UI loses nothing saved; reopening shows the last saved state; the CLI's errors."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from annotate_run import NEWS, SNIPPETS, Run, saved, screen_text, write_corpus
from review_corpora import three_annotator_corpus
from typer.testing import CliRunner

from curate.annotating import AnnotatorDesk
from curate.cli import app as cli

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
    tests_dir = Path(__file__).resolve().parents[1]  # tests/, where the helper modules are
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
            assert "PERSON 'Kim Jong-un'" in text and "story 2 · truncated" in text and "[done]" in text

    asyncio.run(reopen())


def as_if_in_a_terminal(monkeypatch) -> None:
    """CliRunner's streams are not a terminal; let the command past that check."""
    import curate.cli

    monkeypatch.setattr(curate.cli, "require_terminal", lambda command: None)


def test_cli_refuses_a_journal_locked_by_another_process(news_corpus, monkeypatch):
    as_if_in_a_terminal(monkeypatch)
    corpus_dir = news_corpus
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


# ---------------------------------------------------------------- issue 13: refusals that write nothing


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder` with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(folder.rglob("*"))}


def test_annotate_and_review_refuse_without_a_terminal_and_write_nothing(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "r").mkdir()
    corpus_dir = write_corpus(tmp_path / "a", SNIPPETS)
    before = files_under(corpus_dir)
    result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana"], input="q")
    assert result.exit_code == 1
    assert " ".join(result.output.split()).startswith("error: curate annotate needs a terminal: stdin and stdout and stderr are not a TTY")
    assert "\x1b" not in result.output and "Traceback" not in result.output
    assert files_under(corpus_dir) == before and not (corpus_dir / "annotations").exists()

    corpus = three_annotator_corpus(tmp_path / "r")  # s1 would be merged into gold on opening
    corpus.close()
    before = files_under(corpus.path)
    result = CliRunner().invoke(cli, ["review", str(corpus.path), "--adjudicator", "judge"])
    assert result.exit_code == 1 and "curate review needs a terminal" in result.output and "\x1b" not in result.output
    assert files_under(corpus.path) == before and not (corpus.path / "gold.jsonl").exists()


def test_the_terminal_check_names_the_streams_that_are_not_one(monkeypatch):
    import io

    import pytest
    import typer

    import curate.cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("sys.stdout", Terminal())
    monkeypatch.setattr("sys.stderr", Terminal())
    curate.cli.require_terminal("annotate")  # all three a terminal: passes
    monkeypatch.setattr("sys.stdout", io.StringIO())  # `curate annotate ... | less`
    with pytest.raises(typer.Exit) as refused:
        curate.cli.require_terminal("annotate")
    assert refused.value.exit_code == 1
    assert "curate annotate needs a terminal: stdout is not a TTY" in " ".join(sys.stderr.getvalue().split())


def test_annotate_with_an_unknown_start_writes_nothing_at_all(news_corpus, monkeypatch):
    as_if_in_a_terminal(monkeypatch)
    corpus_dir = news_corpus
    before = files_under(corpus_dir)
    result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "x", "--start", "demo-999"])
    assert result.exit_code == 1 and "--start: no snippet with id 'demo-999'" in result.output
    assert not (corpus_dir / "annotations" / "x.jsonl").exists()
    assert files_under(corpus_dir) == before  # no journal, no lock, no index


def test_annotate_on_a_read_only_corpus_says_so_in_one_line_and_writes_nothing(news_corpus, monkeypatch):
    import errno
    import os
    import stat

    as_if_in_a_terminal(monkeypatch)
    corpus_dir = news_corpus
    before = files_under(corpus_dir)
    folders = [corpus_dir, *[path for path in corpus_dir.rglob("*") if path.is_dir()]]
    if os.geteuid() == 0:
        # root writes into a folder without write permission: fail every folder and lock made
        # inside the corpus the way a read-only file system does
        import filelock

        real_mkdir = Path.mkdir

        def read_only_mkdir(self, *args, **kwargs):
            if self.is_relative_to(corpus_dir):
                raise OSError(errno.EROFS, "Read-only file system", str(self))
            return real_mkdir(self, *args, **kwargs)

        def read_only_lock(self, *args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system", self.lock_file)

        monkeypatch.setattr(Path, "mkdir", read_only_mkdir)
        monkeypatch.setattr(filelock.BaseFileLock, "acquire", read_only_lock)
    else:
        for folder in folders:
            folder.chmod(folder.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana"])
    finally:
        for folder in folders:
            folder.chmod(folder.stat().st_mode | stat.S_IWUSR)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "read-only" in lines[0], result.output
    assert "Traceback" not in result.output and "Errno" not in result.output
    assert files_under(corpus_dir) == before


def test_annotate_on_an_unreadable_journal_says_so_in_one_line(news_corpus, monkeypatch):
    import errno

    import curate.store

    as_if_in_a_terminal(monkeypatch)
    corpus_dir = news_corpus
    journal = corpus_dir / "annotations" / "ana.jsonl"

    def unreadable(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(journal))

    monkeypatch.setattr(curate.store.Journal, "_load", unreadable)
    result = CliRunner().invoke(cli, ["annotate", str(corpus_dir), "--annotator", "ana"])
    assert result.exit_code == 1
    assert " ".join(result.output.split()) == f"error: {journal}: permission denied; nothing was written"
