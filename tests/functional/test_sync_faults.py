"""`curate sync` when writing a merged file fails (full disk, I/O error, failed fsync or rename)
at each of its write points: sync stops with a one-line reason, every file is whole (this
machine's version or the merged one), no temporary file stays, and the next sync finishes the
merge with nothing lost or doubled. Git itself runs in a subprocess and is not faulted: the
writes faulted are curate's own (the merged working files)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from git_env import GIT, git, without_git_configuration

from curate.ingest import ingest
from curate.model import Annotation, GoldAnnotation
from curate.store import Corpus, CorpusLayout, journal_lines
from curate.sync import SyncError, sync

pytestmark = pytest.mark.skipif(GIT is None, reason="curate sync needs the git command")

TEXTS = {"s1": "Floods close Leeds station.", "s2": "Storm hits Dover.", "s3": "Markets rise in Tokyo."}
FAULTS = {"write": errno.ENOSPC, "fsync": errno.EIO, "replace": errno.EIO}


@pytest.fixture(autouse=True)
def bare_git(tmp_path, monkeypatch):
    without_git_configuration(tmp_path, monkeypatch)


class WriteFaults:
    """Fails the Nth os.write / os.fsync / os.replace on a file of the working tree `root`
    (outside .git and .curate), counting them all."""

    def __init__(self, root: Path, monkeypatch) -> None:
        self.root = str(root)
        self.fail_at: int | None = None
        self.calls: list[str] = []
        for name in FAULTS:
            monkeypatch.setattr(os, name, self.wrap(name, getattr(os, name)))

    def ours(self, name: str, first) -> bool:
        try:
            path = os.fsdecode(first) if name == "replace" else os.readlink(f"/proc/self/fd/{first}")
        except (OSError, TypeError):
            return False
        return path.startswith(self.root + os.sep) and not any(part in (".git", ".curate") for part in Path(path).relative_to(self.root).parts)

    def wrap(self, name, real):
        def call(*args, **kwargs):
            if self.fail_at is not None and self.ours(name, args[0]):
                self.calls.append(name)
                if len(self.calls) == self.fail_at:
                    raise OSError(FAULTS[name], os.strerror(FAULTS[name]))
            return real(*args, **kwargs)

        return call



def save(folder: Path, annotator: str, snippet_id: str, at: str) -> bytes:
    with Corpus.open(folder) as corpus, corpus.journal(annotator, writable=True) as journal:
        record = Annotation(snippet_id=snippet_id, annotator=annotator, stories=[{"start": 0, "end": len(TEXTS[snippet_id])}], status="done", updated_at=at)
        journal.append(record)
    return record.model_dump_json().encode() + b"\n"


def team(tmp_path: Path) -> tuple[Path, Path, Path, set[bytes]]:
    """A remote and two clones whose journals and gold both moved since they last synced."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in TEXTS.items()))
    remote, one, two = tmp_path / "team.git", tmp_path / "one", tmp_path / "two"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    ingest([source], one)
    sync(one, remote_url=str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(two))
    ben = {save(one, "ben", "s1", "2026-12-07T10:00:00Z"), save(two, "ben", "s2", "2026-12-07T10:01:00Z"), save(one, "ben", "s3", "2026-12-07T10:02:00Z")}
    save(one, "ana", "s1", "2026-12-07T10:00:00Z")
    with Corpus.open(one) as corpus:
        corpus.gold().put(GoldAnnotation(snippet_id="s1", annotator="cy", adjudicator="cy", stories=[{"start": 0, "end": len(TEXTS["s1"])}], status="done", updated_at="2026-12-07T11:00:00Z"))
    sync(one)
    return remote, one, two, ben


def test_sync_under_a_fault_at_every_write_point_of_the_merge(tmp_path, monkeypatch):
    remote, one, two, ben = team(tmp_path)
    templates = {folder: tmp_path / f"{folder.name}.template" for folder in (remote, two)}
    for folder, template in templates.items():
        shutil.copytree(folder, template, symlinks=True)
    faults = WriteFaults(two, monkeypatch)
    faults.fail_at = 0  # count the write points of one clean run
    sync(two)
    points = len(faults.calls)
    assert points >= 9  # three files merged or taken (ana, ben, gold): write, fsync and rename each
    merged = {name: (two / name).read_bytes() for name in ("annotations/ben.jsonl", "annotations/ana.jsonl", "gold.jsonl")}
    stopped = 0
    for number in range(1, points + 1):
        for folder, template in templates.items():
            shutil.rmtree(folder)
            shutil.copytree(template, folder, symlinks=True)
        before = {name: (two / name).read_bytes() if (two / name).exists() else None for name in merged}
        faults.calls, faults.fail_at = [], number
        try:
            sync(two)
        except SyncError as error:
            stopped += 1
            assert len(str(error).splitlines()) == 1 and "sync again" in str(error)
        finally:
            faults.fail_at = None
        for name in merged:  # whole: this machine's version or the merged one
            now = (two / name).read_bytes() if (two / name).exists() else None
            assert now in (before[name], merged[name]), f"{name} torn by a fault at write point {number} ({faults.calls[-1]})"
        sync(two)  # the next run finishes it (or finds nothing left to do: a failed fsync of a folder is not an error)
        for name, data in merged.items():
            assert set(journal_lines((two / name).read_bytes())) == set(journal_lines(data))
        assert set(journal_lines(CorpusLayout(two).journal("ben").read_bytes())) == ben
        assert len(journal_lines(CorpusLayout(two).journal("ben").read_bytes())) == len(ben)  # none doubled
        assert git(two, "status", "--porcelain") == ""
        assert not [path for path in two.rglob("*.tmp") if ".git" not in path.parts]
        assert git(two, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
    assert stopped >= 9  # every write, fsync and rename of a file stopped the sync


@pytest.mark.parametrize("call", ["write", "fsync", "replace"])
def test_gitignore_writes_under_a_fault(tmp_path, monkeypatch, call):
    from curate.store import StoreError, ensure_gitignore

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "One page."}) + "\n")
    new = tmp_path / "new"
    real = getattr(os, call)

    def failing(*args, **kwargs):  # only the .gitignore's writes fail
        target = os.fsdecode(args[0]) if call == "replace" else os.readlink(f"/proc/self/fd/{args[0]}")
        if ".gitignore" in Path(target).name:  # the file or its temporary ..gitignore.XXXXXXXX.tmp
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, call, failing)
    # a new corpus whose .gitignore cannot be written is not made at all
    with pytest.raises((StoreError, OSError)):
        ingest([source], new)
    assert not new.exists()
    # an existing .gitignore that cannot be extended stays as it was, and nothing half-written stays
    old = tmp_path / "old"
    old.mkdir()
    (old / ".gitignore").write_text("notes.txt\n")
    with pytest.raises(OSError):
        ensure_gitignore(old)
    assert (old / ".gitignore").read_text() == "notes.txt\n" and os.listdir(old) == [".gitignore"]


def test_a_fault_writing_the_streamed_journal_merge_stops_the_sync_with_nothing_changed(tmp_path, monkeypatch):
    """The journal merge is written to a scratch file in .git before git stores it: a failed
    write there stops the sync before any working file or the branch moves, and leaves no
    scratch file; the next sync merges."""
    remote, one, two, ben = team(tmp_path)
    clean = tmp_path / "clean"
    shutil.copytree(two, clean, symlinks=True)
    shutil.copytree(remote, tmp_path / "clean.git", symlinks=True)
    sync(clean, remote_url=str(tmp_path / "clean.git"))  # the merge a run without faults makes (on copies)
    names = ("annotations/ben.jsonl", "annotations/ana.jsonl", "gold.jsonl")
    before = {name: (two / name).read_bytes() if (two / name).exists() else None for name in names}
    head = git(two, "rev-parse", "HEAD")
    real = os.write
    calls = []

    def failing(fd, data):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if "curate-merge" in Path(target).parts:
            calls.append(target)
            if len(calls) == 1:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", failing)
    with pytest.raises(SyncError) as stopped:
        sync(two)
    monkeypatch.setattr(os, "write", real)
    message = str(stopped.value)
    assert len(message.splitlines()) == 1 and "curate-merge" in message and "sync again" in message
    assert {name: (two / name).read_bytes() if (two / name).exists() else None for name in names} == before
    assert calls and git(two, "rev-parse", "HEAD^{tree}") == git(two, "write-tree")  # the branch did not move onto a merge
    git(two, "merge-base", "--is-ancestor", head, "HEAD")  # HEAD holds this machine's work only:
    assert subprocess.run([GIT, "merge-base", "--is-ancestor", "origin/main", "HEAD"], cwd=two).returncode == 1  # not the remote's
    assert list((two / ".git" / "curate-merge").glob("journal.*")) == []
    sync(two)
    for name in names:
        assert (two / name).read_bytes() == (clean / name).read_bytes()
    assert set(journal_lines(CorpusLayout(two).journal("ben").read_bytes())) == ben


def test_a_damaged_gold_line_stops_the_streamed_gold_merge_naming_it(tmp_path):
    remote, one, two, ben = team(tmp_path)  # gold changed on one; now on two as well, damaged
    gold = CorpusLayout(two).gold
    gold.write_bytes(b"<<<<<<< a conflict marker\n")
    head = git(two, "rev-parse", "HEAD")
    with pytest.raises(SyncError) as stopped:
        sync(two)
    message = str(stopped.value)
    assert len(message.splitlines()) == 1 and "gold.jsonl:1 (this machine): not a gold record" in message and "nothing was merged" in message
    assert gold.read_bytes() == b"<<<<<<< a conflict marker\n"
    git(two, "merge-base", "--is-ancestor", head, "HEAD")
    assert subprocess.run([GIT, "merge-base", "--is-ancestor", "origin/main", "HEAD"], cwd=two).returncode == 1
    assert list((two / ".git" / "curate-merge").glob("journal.*")) == []
