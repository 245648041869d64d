"""How long `curate sync` takes to merge large journals, against git doing the same by itself.

Two clones of one bare remote share a corpus of `--records` snippets and a journal of ana's
holding one record per snippet; then each clone appends `--new` records to that same journal
(ana worked on two machines: the case where both sides changed the file) and to its own
editor's journal. Machine 1 syncs first; then machine 2's sync is timed: commit, fetch, the
merge of the shared journal by line, writing it, push, and bringing the .curate/ indexes up to
date. The anchor, measured in the same run on a copy of machine 2, is plain git: `git add`,
`git commit`, `git fetch`, `git merge` with git's own `merge=union` driver for journals (which
keeps both sides' lines but does not order by save time nor drop doubles), `git push`, and no
index refresh. Prints JSON: seconds of each and their ratio (medians of --runs), and the peak
resident memory of the sync (it runs in a process of its own, which reports its VmHWM).

With `--compare-with DIR` (a folder holding another version of the `curate` package, such as
`git archive COMMIT curate | tar -x -C DIR`), that version's sync is timed too, on a copy of the
same clone and remote, in the same run: before/after figures of a change.

`--gold-merge N` times the gold merge alone (`merge_gold_chunks`, as `curate sync` and the git
merge driver run it, from files to a file) on three versions of a gold.jsonl of N snippets: each
side re-accepted a tenth of the snippets (a twentieth on both sides, so the later accept wins),
added N/50 new ones, and theirs removed a seventh. `--compacted-merge N` times the journal merge
(`merge_journal_chunks`) where ours was compacted (base held two records for each of N/2
snippets; ours kept the last of each, then appended N/50) and theirs appended N/50 to base. Each
runs in a child process of its own (seconds, CPU seconds, peak RSS), beside `--compare-with`'s
version on the same files when given, with the merged bytes compared. `--runs 0` skips the sync.

    python scripts/bench_sync.py [--records 200000] [--new 20000] [--runs 3] [--compare-with DIR] [--gold-merge 1000000] [--compacted-merge 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
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


# The timed sync, in a process of its own so that its peak memory is its own (not the setup's).
CHILD = """
import json, sys, time
from pathlib import Path
import curate.sync
from curate.sync import sync
sys.path.insert(0, __SCRIPTS_DIR__)
from benchkit import peak_rss_mb as peak_mb  # VmHWM: this process's own peak
if sys.argv[2] == "no-refresh":
    curate.sync.refresh_indexes = lambda root: None
started = time.perf_counter()
report = sync(Path(sys.argv[1]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "merged": report.merged, "module": curate.sync.__file__, "peak_rss_mb": peak_mb()}))
"""
CHILD = CHILD.replace("__SCRIPTS_DIR__", repr(str(Path(__file__).resolve().parent)))


def timed_sync(folder: Path, code: Path | None = None, refresh: bool = True) -> dict:
    """Sync `folder` in a child process (importing curate from `code` when given; without the
    .curate/ index refresh at its end when `refresh` is False)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    # Run from the synced folder: `python -c` puts its working folder first on sys.path, and this
    # checkout (which holds a curate package) must not shadow `code`.
    result = subprocess.run([sys.executable, "-c", CHILD, str(folder), "refresh" if refresh else "no-refresh"], cwd=folder, env=env, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.splitlines()[-1])
    assert "annotations/ana.jsonl" in figures["merged"]
    assert code is None or figures["module"].startswith(str(code)), figures["module"]
    return figures


def copy_pair(two: Path, remote: Path, root: Path, name: str) -> tuple[Path, Path]:
    """A copy of the clone and of its remote (the clone's origin pointed at the copy)."""
    clone, bare = root / name, root / f"{name}.git"
    shutil.copytree(two, clone, symlinks=True)
    shutil.copytree(remote, bare, symlinks=True)
    git(clone, "remote", "set-url", "origin", str(bare))
    return clone, bare


MERGE_CHILD = """
import hashlib, json, resource, sys, time
from pathlib import Path
sys.path.insert(0, __SCRIPTS_DIR__)
from benchkit import peak_rss_mb
import curate.store.merge
from curate.store import merge_gold_chunks, merge_journal_chunks
kind, sides, out = sys.argv[1], [Path(path) for path in sys.argv[2:5]], Path(sys.argv[5])
usage = resource.getrusage(resource.RUSAGE_SELF)
started, cpu = time.perf_counter(), usage.ru_utime + usage.ru_stime
digest = hashlib.sha256()
with out.open("wb") as handle:
    for chunk in (merge_gold_chunks(*sides) if kind == "gold" else merge_journal_chunks(*sides)):
        digest.update(chunk)
        handle.write(chunk)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu, 2), "peak_rss_mb": round(peak_rss_mb()),
                  "sha256": digest.hexdigest(), "bytes": out.stat().st_size, "module": curate.store.merge.__file__}))
""".replace("__SCRIPTS_DIR__", repr(str(Path(__file__).resolve().parent)))


def gold_line(snippet: int, who: str, second: int) -> str:
    return json.dumps(
        {"snippet_id": f"s{snippet}", "annotator": "gold", "text_sha256": None, "stories": [{"start": 0, "end": 24, "truncated": False}], "boilerplate": [],
         "entities": [{"start": 0, "end": 6, "label": "GPE"}], "status": "done", "note": None, "sources": ["ana", "ben"], "adjudicator": who,
         "updated_at": f"2026-12-07T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"},
        separators=(",", ":"),
    ) + "\n"


def write_lines(path: Path, lines) -> None:
    with path.open("w", encoding="utf-8") as handle:
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) >= 10_000:
                handle.write("".join(batch))
                batch = []
        handle.write("".join(batch))


def gold_sides(folder: Path, count: int) -> list[Path]:
    base, ours, theirs = folder / "gold.base", folder / "gold.ours", folder / "gold.theirs"
    new = count // 50
    write_lines(base, (gold_line(n, "cy", n % 3600) for n in range(count)))
    write_lines(ours, (gold_line(n, "ana", 3600 + n % 3600) if n % 10 == 1 or n % 20 == 2 else gold_line(n, "cy", n % 3600) for n in range(count + new)))
    write_lines(theirs, (gold_line(n, "ben", 3601 + n % 3600) if n % 10 == 2 else gold_line(n, "cy", n % 3600) for n in list(range(count)) + list(range(count + new, count + 2 * new)) if n % 7))
    return [base, ours, theirs]


def compacted_sides(folder: Path, count: int) -> list[Path]:
    base, ours, theirs = folder / "journal.base", folder / "journal.ours", folder / "journal.theirs"
    half, new = count // 2, count // 50
    write_lines(base, (record(f"s{n % half}", "ana", n % 3600) for n in range(count)))
    write_lines(ours, [*(record(f"s{n % half}", "ana", n % 3600) for n in range(count - half, count)), *(record(f"s{n}", "ana", 3600 + 2 * n) for n in range(new))])
    write_lines(theirs, [*(record(f"s{n % half}", "ana", n % 3600) for n in range(count)), *(record(f"s{n}", "ana", 3601 + 2 * n) for n in range(new))])
    return [base, ours, theirs]


def timed_merge(kind: str, sides: list[Path], out: Path, code: Path | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code if code is not None else Path(__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", MERGE_CHILD, kind, *map(str, sides), str(out)], cwd=out.parent, env=env, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.splitlines()[-1])
    assert code is None or figures["module"].startswith(str(code)), figures["module"]
    out.unlink()
    return figures


def merge_figures(kind: str, count: int, runs: int, compare_with: Path | None) -> dict:
    """The gold or compacted-journal merge of `count` records alone, this checkout's (and `compare_with`'s)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sides = gold_sides(folder, count) if kind == "gold" else compacted_sides(folder, count)
        versions = {"this checkout": None} | ({"compared": compare_with.resolve()} if compare_with is not None else {})
        found: dict[str, list[dict]] = {name: [] for name in versions}
        for _ in range(max(runs, 1)):
            for name, code in versions.items():
                found[name].append(timed_merge(kind, sides, folder / "merged", code))
        figures = {"records": count, "side_bytes": [side.stat().st_size for side in sides], "runs": max(runs, 1)}
        for name, label in (("this checkout", "merge"), ("compared", "compared_merge")):
            if name in found:
                figures[label] = {key: statistics.median(run[key] for run in found[name]) for key in ("seconds", "cpu_s", "peak_rss_mb")} | {"bytes": found[name][0]["bytes"]}
        if compare_with is not None:
            figures["same_bytes_as_compared"] = len({run["sha256"] for runs_of in found.values() for run in runs_of}) == 1
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--new", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--code", type=Path, metavar="DIR", help="time the curate package found in DIR instead of this checkout's")
    parser.add_argument("--no-index-refresh", action="store_true", help="time the sync without its closing .curate/ index refresh (the merge and git only)")
    parser.add_argument("--compare-with", type=Path, metavar="DIR", help="also time the curate package found in DIR (an earlier version), same run")
    parser.add_argument("--gold-merge", type=int, default=0, metavar="N", help="also time the gold merge alone on N snippets")
    parser.add_argument("--compacted-merge", type=int, default=0, metavar="N", help="also time the journal merge alone with a compacted side, N base records")
    options = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    merges = {}
    for kind, count in (("gold", options.gold_merge), ("compacted", options.compacted_merge)):
        if count:
            merges[f"{kind}_merge"] = merge_figures(kind, count, options.runs, options.compare_with)
    if options.runs == 0:
        print(json.dumps(merges))
        return
    curate_runs, other_runs, git_seconds, size = [], [], [], 0
    for _ in range(options.runs):
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            remote, two = setup(root, options.records, options.new)
            anchor, anchor_remote = copy_pair(two, remote, root, "anchor")
            if options.compare_with is not None:
                other, _ = copy_pair(two, remote, root, "other")
                other_runs.append(timed_sync(other, options.compare_with.resolve(), not options.no_index_refresh))
                other_runs[-1]["merged_journal"] = hashlib.sha256(CorpusLayout(other).journal("ana").read_bytes()).hexdigest()
                shutil.rmtree(other)
            curate_runs.append(timed_sync(two, options.code.resolve() if options.code else None, not options.no_index_refresh))
            git_seconds.append(plain_git(anchor, anchor_remote))
            size = CorpusLayout(two).journal("ana").stat().st_size
            if other_runs:  # both versions merged the shared journal alike
                other_runs[-1]["same"] = other_runs[-1]["merged_journal"] == hashlib.sha256(CorpusLayout(two).journal("ana").read_bytes()).hexdigest()
    curate_median, git_median = statistics.median(run["seconds"] for run in curate_runs), statistics.median(git_seconds)
    figures = {
        "records": options.records, "new_per_side": options.new, "merged_journal_bytes": size, "runs": options.runs,
        "code": str(options.code or "this checkout"), "index_refresh": not options.no_index_refresh,
        "curate_sync_s": round(curate_median, 3), "plain_git_s": round(git_median, 3), "ratio": round(curate_median / git_median, 2),
        "curate_sync_peak_rss_mb": round(statistics.median(run["peak_rss_mb"] for run in curate_runs), 1),
        "curate_sync_all_s": [round(run["seconds"], 3) for run in curate_runs], "plain_git_all_s": [round(value, 3) for value in git_seconds],
    }
    if other_runs:
        figures.update({
            "compared_with": str(options.compare_with),
            "compared_sync_s": round(statistics.median(run["seconds"] for run in other_runs), 3),
            "compared_sync_peak_rss_mb": round(statistics.median(run["peak_rss_mb"] for run in other_runs), 1),
            "compared_sync_all_s": [round(run["seconds"], 3) for run in other_runs],
            "same_merged_journal_as_compared": all(run["same"] for run in other_runs),
        })
    print(json.dumps(figures | merges))


if __name__ == "__main__":
    main()
