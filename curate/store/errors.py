"""The store's errors, each with a message meant for the user, and plain words for OS errors."""

from __future__ import annotations

import errno
from pathlib import Path


class StoreError(Exception):
    """A problem with the corpus folder, with a message meant for the user."""


class StaleIndex(Exception):
    """A saved journal index whose offsets do not hold the records it says (rebuild it).

    Internal to the store: it never reaches callers.
    """


class JournalLocked(StoreError):
    """Another process holds a journal open for writing."""


class SaveFailed(StoreError, OSError):
    """A write to the corpus folder failed and was undone: the file is as it was before.

    Both a StoreError and an OSError, so callers catching either show its message.
    """

    def __init__(self, message: str, error_number: int | None = None) -> None:
        super().__init__(message)
        self.errno = error_number


# Plain words for the errors a full or failing disk gives.
_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "input/output error (the disk may be failing)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
}


_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def cannot_save(error: OSError, folder: Path, what: str) -> str:
    """The message for a file or lock that cannot be created in `folder`."""
    if error.errno in _READ_ONLY:
        return f"{folder} is read-only: cannot save {what} there"
    return f"{error_reason(error)}: cannot save {what} in {folder}"


def error_reason(error: OSError) -> str:
    """Why an OSError happened, in plain lower-case words, without the `[Errno N]` prefix."""
    if error.errno in _REASONS:
        return _REASONS[error.errno]
    text = error.strerror or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]
