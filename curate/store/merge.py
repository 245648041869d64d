"""Three-way merges of the corpus files two machines both changed (pure: bytes in, bytes out).

`curate sync` (curate/sync.py) calls these when a file changed on both sides since the last
common commit. `base` is that commit's version, `ours` this machine's, `theirs` the remote's;
any of them is None when the file did not exist there.

- Journals (annotations/NAME.jsonl, suggestions.jsonl) are append-only, so they merge by
  line: :func:`merge_journal`.
- gold.jsonl holds one record per snippet, rewritten whole on each accept: it merges per
  snippet by the later accept, :func:`merge_gold`.
- Anything else (snippets.jsonl, assignments.jsonl) is not merged here: sync stops and names it.
"""

from __future__ import annotations

import json
import re

__all__ = ["MergeRefused", "journal_lines", "merge_gold", "merge_journal"]


class MergeRefused(Exception):
    """A file curate cannot merge (a damaged gold line), with a message naming it."""


def journal_lines(data: bytes | None) -> list[bytes]:
    """The whole lines of a journal, each ending in `\\n`.

    A last line without its newline is kept (with one added) when it is a JSON object, and
    dropped when it is not: that is a torn append, which was never acknowledged as saved.
    """
    if not data:
        return []
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    tail = parts[-1]
    if tail:
        try:
            whole = isinstance(json.loads(tail), dict)
        except ValueError:
            whole = False
        if whole:
            lines.append(tail + b"\n")
    return lines


# How curate writes the field (pydantic's compact JSON, the record's last field): found without
# parsing the line. Inside a JSON string every quote is escaped, so this cannot match there.
_UPDATED_AT = re.compile(rb'"updated_at":"([0-9T:.Z+-]*)"')


def _saved_at(line: bytes) -> str:
    """A record line's `updated_at` ('' when missing or unreadable), for ordering only."""
    found = _UPDATED_AT.search(line, max(0, len(line) - 64))
    if found is not None:
        return found.group(1).decode("ascii")
    try:
        value = json.loads(line)
    except ValueError:
        return ""
    stamp = value.get("updated_at") if isinstance(value, dict) else None
    return stamp if isinstance(stamp, str) else ""


def _interleave(first: list[bytes], second: list[bytes]) -> list[bytes]:
    """Both lists in one, each keeping its own order; where they meet, the line saved earlier
    (then the smaller line, so the result does not depend on which side is which) goes first."""
    keys_first = [(_saved_at(line), line) for line in first]
    keys_second = [(_saved_at(line), line) for line in second]
    merged: list[bytes] = []
    i = j = 0
    while i < len(first) and j < len(second):
        if keys_second[j] < keys_first[i]:
            merged.append(second[j])
            j += 1
        else:
            merged.append(first[i])
            i += 1
    merged.extend(first[i:])
    merged.extend(second[j:])
    return merged


def merge_journal(base: bytes | None, ours: bytes | None, theirs: bytes | None) -> bytes:
    """The union of two versions of an append-only journal, no line lost and none doubled.

    The result is our lines that were already in `base` (in our order), then the new lines of
    both sides merged by `updated_at`, each side keeping its own order. A line both sides added
    is kept once; a base line that one side dropped (compaction keeps only each snippet's last
    record) stays dropped when ours dropped it; a new line repeated within one side is kept at
    its last place. Since the last record per snippet wins, a snippet saved on both machines
    ends with the later save, and (when each side's saves are in time order) the result does
    not depend on which side is ours.
    """
    base_set = set(journal_lines(base))
    our_lines = journal_lines(ours)
    kept = [line for line in our_lines if line in base_set]
    our_new = _last_of_each([line for line in our_lines if line not in base_set])
    ours_set = set(our_lines)
    their_new = _last_of_each([line for line in journal_lines(theirs) if line not in base_set and line not in ours_set])
    return b"".join(kept + _interleave(our_new, their_new))


def _last_of_each(lines: list[bytes]) -> list[bytes]:
    """Each line once, at its last place (a record saved twice alike: the last one keeps winning)."""
    last = {line: index for index, line in enumerate(lines)}
    return [line for index, line in enumerate(lines) if last[line] == index]


def _gold_records(data: bytes | None, name: str, side: str) -> dict[str, tuple[bytes, str]]:
    """snippet_id -> (line, updated_at) of one version of gold.jsonl, in file order."""
    records: dict[str, tuple[bytes, str]] = {}
    for number, line in enumerate((data or b"").split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        snippet_id = value.get("snippet_id") if isinstance(value, dict) else None
        if not isinstance(snippet_id, str) or not snippet_id:
            raise MergeRefused(f"{name}:{number} ({side}): not a gold record; curate cannot merge {name} (fix that line, then sync again)")
        stamp = value.get("updated_at")
        line += b"\n"
        records.pop(snippet_id, None)  # a later line for a snippet replaces the earlier, as GoldStore reads it
        records[snippet_id] = (line, stamp if isinstance(stamp, str) else "")
    return records


def merge_gold(base: bytes | None, ours: bytes | None, theirs: bytes | None, *, name: str = "gold.jsonl") -> bytes:
    """gold.jsonl merged per snippet: what only one side changed is taken from it, and a snippet
    both sides changed keeps the later accept (`updated_at`; on a tie the larger line, so both
    machines would choose the same). A record removed on one side and accepted again on the
    other is kept. Lines stay in corpus order: ours, with theirs' new snippets placed after the
    snippet that comes before them in theirs (both files are written in corpus order).

    MergeRefused names a line that is not a gold record.
    """
    old = _gold_records(base, name, "last common version")
    mine = _gold_records(ours, name, "this machine")
    other = _gold_records(theirs, name, "remote")

    def chosen(snippet_id: str) -> bytes | None:
        o, a, t = (side.get(snippet_id) for side in (old, mine, other))
        a_line, t_line, o_line = (None if x is None else x[0] for x in (a, t, o))
        if a_line == t_line or t_line == o_line:
            return a_line
        if a_line == o_line:
            return t_line
        if a is None or t is None:
            return (a or t)[0]  # removed on one side, accepted again on the other: keep the accept
        return max((a[1], a[0]), (t[1], t[0]))[1]

    # Theirs' snippets that ours lacks go after their predecessor in theirs.
    after: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for snippet_id in other:
        if snippet_id in mine:
            anchor = snippet_id
        else:
            after.setdefault(anchor, []).append(snippet_id)
    order = list(after.get(None, []))
    for snippet_id in mine:
        order.append(snippet_id)
        order.extend(after.get(snippet_id, []))
    lines = []
    for snippet_id in order:
        line = chosen(snippet_id)
        if line is not None:
            lines.append(line)
    return b"".join(lines)
