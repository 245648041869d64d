"""The corpus folder's .gitignore: .curate/ (indexes, locks, review journals) and models/ stay
out of git, as do the temporary files of atomic rewrites."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from curate.store.files import atomic_write_bytes
from curate.store.layout import CorpusLayout


def add_missing_lines(path: Path, lines: Sequence[str], note: str | None = None) -> bool:
    """Add to the text file `path` the `lines` it lacks (a line counts as present whatever blanks
    surround it), after `note` as a comment when the file already existed; atomically, the file's
    own lines kept. True when the file was created."""
    try:
        text = path.read_bytes().decode("utf-8")
        created = False
    except FileNotFoundError:
        text, created = "", True
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in lines if line not in present]
    if not missing:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    if note is not None and not created:
        text += f"# {note}\n"
    text += "".join(line + "\n" for line in missing)
    atomic_write_bytes(path, [text.encode("utf-8")])
    return created


def ensure_gitignore(directory: Path) -> bool:
    """Write the corpus's .gitignore, or add the lines it lacks to an existing one (atomically;
    the user's own lines are kept). True when the file was created."""
    layout = CorpusLayout(directory)
    return add_missing_lines(layout.gitignore, layout.git_ignored(), "added by curate: derived and machine-local files")
