"""A journal's file handles, and appends that are all or nothing.

A journal keeps the file it read open, so offsets stay valid even if another process
compacts (replaces) the file. A writer appends through its own handle: every append is one
write and one fsync, and a failed one is cut back off (truncated to the size before), so the
file never keeps half a save. When even the truncate fails, the size to cut back to is kept
and the cut is made before the next append or on closing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from curate.store.errors import SaveFailed, cannot_save, error_reason
from curate.store.files import fsync_directory, pread_up_to, write_fully

# An index is trusted only if the last bytes it covers still hash the same.
TAIL_CHECK_BYTES = 4096


class JournalFile:
    """The read handle (kept open) and, for a writer, the append handle of one journal file."""

    def __init__(self, path: Path, shown_name: str) -> None:
        self.path = path
        self.shown_name = shown_name
        self.reader: BinaryIO | None = None
        self.writer: BinaryIO | None = None
        # Set when a failed append could not be truncated away: the size to cut back to.
        self.rollback_to: int | None = None
        # True while the file is one this writer created and nothing has been saved to it yet:
        # if its first append fails, the file is removed again (no empty journal without a save).
        self.fresh = False

    # ---- reading

    def open_reader(self) -> None:
        self.reader = open(self.path, "rb", buffering=0)

    def close_reader(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def read_size(self) -> int:
        """The size of the file the reader holds (which may since have been replaced)."""
        assert self.reader is not None
        return os.fstat(self.reader.fileno()).st_size

    def reads_inode(self, inode: int) -> bool:
        """True when the reader holds the file with this inode (not one replaced since)."""
        assert self.reader is not None
        return os.fstat(self.reader.fileno()).st_ino == inode

    def pread(self, offset: int, length: int) -> bytes:
        assert self.reader is not None
        return pread_up_to(self.reader.fileno(), length, offset)

    def tail_hash(self, size: int) -> str:
        """A hash of the bytes just before `size`: an index covering `size` bytes is trusted
        only while they still hash the same."""
        start = max(0, size - TAIL_CHECK_BYTES)
        return hashlib.sha256(self.pread(start, size - start)).hexdigest()

    # ---- writing

    def open_writer(self) -> bool:
        """Open the file for appending, creating it (and its folder) if need be; True if it was
        created. SaveFailed when the file cannot be made or opened."""
        created = not self.path.exists()
        try:
            if created:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as error:
            raise SaveFailed(cannot_save(error, self.path.parent, self.shown_name), error.errno) from None
        self.writer = open(fd, "ab", buffering=0)
        self.fresh = created
        return created

    def abandon_writer(self, created: bool) -> None:
        """Close the append handle after a failed opening, removing the file if this opening
        created it and nothing was written."""
        self.close_writer()
        if created and self.path.exists() and self.path.stat().st_size == 0:
            self.path.unlink()

    def close_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def write_stat(self) -> os.stat_result:
        assert self.writer is not None
        return os.fstat(self.writer.fileno())

    def cut_failed_append(self) -> None:
        """Cut off the bytes of a failed append a truncate could not remove at the time."""
        if self.rollback_to is not None:
            self.truncate(self.rollback_to)

    def truncate(self, size: int) -> None:
        assert self.writer is not None
        os.ftruncate(self.writer.fileno(), size)
        os.fsync(self.writer.fileno())
        self.rollback_to = None

    def append(self, data: bytes) -> None:
        """Write `data` at the end and fsync; on any failure cut the file back to its size before.

        Raises SaveFailed (with the reason in plain words) when the write or fsync failed.
        """
        assert self.writer is not None
        fd = self.writer.fileno()
        before = os.fstat(fd).st_size
        try:
            write_fully(fd, data)
            os.fsync(fd)
        except BaseException as error:
            try:
                self.truncate(before)
            except OSError:
                self.rollback_to = before  # cut off before the next append (or on close)
            if self.fresh and before == 0:
                self._remove_fresh_file()
            if isinstance(error, OSError):
                raise SaveFailed(
                    f"{error_reason(error)}: {self.shown_name} not saved; the file is left as it was before this save",
                    error.errno,
                ) from error
            raise
        self.fresh = False

    def _remove_fresh_file(self) -> None:
        """Remove the file this writer created after its first append failed (the next append
        creates it again); where it cannot be removed it stays, cut back to empty when possible."""
        try:
            self.path.unlink()
        except OSError:
            return
        self.close_writer()
        self.close_reader()
        self.rollback_to = None
        self.fresh = False
        try:
            fsync_directory(self.path.parent)
        except OSError:
            pass  # the file is gone for every reader; only the removal's durability is in doubt

    def close(self) -> None:
        self.close_writer()
        self.close_reader()
