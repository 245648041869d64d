"""Writing DIR/models/ so that a fit killed or failing at any point leaves it as it was.

A fit writes every new file under a staged name first (`.NAME.staged`, a dot name no reader
looks at) and then :func:`commit` moves them all into place: each staged file is fsynced,
the files about to be replaced are kept as hard links (`.NAME.previous`), and a rollback list
(`.commit.json`) names what is being replaced before the first rename. A rename that fails
puts back what was moved so far; a process killed between two renames leaves the list, and
:func:`recover` (run before the next fit, under the fit lock) puts the old files back from it.
So models/ holds either every old file or every new one, never a mix that a later run would
read; only the few milliseconds of a commit cut short by SIGKILL are visible, until the next fit.

:func:`fit_lock` serialises fits over one corpus (`curate suggest --learn` and the learning
loop of `curate annotate`, from several editors' sessions): a file lock under .curate/locks/.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from filelock import FileLock, Timeout

from curate.store import CorpusLayout, atomic_write_bytes, fsync_directory

STAGED_SUFFIX = ".staged"
PREVIOUS_SUFFIX = ".previous"
_COMMIT_LIST = ".commit.json"


class FitBusy(Exception):
    """Another process is fitting on this corpus (it holds the fit lock)."""


def staged(path: Path) -> Path:
    """Where a fit writes the new `path` before :func:`commit` moves it into place."""
    return path.with_name(f".{path.name}{STAGED_SUFFIX}")


def _previous(path: Path) -> Path:
    return path.with_name(f".{path.name}{PREVIOUS_SUFFIX}")


def _fsync_tree(path: Path) -> None:
    """fsync a file, or every file and folder of a folder (bottom up)."""
    if path.is_dir():
        for child in path.iterdir():
            _fsync_tree(child)
        fsync_directory(path)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _keep_previous(target: Path) -> bool:
    """Keep the current `target` under its `.previous` name (a hard link for a file, a rename
    for a folder, which cannot be renamed over); False when there is none."""
    previous = _previous(target)
    if previous.exists():
        _remove(previous)
    if not target.exists():
        return False
    if target.is_dir():
        target.rename(previous)
    else:
        os.link(target, previous)
    return True


def _put_back(target: Path, had_previous: bool) -> None:
    previous = _previous(target)
    if had_previous and previous.exists():
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(previous, target)
    elif not had_previous:
        _remove(target)


def commit(directory: Path, moves: list[tuple[Path, Path]], remove: Sequence[Path] = ()) -> None:
    """Move each staged file (or folder) over its target in `directory`, and delete the files
    in `remove`, all or none.

    `moves` are (staged, target) pairs, the staged ones written by the fit (:func:`staged`
    names them). On an error the targets moved or deleted so far get their old contents back
    and the error is raised; the staged files are removed either way.
    """
    replaced = {target for _, target in moves}
    targets = [target for _, target in moves] + [target for target in remove if target not in replaced]
    had: dict[str, bool] = {}
    moved: list[Path] = []
    try:
        for source, _ in moves:
            _fsync_tree(source)
        for target in targets:
            had[target.name] = _keep_previous(target)
        atomic_write_bytes(directory / _COMMIT_LIST, [json.dumps(had, sort_keys=True).encode()])
        for source, target in moves:
            os.replace(source, target)
            moved.append(target)
        for target in targets[len(moves) :]:
            _remove(target)  # kept under its .previous name until the commit is done
            moved.append(target)
        fsync_directory(directory)
    except BaseException:
        _roll_back(directory, targets, had, moved)
        raise
    finally:
        for source, _ in moves:
            _remove(source)
    # Done: from here on a failure leaves only dot names that recover() clears.
    (directory / _COMMIT_LIST).unlink()
    with contextlib.suppress(OSError):
        fsync_directory(directory)
    for target in targets:
        with contextlib.suppress(OSError):
            _remove(_previous(target))


def _roll_back(directory: Path, targets: list[Path], had: dict[str, bool], moved: list[Path]) -> None:
    for target in reversed(moved):
        _put_back(target, had[target.name])
    for target in targets:
        previous = _previous(target)
        if target in moved or not had.get(target.name) or not previous.exists():
            continue
        if target.exists():
            _remove(previous)  # a file's extra hard link
        else:
            os.replace(previous, target)  # a folder moved aside but not replaced
    (directory / _COMMIT_LIST).unlink(missing_ok=True)


def recover(directory: Path) -> bool:
    """Undo a commit a killed process left half done, and remove staged files a killed fit
    left; True when a commit was rolled back. Call it under :func:`fit_lock`."""
    if not directory.is_dir():
        return False
    rolled_back = False
    listing = directory / _COMMIT_LIST
    if listing.exists():
        try:
            had = json.loads(listing.read_text())
        except ValueError:
            had = None  # torn while written: no rename had begun
        if isinstance(had, dict):
            for name, had_previous in had.items():
                target = directory / name
                if had_previous and not _previous(target).exists():
                    continue  # this one was never touched, or the commit had finished
                _put_back(target, bool(had_previous))
            rolled_back = True
        listing.unlink()
        fsync_directory(directory)
    for entry in directory.iterdir():
        # Under the lock no other fit writes here: every dot name a fit writes is a leftover
        # (staged files, kept old files, crfsuite's and atomic_write_bytes's temporaries).
        if entry.name.startswith(".") and entry.name.endswith((STAGED_SUFFIX, PREVIOUS_SUFFIX, ".tmp")):
            _remove(entry)
    return rolled_back


# ---------------------------------------------------------------- the fit lock

_held: dict[tuple[int, Path], FileLock] = {}  # by process too: a forked child makes its own
_held_guard = threading.Lock()


def lock_path(corpus_path: Path) -> Path:
    layout = CorpusLayout(corpus_path)
    return layout.lock(layout.models.name)


@contextlib.contextmanager
def fit_lock(corpus_path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold the corpus's fit lock; without `wait`, FitBusy when another process holds it.

    Re-entrant within a process: the learning loop takes it without waiting, and the fit it
    then runs (`learn_from_editors`) takes it again without blocking on itself.
    """
    path = lock_path(corpus_path)
    with _held_guard:
        key = (os.getpid(), path)
        lock = _held.get(key)
        if lock is None:
            lock = _held[key] = FileLock(path, thread_local=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        raise FitBusy(f"another process is fitting on {corpus_path}") from None
    try:
        yield
    finally:
        lock.release()
