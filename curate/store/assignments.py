"""assignments.jsonl: who annotates which snippet, as `curate assign` decided.

The file (see docs/data-contract.md) is a header line, then one line per assigned snippet::

    {"team": ["ana", "ben", "cy"], "overlap": 2, "iaa_fraction": 0.1, "iaa_overlap": 3, "seed": 0}
    {"id": "s1", "annotators": ["ana", "cy"]}

It is rewritten whole and atomically; reading it names the first bad line as `file:line: reason`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from curate.store.errors import StoreError
from curate.store.files import atomic_write_bytes
from curate.store.layout import CorpusLayout
from curate.store.names import is_annotator_name


@dataclass
class Assignment:
    """The team, the settings the snippets were shared out with, and each snippet's annotators."""

    team: list[str]
    overlap: int
    iaa_fraction: float = 0.0
    iaa_overlap: int | None = None
    seed: int = 0
    snippets: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def snippets_of(self, annotator: str) -> list[str]:
        """Ids of the snippets given to `annotator`, in file order."""
        return [snippet_id for snippet_id, names in self.snippets.items() if annotator in names]

    def loads(self) -> dict[str, int]:
        """How many snippets each member of the team was given."""
        counts = dict.fromkeys(self.team, 0)
        for names in self.snippets.values():
            for name in names:
                counts[name] += 1
        return counts


def write_assignment(directory: Path, assignment: Assignment) -> None:
    """Rewrite assignments.jsonl atomically (temp file, fsync, rename)."""
    header = {
        "team": assignment.team,
        "overlap": assignment.overlap,
        "iaa_fraction": assignment.iaa_fraction,
        "iaa_overlap": assignment.iaa_overlap,
        "seed": assignment.seed,
    }

    def lines():
        yield (json.dumps(header, ensure_ascii=False) + "\n").encode("utf-8")
        for snippet_id, names in assignment.snippets.items():
            yield (json.dumps({"id": snippet_id, "annotators": list(names)}, ensure_ascii=False) + "\n").encode("utf-8")

    atomic_write_bytes(CorpusLayout(directory).assignments, lines())


def read_assignment(directory: Path) -> Assignment | None:
    """The corpus's assignment, or None when `curate assign` never ran; a damaged file is a
    StoreError naming its first bad line."""
    path = CorpusLayout(directory).assignments
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StoreError(f"{path}: {error.strerror or error}") from None
    with handle:
        assignment: Assignment | None = None
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                value = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as error:
                raise StoreError(f"{where}: not a JSON line ({error})") from None
            if not isinstance(value, dict):
                raise StoreError(f"{where}: expected a JSON object")
            if assignment is None:
                assignment = _header(value, where)
                continue
            snippet_id, names = value.get("id"), value.get("annotators")
            if not isinstance(snippet_id, str) or not snippet_id:
                raise StoreError(f"{where}: 'id' must be a non-empty string")
            if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
                raise StoreError(f"{where}: 'annotators' must be a non-empty list of names")
            unknown = [name for name in names if name not in assignment.team]
            if unknown:
                raise StoreError(f"{where}: {', '.join(map(repr, unknown))} not in the team ({', '.join(assignment.team)})")
            if len(set(names)) != len(names):
                raise StoreError(f"{where}: an annotator is named twice")
            if snippet_id in assignment.snippets:
                raise StoreError(f"{where}: snippet {snippet_id!r} is assigned twice")
            assignment.snippets[snippet_id] = tuple(names)
    if assignment is None:
        raise StoreError(f"{path}:1: empty file; expected a header line (run `curate assign` again)")
    return assignment


def _header(value: dict, where: str) -> Assignment:
    team, overlap = value.get("team"), value.get("overlap")
    if not isinstance(team, list) or not team or not all(isinstance(name, str) and is_annotator_name(name) for name in team):
        raise StoreError(f"{where}: 'team' must be a non-empty list of annotator names")
    if len(set(team)) != len(team):
        raise StoreError(f"{where}: 'team' names an annotator twice")
    if not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 1:
        raise StoreError(f"{where}: 'overlap' must be a whole number >= 1")
    fraction = value.get("iaa_fraction", 0.0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        raise StoreError(f"{where}: 'iaa_fraction' must be a number from 0 to 1")
    iaa_overlap = value.get("iaa_overlap")
    if iaa_overlap is not None and (not isinstance(iaa_overlap, int) or isinstance(iaa_overlap, bool) or iaa_overlap < 1):
        raise StoreError(f"{where}: 'iaa_overlap' must be a whole number >= 1 or null")
    seed = value.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise StoreError(f"{where}: 'seed' must be a whole number")
    return Assignment(list(team), overlap, float(fraction), iaa_overlap, seed)
