"""Writing corpus files so that saved work is never lost or half-written.

Rewrites go through a temporary file in the same folder, fsynced and renamed over the old
file (:func:`atomic_write_bytes`); a killed writer's temporary files are cleared later
(:func:`remove_stale_temps`). New files get the mode any other file would (the umask's),
not mkstemp's private 0600.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path


def default_file_mode() -> int:
    """The mode a new file gets under the current umask (0o666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# mkstemp makes files private (0600); corpus files are shared like any other file.
FILE_MODE = default_file_mode()


def nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists (where a new file or folder would be made)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_WRITE_BUFFER = 1 << 20


def write_fully(fd: int, data: bytes | bytearray) -> None:
    """os.write until all of `data` is written (a short write is followed by another)."""
    view = memoryview(data)
    written = 0
    while written < len(data):
        count = os.write(fd, view[written:])
        if count <= 0:
            raise OSError(errno.EIO, "the write wrote nothing")
        written += count


def write_chunks(fd: int, chunks: Iterable[bytes]) -> None:
    """Write every chunk to `fd`, gathered into writes of about a MiB (many small chunks, few syscalls)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= _WRITE_BUFFER:
            write_fully(fd, buffer)
            buffer.clear()
    write_fully(fd, buffer)


def pread_up_to(fd: int, length: int, offset: int) -> bytes:
    """`length` bytes at `offset` (os.pread again after a short read); fewer only at the file's end.

    pread shares no file position, so threads (UI workers) may read the same file at once.
    """
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            break
        data += more
    return data


def atomic_write_bytes(path: Path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to `path` through a temporary file in the same folder, fsync, rename.

    On any failure before the rename the temporary file is removed and `path` is untouched.
    The temporary file is named `.NAME.XXXXXXXX.tmp`; :func:`remove_stale_temps` clears those
    a killed process left.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        write_chunks(fd, chunks)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp_name, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp_name)
        except OSError:
            pass  # removed by the next write's remove_stale_temps
        raise
    try:
        fsync_directory(path.parent)
    except OSError:
        pass  # the new file is in place and readable; only the rename's durability is in doubt


# mkstemp's random part: eight of these characters.
_TEMP_PART = "[a-z0-9_]{8}"


def remove_stale_temps(folder: Path, name: str, older_than: float) -> int:
    """Remove the temporary files :func:`atomic_write_bytes` left for `folder/name` when a
    process was killed mid-write: only `.NAME.XXXXXXXX.tmp` files last changed before
    `older_than` (a time.time() value). Returns how many went; never raises."""
    pattern = re.compile(rf"\.{re.escape(name)}\.{_TEMP_PART}\.tmp")
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < older_than:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def file_signature(path: Path) -> dict[str, int]:
    """Size, modification time and inode of a file: a derived index is trusted only for the
    exact file it was made from."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
