"""What the benches share: a process's own peak memory, the plain JSON loop they are measured
against, and the comparison of two checkouts' output folders (the check_*_same scripts)."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which starts afresh at exec (ru_maxrss of a
    child also counts the memory its parent had when it forked); ru_maxrss where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return int(status.read().split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def json_loop(paths: list[Path]) -> float:
    """The anchor: seconds for a plain Python loop that json-parses every line of these files once."""
    started = time.perf_counter()
    for path in paths:
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
    return time.perf_counter() - started


def folder_differences(ours: Path, theirs: Path) -> list[str]:
    """What differs between two output folders: files only in one, parquet tables (with their
    schemas) that differ, other files whose bytes differ (with the first lines of a text diff)."""
    import pyarrow.parquet as pq

    found = []
    names = sorted({path.relative_to(ours) for path in ours.rglob("*") if path.is_file()} | {path.relative_to(theirs) for path in theirs.rglob("*") if path.is_file()})
    for name in names:
        mine, other = ours / name, theirs / name
        if not mine.exists() or not other.exists():
            found.append(f"{name}: only in {'before' if mine.exists() is False else 'this checkout'}")
        elif name.suffix == ".parquet":
            a, b = pq.read_table(mine), pq.read_table(other)
            if not a.schema.equals(b.schema, check_metadata=True) or not a.equals(b):
                found.append(f"{name}: parquet tables differ")
        elif mine.read_bytes() != other.read_bytes():
            import difflib

            shown = ""
            if name.suffix in (".md", ".jsonl", ".json", ".conll"):
                lines = difflib.unified_diff(other.read_text(encoding="utf-8").splitlines(), mine.read_text(encoding="utf-8").splitlines(), "before", "ours", n=0, lineterm="")
                shown = ": " + " | ".join(list(lines)[2:6])
            found.append(f"{name}: bytes differ{shown}")
    return found
