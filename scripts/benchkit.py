"""What the benches share: a process's own peak memory and the plain JSON loop they are measured against."""

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
