"""The contract every interchange format keeps: a Writer that takes an export's rows, a reader
that yields `ImportedRecord`s, and the file-name safety every writer goes through.

A format module (one per format, beside this file) holds both directions of its format:

- `Writer(folder, context)`, a subclass of :class:`Writer`: `export_corpus` calls `add_batch`
  with a few hundred snippets at a time (by default `add` once per snippet, with the split it
  was assigned, the snippet, its record and its story rows), then `finish` once, which closes
  what it wrote and returns the files made. Anything the user
  should hear about (an entity spaCy cannot reproduce, say) goes to `notes`.
- `read(path, **options)`, a :class:`Reader`: yields one `ImportedRecord` per text of the file,
  or one with `problem` set where a text cannot be read. Options a reader does not know are
  ignored, so `curate import` hands every reader the same ones.

The registry in `curate/formats/__init__.py` lists which modules exist and what they can do.
"""

from __future__ import annotations

import os
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from curate.store import StoreError

if TYPE_CHECKING:
    from curate.export.rows import StoryBatch
    from curate.formats.interchange import ImportedRecord
    from curate.model import Annotation, Snippet


class ExportError(StoreError):
    """An export that cannot be made, with a message for the user."""


class Writer(ABC):
    """Writes one export's rows into `folder` (a temporary folder the export renames into place)."""

    def __init__(self, folder: Path, context: Any) -> None:
        self.folder = folder
        self.context = context
        self.notes: list[str] = []
        """Lines for the export's report (what the format could not keep as it was)."""

    story_rows = True
    """Whether :meth:`add` reads its story rows (a writer that does not is handed empty lists)."""

    @abstractmethod
    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list) -> None:
        """Take one snippet of `split` with its record and its story rows."""

    def add_batch(self, splits: list[str], batch: StoryBatch) -> None:
        """Take every (snippet, record) of `batch` with its split (`splits`, in the same
        order): :meth:`add` for each, unless the format takes the columns themselves."""
        rows = batch.rows() if self.story_rows else [[] for _ in batch.pairs]
        for split, (snippet, record), stories in zip(splits, batch.pairs, rows):
            self.add(split, snippet, record, stories)

    @abstractmethod
    def finish(self) -> list[Path]:
        """Close every file written and return the paths of all of them."""

    def written(self) -> list[Path]:
        """The files right inside the folder, sorted (what most formats return from `finish`)."""
        return sorted(path for path in self.folder.iterdir() if path.is_file())


class Reader(Protocol):
    """A format's `read`: the texts of `path` (a file, or a folder for brat) with their spans."""

    def __call__(self, path: Path, **options: Any) -> Iterator[ImportedRecord]: ...


def name_problem(name: object) -> str | None:
    """Why `name` cannot be one file name inside a folder (None when it can)."""
    if not isinstance(name, str) or not name.strip():
        return "it is empty"
    if name in (".", ".."):
        return f"{name!r} names a folder, not a file"
    if name.startswith(("/", "\\")) or os.path.isabs(name) or os.path.splitdrive(name)[0]:
        return "it is an absolute path"
    for separator in ("/", "\\", os.sep, os.altsep or "/"):
        if separator in name:
            return f"it holds the path separator {separator!r}"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "it holds a control character"
    return None


def check_path_name(name: object, what: str = "split") -> str:
    """`name` itself, or ExportError when it cannot be one file name inside a folder."""
    problem = name_problem(name)
    if problem is not None:
        raise ExportError(f"{what} name {name!r} cannot be a file name: {problem}")
    return name


def safe_child(folder: Path, name: str, suffix: str = "", *, what: str = "split") -> Path:
    """`folder/<name><suffix>`, refused (ExportError) unless it is a file right inside `folder`.

    Every writer that turns a split name (or any other name from corpus.toml or a record)
    into a path goes through here: no separators, no `..`, no absolute path, and the path
    must still resolve to a child of `folder` (a symlink cannot lead it out).
    """
    check_path_name(name, what)
    path = folder / f"{name}{suffix}"
    base = folder.resolve()
    resolved = path.resolve()
    if resolved.parent != base:
        raise ExportError(f"{what} name {name!r}: {path} resolves to {resolved}, outside {base}")
    return path


@contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Name `path` on an OSError raised inside (a failed write or close names no file itself)."""
    try:
        yield
    except OSError as error:
        if not error.filename and not hasattr(error, "export_path"):
            error.export_path = os.fspath(path)  # beside the error, whose own text stays as it was
        raise
