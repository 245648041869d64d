"""Git merge drivers that merge journals and gold.jsonl by curate's rules when a person runs
`git merge` or `git pull` in a corpus folder (to settle a file `curate sync` could not merge).

`curate sync` registers them in the repository's own config and `.git/info/attributes` (both
local to the clone, nothing committed)::

    merge.curate-journal.driver = PYTHON -m curate.merge_driver journal %O %A %B %P
    merge.curate-gold.driver    = PYTHON -m curate.merge_driver gold %O %A %B %P

Git passes the base, ours and theirs as temporary files; the merge is written over the ours
file (atomically) and the exit status is 0, or 1 when the file cannot be merged (git then
reports a conflict and leaves ours in place).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from curate.store import MergeRefused, atomic_write_bytes, error_reason, merge_gold_chunks, merge_journal_chunks

DRIVERS = {"journal": "curate-journal", "gold": "curate-gold"}


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5) or argv[0] not in DRIVERS:
        print("usage: python -m curate.merge_driver journal|gold BASE OURS THEIRS [PATH]", file=sys.stderr)
        return 2
    kind, base, ours, theirs = argv[:4]
    name = argv[4] if len(argv) == 5 else Path(ours).name
    try:
        # Streamed from the files (ours is read while the merge goes to a temporary file,
        # renamed over it at the end); a missing side is an error, as git always gives three.
        for path in (base, ours, theirs):
            os.stat(path)
        sides = (Path(base), Path(ours), Path(theirs))
        merged = merge_journal_chunks(*sides) if kind == "journal" else merge_gold_chunks(*sides, name=name)
        atomic_write_bytes(Path(ours), merged)
    except MergeRefused as error:
        print(f"curate: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"curate: {name}: {error_reason(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
