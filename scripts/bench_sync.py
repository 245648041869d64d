"""How long `curate sync` takes to merge large journals, against git doing the same by itself.

Two clones of one bare remote share a corpus of `--records` snippets and a journal of ana's
holding one record per snippet; then each clone appends `--new` records to that same journal
(ana worked on two machines: the case where both sides changed the file) and to its own
editor's journal. Machine 1 syncs first; then machine 2's sync is timed: commit, fetch, the
merge of the shared journal by line, writing it, push, and bringing the .curate/ indexes up to
date. The anchor, measured in the same run on a copy of machine 2, is plain git: `git add`,
`git commit`, `git fetch`, `git merge` with git's own `merge=union` driver for journals (which
keeps both sides' lines but does not order by save time nor drop doubles), `git push`, and no
index refresh. Prints JSON: seconds of each and their ratio (medians of --runs).

    python scripts/bench_sync.py [--records 200000] [--new 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from curate.store import CorpusLayout
from curate.sync import sync


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args], cwd=folder, check=True, capture_output=True)


def record(snippet_id: str, annotator: str, second: int) -> str:
    return json.dumps(
        {"snippet_id": snippet_id, "annotator": annotator, "text_sha256": None, "stories": [{"start": 0, "end": 24, "truncated": False}],
         "boilerplate": [], "entities": [{"start": 0, "end": 6, "label": "GPE"}], "status": "done", "note": None, "seconds": 3.5,
         "updated_at": f"2026-12-07T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"},
        separators=(",", ":"),
    ) + "\n"


def setup(root: Path, records: int, new: int) -> tuple[Path, Path]:
    remote, one, two = root / "team.git", root / "one", root / "two"
    git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    one.mkdir()
    layout = CorpusLayout(one)
    layout.config.write_text('name = "bench"\n')
    layout.snippets.write_text("".join(json.dumps({"id": f"s{n}", "text": "Leeds floods close roads."}) + "\n" for n in range(records)))
    layout.annotations.mkdir()
    layout.journal("ana").write_text("".join(record(f"s{n}", "ana", n % 3600) for n in range(records)))
    sync(one, remote_url=str(remote))
    git(root, "clone", "-q", str(remote), str(two))
    for folder, editor, offset in ((one, "ben", 0), (two, "cy", 1)):
        with open(CorpusLayout(folder).journal("ana"), "a") as handle:
            handle.write("".join(record(f"s{n}", "ana", 3600 + 2 * n + offset) for n in range(new)))
        CorpusLayout(folder).journal(editor).write_text("".join(record(f"s{n}", editor, n % 3600) for n in range(new)))
    sync(one)
    return remote, two


def plain_git(folder: Path, remote: Path) -> float:
    """The anchor: git alone on a copy of the clone and of its remote (push included)."""
    git(folder, "remote", "set-url", "origin", str(remote))
    (folder / ".git" / "info" / "attributes").write_text("/annotations/*.jsonl merge=union\n")
    started = time.perf_counter()
    git(folder, "add", "-A", "--", "annotations")
    git(folder, "commit", "-q", "-m", "work")
    git(folder, "fetch", "-q", "origin")
    git(folder, "merge", "-q", "--no-edit", "origin/main")
    git(folder, "push", "-q", "origin", "HEAD:main")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--new", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    curate_seconds, git_seconds, size = [], [], 0
    for _ in range(options.runs):
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            remote, two = setup(root, options.records, options.new)
            anchor, anchor_remote = root / "anchor", root / "anchor.git"
            shutil.copytree(two, anchor, symlinks=True)
            shutil.copytree(remote, anchor_remote, symlinks=True)
            started = time.perf_counter()
            report = sync(two)
            curate_seconds.append(time.perf_counter() - started)
            assert "annotations/ana.jsonl" in report.merged
            git_seconds.append(plain_git(anchor, anchor_remote))
            size = CorpusLayout(two).journal("ana").stat().st_size
    curate_median, git_median = statistics.median(curate_seconds), statistics.median(git_seconds)
    print(json.dumps({
        "records": options.records, "new_per_side": options.new, "merged_journal_bytes": size, "runs": options.runs,
        "curate_sync_s": round(curate_median, 3), "plain_git_s": round(git_median, 3), "ratio": round(curate_median / git_median, 2),
        "curate_sync_all_s": [round(value, 3) for value in curate_seconds], "plain_git_all_s": [round(value, 3) for value in git_seconds],
    }))


if __name__ == "__main__":
    main()
