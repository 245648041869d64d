"""Export never writes outside OUT, survives a kill at any step, and a full disk changes nothing."""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest
from export_fixtures import build_corpus
from typer.testing import CliRunner

from curate import formats
from curate.cli import app
from curate.export import EXPORT_FORMATS, ExportError, export_corpus
from curate.export.context import ExportContext
from curate.export.rows import source_records, story_rows
from curate.formats.base import safe_child
from curate.store import Corpus, read_config


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("safety"), pages=6, annotators=("alice",), gold=False)


def hostile_names(root: Path) -> list[str]:
    """A name climbing out, an absolute path (inside the test's folder, so a write would be seen) and one climbing through a subfolder."""
    return ["../victim", str(root / "abs" / "victim"), "a/../../b"]


def tree(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


# ---------------------------------------------------------------- names that escape OUT


@pytest.mark.parametrize("name", ["", " ", ".", "..", "../x", "a/b", "a\\b", "/etc/passwd", "x\x00y", "tab\there"])
def test_safe_child_refuses_names_that_are_not_one_file_name(tmp_path, name):
    with pytest.raises(ExportError, match="cannot be a file name"):
        safe_child(tmp_path, name, ".jsonl")


def test_safe_child_refuses_a_symlink_that_leads_out(tmp_path):
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "train.jsonl").symlink_to(tmp_path / "victim.jsonl")
    with pytest.raises(ExportError, match="outside"):
        safe_child(tmp_path / "inside", "train", ".jsonl")
    assert safe_child(tmp_path / "inside", "test", ".jsonl") == tmp_path / "inside" / "test.jsonl"


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_writer_refuses_a_split_name_that_leaves_its_folder(corpus_dir, tmp_path, fmt):
    """Each format's writer on its own (without export_corpus's early check) refuses the hostile names."""
    with Corpus.open(corpus_dir) as corpus:
        pairs = list(source_records(corpus, "alice"))
        config = read_config(corpus_dir)
        for index, name in enumerate(hostile_names(tmp_path)):
            folder = tmp_path / f"work{index}" / "out"
            folder.mkdir(parents=True)
            context = ExportContext(config, corpus_dir, "alice", {"train": 0.5, name: 0.5})
            writer = formats.get(fmt).writer(folder, context)
            with pytest.raises(ExportError, match="split name"):
                for snippet, record in pairs:
                    writer.add(name, snippet, record, story_rows(snippet, record))
                writer.finish()
            assert tree(tmp_path / f"work{index}") <= {"out"} | {f"out/{path}" for path in tree(folder)}
            assert not (tmp_path / "abs").exists()
            assert not (tmp_path / "victim").exists() and not list(tmp_path.glob("victim*")) and not list(tmp_path.glob("b*"))


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_refuses_hostile_split_names_and_writes_nothing(corpus_dir, tmp_path, fmt):
    for name in hostile_names(tmp_path):
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        with pytest.raises(ExportError, match="cannot be a file name"):
            export_corpus(corpus_dir, work / "out", source="alice", fmt=fmt, splits={"train": 0.5, name: 0.5})
        assert tree(tmp_path) == {"work"}, name


def write_hostile_splits(corpus_dir: Path, target: Path, name: str) -> Path:
    """A copy of the corpus whose corpus.toml names a hostile split."""
    import shutil

    copy = target / "corpus"
    shutil.copytree(corpus_dir, copy, ignore=shutil.ignore_patterns(".curate"))
    config = copy / "corpus.toml"
    text = config.read_text(encoding="utf-8")
    head, _, _ = text.partition("[splits]")
    escaped = name.replace("\\", "\\\\")
    config.write_text(f'{head}[splits]\ntrain = 0.5\n"{escaped}" = 0.5\n', encoding="utf-8")
    return copy


@pytest.mark.parametrize("fmt", ["jsonl", "conll", "spacy", "hf"])
def test_cli_export_with_hostile_splits_in_corpus_toml_fails_in_one_line(corpus_dir, tmp_path, fmt):
    runner = CliRunner()
    for index, name in enumerate(hostile_names(tmp_path)):
        root = tmp_path / f"case{index}"
        (root / "work").mkdir(parents=True)
        copy = write_hostile_splits(corpus_dir, root, name)
        result = runner.invoke(app, ["export", str(copy), "--out", str(root / "work" / "out"), "--source", "alice", "--format", fmt])
        assert result.exit_code != 0, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and "corpus.toml" in lines[0], result.stderr
        assert tree(root / "work") == set(), name
        assert not (tmp_path / "abs").exists()
        assert not list(root.glob("victim*")) and not list(root.glob("b.*"))


# ---------------------------------------------------------------- a kill at any step


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def export_killed_at(step: int, corpus_dir: Path, out: Path, *, can_exchange: bool) -> bool:
    """Export in a forked child that SIGKILLs itself just before its `step`-th file operation
    (a write of a record, an fsync, a rename, an exchange, a removal). True when it was killed."""
    import shutil
    import signal

    from curate.export import outfolder
    from curate.formats.interchange import SplitJsonlWriter

    pid = os.fork()
    if pid == 0:  # the child: nothing here returns to pytest
        code = 0
        try:
            calls = [0]

            def counted(function):
                def step_then(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == step:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return function(*args, **kwargs)

                return step_then

            os.replace = counted(os.replace)
            os.fsync = counted(os.fsync)
            shutil.rmtree = counted(shutil.rmtree)
            SplitJsonlWriter.write = counted(SplitJsonlWriter.write)
            outfolder.exchange = counted(outfolder.exchange if can_exchange else (lambda first, second: False))
            export_corpus(corpus_dir, out, source="alice", fmt="jsonl", overwrite=True)
        except BaseException:  # noqa: BLE001 - any failure is the child's exit code
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0, f"step {step}: the export failed instead of being killed"
    return os.WIFSIGNALED(status)


@pytest.mark.parametrize("can_exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_kill_at_any_step_leaves_the_old_or_the_new_out_and_the_next_run_cleans_up(corpus_dir, tmp_path, can_exchange):
    from curate.export.outfolder import exchange, recover

    if can_exchange:
        first, second = tmp_path / "first", tmp_path / "second"
        first.mkdir()
        second.mkdir()
        assert exchange(first, second), "this filesystem cannot exchange two names; the two-renames case covers it"
        first.rmdir()
        second.rmdir()
    new = snapshot(export_corpus(corpus_dir, tmp_path / "reference", source="alice", fmt="jsonl").out)
    out = tmp_path / "work" / "out"
    export_corpus(corpus_dir, out, source="alice", fmt="jsonl", seed=7)
    old = snapshot(out)
    assert old != new
    step = 1
    while export_killed_at(step, corpus_dir, out, can_exchange=can_exchange):
        if can_exchange:
            assert out.is_dir(), f"step {step}: OUT is missing"
        recovered = recover(out)  # what the next export does first
        assert snapshot(out) in (old, new), f"step {step}: OUT is neither the old nor the new export ({recovered})"
        assert os.listdir(out.parent) == ["out"], f"step {step}: leftovers {os.listdir(out.parent)}"
        export_corpus(corpus_dir, out, source="alice", fmt="jsonl", seed=7, overwrite=True)  # back to the old OUT
        assert snapshot(out) == old
        step += 1
    assert step > 10  # every write, fsync, rename and removal was a kill point
    assert snapshot(out) == new and os.listdir(out.parent) == ["out"]


def test_the_next_export_restores_an_out_left_absent_and_removes_leftovers(corpus_dir, tmp_path):
    """What a kill between the two renames leaves: no OUT, its complete `.old` backup, a `.tmp` and a `.trash`."""
    work = tmp_path / "work"
    out = work / "out"
    export_corpus(corpus_dir, out, source="alice", fmt="jsonl")
    old = snapshot(out)
    (work / ".out.abcd1234.tmp").mkdir()
    (work / ".out.abcd1234.tmp" / "train.jsonl").write_text("half")
    (work / ".out.zzzz0000.trash").mkdir()
    out.rename(work / ".out.k1l2m3n4.old")
    (work / ".other.abcd1234.tmp").mkdir()  # another folder's leftover, not this OUT's
    (work / "notes.old").write_text("mine")  # the user's own file
    with pytest.raises(ExportError, match="already exists"):
        export_corpus(corpus_dir, out, source="alice", fmt="jsonl")  # OUT is back, so it is not overwritten silently
    assert snapshot(out) == old
    assert sorted(os.listdir(work)) == [".other.abcd1234.tmp", "notes.old", "out"]


def test_a_live_exports_folder_is_not_taken_for_a_leftover(corpus_dir, tmp_path):
    from curate.export.outfolder import Building, recover

    out = tmp_path / "out"
    building = Building(out)
    try:
        recover(out)
        assert building.path.is_dir()
    finally:
        building.discard()
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- a full disk


class FullDisk:
    """A file whose writes fail with ENOSPC once `room` characters are written (part of the last write goes through)."""

    def __init__(self, handle, room: int) -> None:
        self.handle = handle
        self.room = room

    def write(self, data):
        import errno

        if len(data) > self.room:
            self.handle.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def fill_disk(monkeypatch, room: int = 200) -> None:
    """Every file opened for writing under a temporary export folder runs out of space after `room` characters."""
    import pathlib

    real_open = pathlib.Path.open

    def open_(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        if "w" in mode and ".tmp" in str(self):
            return FullDisk(handle, room)
        return handle

    monkeypatch.setattr(pathlib.Path, "open", open_)


def assert_nothing_changed(result_error: str, out: Path, old: dict) -> None:
    assert f"no space left on device while writing {out}/" in result_error
    assert result_error.endswith(f"nothing was changed at {out}")
    assert "\n" not in result_error
    assert snapshot(out) == old
    assert os.listdir(out.parent) == ["out"]


@pytest.mark.parametrize("fmt", ["jsonl", "conll", "spacy", "prodigy", "doccano"])
def test_a_full_disk_while_writing_changes_nothing(corpus_dir, tmp_path, monkeypatch, fmt):
    out = tmp_path / "out"
    export_corpus(corpus_dir, out, source="alice", fmt=fmt, seed=3)
    old = snapshot(out)
    fill_disk(monkeypatch)
    with pytest.raises(ExportError) as raised:
        export_corpus(corpus_dir, out, source="alice", fmt=fmt, overwrite=True)
    assert_nothing_changed(str(raised.value), out, old)


def test_a_full_disk_while_writing_parquet_changes_nothing(corpus_dir, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    export_corpus(corpus_dir, out, source="alice", seed=3)
    old = snapshot(out)

    def full(self, table, row_group_size=None):
        raise OSError("[Errno 28] No space left on device")  # as pyarrow words it, without an errno attribute

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with pytest.raises(ExportError) as raised:
        export_corpus(corpus_dir, out, source="alice", overwrite=True)
    assert_nothing_changed(str(raised.value), out, old)


def test_a_full_disk_at_fsync_changes_nothing(corpus_dir, tmp_path, monkeypatch):
    import errno

    out = tmp_path / "out"
    export_corpus(corpus_dir, out, source="alice", fmt="jsonl", seed=3)
    old = snapshot(out)

    def fsync(fd):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(ExportError) as raised:
        export_corpus(corpus_dir, out, source="alice", fmt="jsonl", overwrite=True)
    assert_nothing_changed(str(raised.value), out, old)


def test_cli_export_onto_a_full_disk_says_so_in_one_line(corpus_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    export_corpus(corpus_dir, out, source="alice", fmt="conll", seed=3)
    old = snapshot(out)
    fill_disk(monkeypatch)
    result = CliRunner().invoke(app, ["export", str(corpus_dir), "--out", str(out), "--source", "alice", "--format", "conll", "--overwrite"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no space left on device while writing"), result.stderr
    assert_nothing_changed(lines[0], out, old)
