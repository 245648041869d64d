"""`curate assign`: share a corpus's snippets out among a team, and each member's progress.

:func:`share_out` is pure. Every snippet goes to `overlap` annotators (a `iaa_fraction` of the
snippets to `iaa_overlap` instead, for agreement); each snippet goes to the least loaded members,
ties broken by a hash of the seed, the snippet id and the name, so the same inputs give the same
assignment. Loads stay within one snippet of each other: picking the k least loaded of loads that
differ by at most one leaves them differing by at most one. A previous assignment is kept as it
is: only snippets it lacks are shared out, to whoever has least so far (a new member first).
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Sequence

import numpy as np

from curate.store import Assignment, Corpus, StoreError, check_annotator_name, read_assignment


class AssignError(ValueError):
    """A team, overlap or fraction `curate assign` refuses (one line, nothing written)."""


def _rank(seed: int, snippet_id: str, name: str) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{snippet_id}\x00{name}".encode(), digest_size=8).digest()


def check_team(team: Sequence[str], overlap: int, iaa_fraction: float, iaa_overlap: int | None, known: Sequence[str] = ()) -> None:
    """Refuse an empty team, bad or unknown names, an overlap larger than the team."""
    if not team:
        raise AssignError("--annotators: name at least one annotator")
    for name in team:
        try:
            check_annotator_name(name)
        except StoreError as error:
            raise AssignError(f"--annotators: {error}") from None
    if len(set(team)) != len(team):
        raise AssignError("--annotators: an annotator is named twice")
    unknown = [name for name in team if known and name not in known]
    if unknown:
        raise AssignError(f"--annotators: {', '.join(unknown)} not among corpus.toml's annotators ({', '.join(known)})")
    if overlap < 1 or overlap > len(team):
        raise AssignError(f"--overlap {overlap}: must be from 1 to the team's size ({len(team)})")
    if not 0 <= iaa_fraction <= 1:
        raise AssignError(f"--iaa {iaa_fraction}: must be a fraction from 0 to 1")
    if iaa_fraction and iaa_overlap is None:
        raise AssignError("--iaa needs --iaa-overlap K (how many annotators each agreement snippet goes to)")
    if iaa_overlap is not None and not 1 <= iaa_overlap <= len(team):
        raise AssignError(f"--iaa-overlap {iaa_overlap}: must be from 1 to the team's size ({len(team)})")


def share_out(
    snippet_ids: Sequence[str],
    team: Sequence[str],
    overlap: int,
    *,
    iaa_fraction: float = 0.0,
    iaa_overlap: int | None = None,
    seed: int = 0,
    previous: Assignment | None = None,
) -> Assignment:
    """The assignment of `snippet_ids` to `team` (see the module's docstring).

    With `previous`, its snippets keep their annotators and its members stay in the team (a
    member it has and `team` lacks is refused); round(iaa_fraction * all snippets) snippets in
    all go to `iaa_overlap` annotators, as far as the new snippets allow.
    """
    team = list(team)
    check_team(team, overlap, iaa_fraction, iaa_overlap)
    kept: dict[str, tuple[str, ...]] = {}
    if previous is not None:
        dropped = [name for name in previous.team if name not in team]
        if dropped:
            raise AssignError(f"--annotators: {', '.join(dropped)} already have assigned snippets; keep them in the team ({', '.join(previous.team)})")
        team = list(previous.team) + [name for name in team if name not in previous.team]
        present = set(snippet_ids)
        kept = {snippet_id: names for snippet_id, names in previous.snippets.items() if snippet_id in present}
    loads = dict.fromkeys(team, 0)
    for names in kept.values():
        for name in names:
            loads[name] += 1
    new = [snippet_id for snippet_id in dict.fromkeys(snippet_ids) if snippet_id not in kept]
    agreement: set[str] = set()
    if iaa_fraction and iaa_overlap is not None and iaa_overlap != overlap:
        already = sum(1 for snippet_id, names in kept.items() if previous is not None and previous.iaa_overlap == len(names) and previous.iaa_overlap != previous.overlap)
        wanted = min(len(new), max(0, round(iaa_fraction * (len(kept) + len(new))) - already))
        agreement = set(sorted(new, key=lambda snippet_id: _rank(seed, snippet_id, ""))[:wanted])
    result = dict(kept)
    for snippet_id in new:
        size = iaa_overlap if snippet_id in agreement else overlap
        chosen = sorted(team, key=lambda name: (loads[name], _rank(seed, snippet_id, name)))[:size]
        for name in chosen:
            loads[name] += 1
        result[snippet_id] = tuple(sorted(chosen))
    ordered = {snippet_id: result[snippet_id] for snippet_id in dict.fromkeys(snippet_ids)}
    return Assignment(team, overlap, float(iaa_fraction), iaa_overlap, seed, ordered)


# ---- what the queue and `curate stats` read


def check_in_team(corpus: Corpus, annotator: str) -> Assignment | None:
    """The corpus's assignment (None without one); an annotator outside its team is refused."""
    assignment = read_assignment(corpus.path)
    if assignment is not None and annotator not in assignment.team:
        raise StoreError(f"{annotator!r} is not in the team {corpus.layout.assignments} assigns work to: {', '.join(assignment.team)}")
    return assignment


def assigned_positions(corpus: Corpus, assignment: Assignment, annotator: str) -> np.ndarray:
    """Sorted corpus positions of the snippets assigned to `annotator` (ids the corpus lacks left out)."""
    return positions_by_annotator(corpus, assignment, [annotator])[annotator]


def positions_by_annotator(corpus: Corpus, assignment: Assignment, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Sorted corpus positions of each one's assigned snippets (of `names`, default the team),
    looking each snippet id up once."""
    wanted = set(assignment.team if names is None else names)
    found: dict[str, list[int]] = {name: [] for name in (assignment.team if names is None else names)}
    for snippet_id, owners in assignment.snippets.items():
        mine = [name for name in owners if name in wanted]
        if not mine:
            continue
        position = corpus.position(snippet_id)
        if position is None:
            continue
        for name in mine:
            found[name].append(position)
    return {name: np.array(sorted(positions), dtype=np.int64) for name, positions in found.items()}


def team_progress(corpus: Corpus, assignment: Assignment | None = None) -> dict[str, dict]:
    """Per annotator: `assigned` (None without an assignment) and, of those snippets (of the
    whole journal without an assignment), `done`, `skipped`, `flagged`, `in_progress`,
    `median_seconds` per done snippet (None before the first)."""
    if assignment is None:
        assignment = read_assignment(corpus.path)
    names = list(assignment.team) if assignment is not None else []
    names += [name for name in corpus.annotators() if name not in names]
    assigned = positions_by_annotator(corpus, assignment) if assignment is not None else {}
    progress = {}
    for name in names:
        positions = assigned.get(name)
        row: dict = {"assigned": None if positions is None else len(positions), "done": 0, "skipped": 0, "flagged": 0, "in_progress": 0, "median_seconds": None}
        if corpus.journal_path(name).exists():
            with corpus.journal(name) as journal:
                for status, code in (("done", "done"), ("skipped", "skipped"), ("flagged", "flagged"), ("in_progress", None)):
                    found = journal.positions_with_status(code)
                    if positions is not None:
                        found = np.intersect1d(found, positions, assume_unique=True)
                    row[status] = len(found)
                    if status == "done" and len(found):
                        row["median_seconds"] = statistics.median(journal.seconds_at(found).tolist())  # from the index: no record read
        progress[name] = row
    return progress
