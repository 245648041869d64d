"""Real git for the sync tests: the command, a helper to run it, and an environment with no
global or system configuration (no identity, no hooks), as on a fresh CI runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

GIT = shutil.which("git")


def git(folder: Path, *args: str) -> str:
    return subprocess.run([GIT, *args], cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def without_git_configuration(tmp_path: Path, monkeypatch) -> None:
    """Hide the machine's git configuration and any identity or repository set in the environment."""
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL", "GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(name, raising=False)
