"""The corpus folder's .gitignore: .curate/ (indexes, locks, review journals) and models/ stay
out of git, as do the temporary files of atomic rewrites."""

from __future__ import annotations

from pathlib import Path

from curate.store.files import atomic_write_bytes
from curate.store.layout import CorpusLayout


def ensure_gitignore(directory: Path) -> bool:
    """Write the corpus's .gitignore, or add the lines it lacks to an existing one (atomically;
    the user's own lines are kept). True when the file was created."""
    layout = CorpusLayout(directory)
    path = layout.gitignore
    try:
        text = path.read_bytes().decode("utf-8")
        created = False
    except FileNotFoundError:
        text, created = "", True
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in layout.git_ignored() if line not in present]
    if not missing:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    if not created:
        text += "# added by curate: derived and machine-local files\n"
    text += "".join(line + "\n" for line in missing)
    atomic_write_bytes(path, [text.encode("utf-8")])
    return created
