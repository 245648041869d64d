"""The export's output folder: built beside OUT, swapped in whole, and leftovers of a killed run cleaned.

Names curate uses beside OUT (and only these are ever removed or restored):

- `.OUT.XXXXXXXX.tmp`: the folder being written (held under an flock while its export runs);
- `.OUT.XXXXXXXX.old`: the previous OUT, between the two renames of a swap without an atomic exchange;
- `.OUT.XXXXXXXX.trash`: a replaced OUT on its way out.

The swap exchanges the new folder and OUT in one `renameat2(RENAME_EXCHANGE)` where the
filesystem has it, so OUT is never absent. Elsewhere OUT is renamed to `.old`, the new folder
renamed into place and `.old` then discarded; a kill between the two renames leaves no OUT but a
complete `.old`, which the next export to the same OUT renames back before anything else.
Swaps and the clean-up run under an flock on OUT's parent folder, so two exports beside each
other never take each other's folders for leftovers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from curate.store import FILE_MODE, fsync_directory

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"  # what tempfile.mkdtemp draws its names from
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM, errno.ENOTSUP}


def leftover_pattern(out: Path, kinds: str = "tmp|old|trash") -> re.Pattern:
    return re.compile(rf"\.{re.escape(out.name)}\.[{_ALPHABET}]{{8}}\.(?:{kinds})")


def leftovers(out: Path, kinds: str = "tmp|old|trash") -> list[Path]:
    """curate's own temporary names beside `out` (never anything else)."""
    pattern = leftover_pattern(out, kinds)
    try:
        names = sorted(os.listdir(out.parent))
    except FileNotFoundError:
        return []
    return [out.parent / name for name in names if pattern.fullmatch(name)]


def _sibling(out: Path, kind: str) -> Path:
    while True:
        path = out.parent / f".{out.name}.{''.join(secrets.choice(_ALPHABET) for _ in range(8))}.{kind}"
        if not os.path.lexists(path):
            return path


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive flock on `folder` itself (no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _in_use(path: Path) -> bool:
    """Whether a live export holds `path` (its building folder) under an flock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def remove(path: Path) -> None:
    """Remove a folder, file or link of curate's own; what cannot be removed waits for the next run."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def recover(out: Path) -> list[str]:
    """Before an export to `out`: put back an OUT a killed swap left absent, and remove the
    leftovers of killed exports. Returns notes for the user."""
    notes: list[str] = []
    if not out.parent.is_dir():
        return notes
    with folder_lock(out.parent):
        if not os.path.lexists(out):
            backups = sorted(leftovers(out, "old"), key=lambda path: path.lstat().st_ctime)
            if backups:
                os.replace(backups[-1], out)
                fsync_directory(out.parent)
                notes.append(f"{out} was put back from {backups[-1].name}, left by an export killed while replacing it")
        stale = [path for path in leftovers(out) if not _in_use(path)]
        for path in stale:
            remove(path)
    if stale:
        notes.append(f"removed {len(stale)} leftover folder(s) of interrupted exports beside {out}")
    return notes


class Building:
    """The folder an export writes, beside OUT, locked while it is written."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.swapped = False
        """Whether OUT has been replaced (what fails after that no longer leaves OUT unchanged)."""
        self.path = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        self._fd: int | None = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Remove the folder (after a failure); it is no longer OUT's if the swap ran."""
        self.close()
        remove(self.path)

    def swap(self) -> None:
        """Put the complete folder in OUT's place; OUT (old or new) exists at every moment
        where the filesystem can exchange two names, and a killed swap is undone by `recover`."""
        sync_tree(self.path)
        os.chmod(self.path, FILE_MODE | 0o111)  # mkdtemp made it private; an export is shared like any folder
        with folder_lock(self.out.parent):
            if not os.path.lexists(self.out):
                os.replace(self.path, self.out)
                replaced = None
            elif exchange(self.path, self.out):
                replaced = self.path  # now holds the old OUT
            else:
                backup = _sibling(self.out, "old")
                os.replace(self.out, backup)
                try:
                    os.replace(self.path, self.out)
                except BaseException:
                    os.replace(backup, self.out)
                    raise
                replaced = backup
            self.swapped = True
            if replaced is not None:
                trash = _sibling(self.out, "trash")
                os.replace(replaced, trash)
                replaced = trash
            self.close()
            fsync_directory(self.out.parent)
        if replaced is not None:
            remove(replaced)


def exchange(first: Path, second: Path) -> bool:
    """Swap two names in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(second))


_RENAMEAT2: list = []


def _renameat2():
    if not _RENAMEAT2:
        function = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            function = libc.renameat2
            function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            function.restype = ctypes.c_int
        except (OSError, AttributeError):
            function = None
        _RENAMEAT2.append(function)
    return _RENAMEAT2[0]


def sync_tree(folder: Path) -> None:
    """fsync every file and folder under `folder` (and `folder`), so a swapped-in export survives a power cut."""
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            except OSError as error:
                if not error.filename:
                    error.export_path = path
                raise
            finally:
                os.close(fd)
        fsync_directory(Path(root))
