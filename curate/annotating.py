"""An annotator's desk over a corpus: the queue, the open snippet sessions and saving.

UI-free: the annotation screen calls these methods and tests call them directly. Opening
reads only the corpus index and the journal's status array, never every snippet, so a
million-snippet corpus opens in well under a second.
"""

from __future__ import annotations

import json
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from curate.editing import EditSession, starting_record
from curate.model import STATUSES, Annotation, Snippet
from curate.queueing import check_order, index_of, ordered
from curate.store import Corpus, Journal, StoreError, atomic_write_bytes, error_reason
from curate.text import TextModel

QueueName = Literal["todo", "all", "flagged", "skipped", "done"]
QUEUE_NAMES: tuple[str, ...] = ("todo", "all", "flagged", "skipped", "done")

# Sessions kept in memory (with their undo stacks) for snippets visited earlier.
_KEPT_SESSIONS = 64


def queue_positions(journal: Journal, queue: str, assigned: np.ndarray | None = None) -> np.ndarray:
    """Corpus positions in the queue, in corpus order, from the journal's statuses; with
    `assigned` (sorted positions of `curate assign`), `todo` holds only those."""
    if queue == "all":
        return np.arange(len(journal.corpus), dtype=np.int64)
    if queue == "todo":
        todo = journal.positions_with_status(None, unrecorded=True)
        return todo if assigned is None else np.intersect1d(todo, assigned, assume_unique=True)
    if queue in STATUSES:
        return journal.positions_with_status(queue)
    raise ValueError(f"unknown queue {queue!r}; choose one of {', '.join(QUEUE_NAMES)}")


def save_failure_reason(error: BaseException, root: Path | None = None) -> str:
    """Why a save failed, in a few words for the status line: the store's own message, or an
    OSError's reason with its file named relative to `root`."""
    if isinstance(error, StoreError) or not isinstance(error, OSError):
        return str(error) or type(error).__name__
    reason = error_reason(error)
    if not error.filename:
        return reason
    name = Path(os.fsdecode(error.filename))
    if root is not None and name.is_relative_to(root):
        name = name.relative_to(root)
    return f"{reason}: {name}"


@dataclass(frozen=True)
class Place:
    """Where an annotator was when `curate annotate` closed: a snippet and a token in it."""

    snippet_id: str
    token: int


def read_place(path: Path) -> Place | None:
    """The place saved at `path`; None when there is none or it cannot be read or understood
    (it is UI state: a damaged file is ignored, never an error)."""
    try:
        data = json.loads(path.read_bytes())
        snippet_id, token = data["snippet_id"], data["token"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(snippet_id, str) or not isinstance(token, int) or isinstance(token, bool) or token < 0:
        return None
    return Place(snippet_id, token)


def write_place(path: Path, place: Place) -> bool:
    """Save `place` at `path` atomically; False when it cannot be written (a read-only corpus,
    a full disk): losing it only means the next session opens at the queue's start."""
    data = json.dumps({"snippet_id": place.snippet_id, "token": place.token}, ensure_ascii=False) + "\n"
    try:
        atomic_write_bytes(path, [data.encode("utf-8")])
    except OSError:
        return False
    return True


@dataclass
class OpenSnippet:
    position: int
    snippet: Snippet
    session: EditSession
    warning: str | None = None
    cursor: int = 0  # the token the editor was on, restored when they come back
    # Why the last save of a change failed; None once the whole record is on disk. The change
    # stays in the session and the next save (a change, leaving, quitting) writes it again.
    unsaved: str | None = None


class Desk:
    """A queue of snippets, the open edit sessions and the journal they are saved to.

    The annotation desk and the review desk differ in their queue and in the record a snippet
    opens with (:meth:`_open`); moving, searching, keeping sessions and saving are shared.
    """

    corpus: Corpus
    annotator: str
    journal: Journal
    queue_name: str
    queue: np.ndarray | list[int]

    def __init__(self) -> None:
        self.index = 0
        self._sessions: OrderedDict[int, OpenSnippet] = OrderedDict()

    # ---- queue

    def __len__(self) -> int:
        return len(self.queue)

    @property
    def position(self) -> int | None:
        return int(self.queue[self.index]) if len(self.queue) else None

    def go_to_position(self, position: int) -> None:
        raise NotImplementedError

    def go_to_id(self, snippet_id: str) -> bool:
        position = self.corpus.position(snippet_id)
        if position is None:
            return False
        self.go_to_position(position)
        return True

    def step(self, delta: int) -> bool:
        """Move through the queue; False at either end."""
        target = self.index + delta
        if not 0 <= target < len(self.queue):
            return False
        self.index = target
        return True

    def find_forward(self, query: str, should_stop=lambda: False) -> int | None:
        """Corpus position of the next snippet in the queue, after the current one and
        wrapping around, whose text holds `query` (case-insensitive); None when none does or
        `should_stop()` says to give up.

        Works on a copy of the queue and its own handle on the corpus, so it can run in a
        worker thread while the screen keeps moving and reading snippets.
        """
        needle = query.casefold()
        queue = self.queue.copy()
        start = self.index
        if not needle or not len(queue):
            return None
        with Corpus.open(self.corpus.path) as corpus:
            for step in range(1, len(queue) + 1):
                if step % 256 == 0 and should_stop():
                    return None
                position = int(queue[(start + step) % len(queue)])
                if needle in corpus.snippet(position).text.casefold():
                    return position
        return None

    # ---- snippets

    def current(self) -> OpenSnippet | None:
        position = self.position
        return None if position is None else self.open_snippet(position)

    def open_snippet(self, position: int) -> OpenSnippet:
        kept = self._sessions.get(position)
        if kept is not None:
            self._sessions.move_to_end(position)
            return kept
        opened = self._open(position, self.corpus.snippet(position))
        self._sessions[position] = opened
        # A session holding a change that is not on disk is never dropped.
        evictable = [kept for kept, session in self._sessions.items() if session.unsaved is None and kept != position]
        for kept in evictable[: max(0, len(self._sessions) - _KEPT_SESSIONS)]:
            del self._sessions[kept]
        return opened

    def _open(self, position: int, snippet: Snippet) -> OpenSnippet:
        """A new session on this snippet, starting from the record this desk starts from."""
        raise NotImplementedError

    def save(self, opened: OpenSnippet, now: float | None = None, *, change: bool = True) -> Annotation:
        """Append the whole record to the journal (fsynced before returning).

        A `change` adds the time since the visit opened or its last change to `seconds`
        (EditSession.record_to_save); a save without one (a retry) adds no time. A failure
        (OSError or StoreError; the store leaves the journal as it was) is raised again; for a
        `change` the snippet is marked unsaved with the reason, so leaving or quitting retries it.
        """
        session = opened.session
        last_saved_seconds = session.last_saved_seconds
        record = session.record_to_save(time.monotonic() if now is None else now, change=change)
        try:
            self.journal.append(record)
        except (OSError, StoreError) as error:
            session.last_saved_seconds = last_saved_seconds
            if change or opened.unsaved is not None:
                opened.unsaved = save_failure_reason(error, self.corpus.path)
            raise
        opened.unsaved = None
        session.origin = "journal"
        return record

    def has_saved_record(self, position: int) -> bool:
        return self.journal.has_record(position)

    def remember_place(self, snippet_id: str, token: int) -> None:
        """Keep where the editor was for the next session (only the annotation desk does)."""


class AnnotatorDesk(Desk):
    """One annotator working through one corpus; owns the writable journal."""

    def __init__(self, corpus: Corpus, annotator: str, queue: str = "todo", order: str = "corpus", seed: int = 0) -> None:
        super().__init__()
        self.order = check_order(order)  # corpus, uncertainty (curate suggest's scores) or random
        self.seed = seed  # the shuffle's, for order random (`curate queue --seed` lists the same order)
        self.order_note: str | None = None  # why the order could not be followed (a damaged scores file)
        self.corpus = corpus
        self.annotator = annotator
        from curate.assign import assigned_positions, check_in_team

        assignment = check_in_team(corpus, annotator)  # before the journal is made: a refusal writes nothing
        self.assigned = None if assignment is None else assigned_positions(corpus, assignment, annotator)
        # Statuses and records are all the desk needs of its journal: a first open (no journal
        # index) leaves the text facts and seconds to `curate stats` (read when first asked).
        self.journal: Journal = corpus.journal(annotator, writable=True, facts_later=True)
        try:
            self.suggestions: Journal | None = corpus.suggestions(facts_later=True) if corpus.suggestions_path.exists() else None
        except StoreError:
            self.journal.close()
            raise
        self.queue_name = queue
        self.queue = self._ordered(queue_positions(self.journal, queue, self.assigned))

    def _ordered(self, positions: np.ndarray) -> np.ndarray:
        """The queue's positions in this desk's order (the scores file is read once per queue)."""
        if self.order == "corpus":
            return positions
        from curate.suggest.uncertainty import read_scores

        def note(problem: str) -> None:
            self.order_note = problem

        return ordered(positions, self.order, read_scores(self.corpus, note) if self.order == "uncertainty" else None, self.seed)

    def _find(self, position: int) -> tuple[int, bool]:
        """Where `position` is in the queue (True) or, not there, where it would go (False)."""
        if self.order == "corpus":
            found = int(np.searchsorted(self.queue, position))
            return found, found < len(self.queue) and self.queue[found] == position
        found = index_of(self.queue, position)
        return (self.index, False) if found is None else (found, True)

    @classmethod
    def open(cls, directory: Path | str, annotator: str, queue: str = "todo", order: str = "corpus") -> "AnnotatorDesk":
        corpus = Corpus.open(directory)
        try:
            return cls(corpus, annotator, queue, order)
        except BaseException:
            corpus.close()
            raise

    @staticmethod
    def check_can_open(corpus: Corpus, annotator: str) -> None:
        """The quick refusals of opening a desk (StoreError): a name outside the assignment, the
        journal locked by another process or in a read-only folder. The journal is not read, so
        a UI can refuse at once and leave the slow part (indexing it) to a worker."""
        from curate.assign import check_in_team

        check_in_team(corpus, annotator)
        Journal.check_writable(corpus, corpus.journal_path(annotator))

    def close(self) -> None:
        self.journal.close()
        if self.suggestions is not None:
            self.suggestions.close()
        self.corpus.close()

    def start_at(self, position: int | None = None) -> None:
        """Where `curate annotate` opens: at `position` (--start) when given; else, in corpus
        order, where this annotator was when the last session closed, snippet and token, if that
        snippet is still in the queue; else at the queue's start."""
        if position is not None:
            self.go_to_position(position)
            return
        if self.order != "corpus":
            return  # the order decides what comes first (the least sure snippet), not the last place
        place = read_place(self.corpus.layout.place(self.annotator))
        position = None if place is None else self.corpus.position(place.snippet_id)
        if position is None:
            return
        found, there = self._find(position)
        if not there:
            return
        self.index = found
        opened = self.open_snippet(position)
        opened.cursor = min(place.token, max(0, len(opened.session.model.tokens) - 1))

    def remember_place(self, snippet_id: str, token: int) -> None:
        """Save where the editor is, for :meth:`start_at` (best effort: a failure is ignored)."""
        write_place(self.corpus.layout.place(self.annotator), Place(snippet_id, token))

    def set_queue(self, queue: str, keep_position: int | None = None) -> None:
        """Switch to another queue; stay on `keep_position` if it is in it, else the next one."""
        self.queue = self._ordered(queue_positions(self.journal, queue, self.assigned))
        self.queue_name = queue
        self.index = 0
        if keep_position is not None and len(self.queue):
            self.index = min(self._find(keep_position)[0], len(self.queue) - 1)

    def go_to_position(self, position: int) -> None:
        """Show this corpus position, adding it to the queue when the filter left it out."""
        found, there = self._find(position)
        if not there:
            self.queue = np.insert(self.queue, found, position)
        self.index = found

    def counts(self) -> dict[str, int]:
        return self.journal.counts()

    def _latest_suggestions(self) -> Journal | None:
        """The suggestions journal with what `curate suggest` appended since it was read (or created)."""
        if self.suggestions is None:
            if self.corpus.suggestions_path.exists():
                self.suggestions = self.corpus.suggestions(facts_later=True)
        else:
            self.suggestions.refresh()
        return self.suggestions

    def _open(self, position: int, snippet: Snippet) -> OpenSnippet:
        own = self.journal.record_at(position)
        suggestion = None
        suggestions = self._latest_suggestions() if own is None else None
        if suggestions is not None and suggestions.has_record(position):
            suggestion = suggestions.record_at(position)
        start = starting_record(snippet.id, self.annotator, snippet.text, own, suggestion)
        session = EditSession(start.record, TextModel(snippet.text), start.origin)
        return OpenSnippet(position, snippet, session, start.warning)
