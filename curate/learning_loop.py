"""Learning while annotating: `curate annotate` refits the corpus's models in a background
process after every N snippets newly marked done, then refreshes the suggestions of the next
queued snippets nobody has opened.

UI-free (the annotation screen's side is curate/tui/learning.py). The pieces:

- :class:`LearningLoop` counts saves (a snippet counts once, the first time this session marks
  it done, and only if it was not done when the session began) and says when a fit is due;
  :meth:`LearningLoop.run` spawns the fit process and waits for it (call it from a thread:
  nothing here ever runs on the UI's event loop for longer than a set lookup).
- :func:`run_fit` is what the process runs: under the corpus's fit lock (taken without
  waiting: a second editor's session that finds it held skips, and tries again at its next
  snippet marked done), `curate suggest --learn`'s own fit (`run_suggest` with `learn`), then
  `run_suggest` again for the refreshed snippets alone, appended to suggestions.jsonl as any
  suggest run appends.
- Which snippets are refreshed (:func:`refreshable`): the next `ahead` snippets of the
  editor's queue after the one on screen (2 × N by default: the ones they reach before the
  next fit) that this session has not opened and that have no record in any annotator's
  journal nor in gold. "Nobody has opened" thus means: no editor saved anything for it, and
  this editor has not looked at it. Another editor's session may have it open unsaved; that
  is harmless, since an open snippet's record lives in the session's memory and a new
  suggestion reaches only sessions that open it afterwards.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from curate.store import LEARNED_NAME, Corpus, CorpusLayout, StoreError, error_reason

if TYPE_CHECKING:  # the suggest service (and what it imports) loads in the fit process, not with the UI
    from curate.suggest.service import SuggestOptions

DEFAULT_EVERY = 10
# How many queued snippets a fit refreshes, as a multiple of N (`every`).
AHEAD_PER_EVERY = 2


@dataclass(frozen=True)
class ModelState:
    """What the corpus has learned: a version naming it and how many snippets it learned from."""

    version: str  # eight hex digits of learned.json, which every fit rewrites
    examples: int


def model_state(corpus_path: Path) -> ModelState | None:
    """The learned model's state from models/learned.json (as curate.suggest.learn writes it);
    None before the first fit, or when it cannot be read."""
    try:
        data = (CorpusLayout(corpus_path).models / LEARNED_NAME).read_bytes()
        meta = json.loads(data)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    examples = max((int(part.get("examples", 0)) for part in meta.values() if isinstance(part, dict)), default=0)
    return ModelState(hashlib.sha256(data).hexdigest()[:8], examples)


@dataclass(frozen=True)
class FitJob:
    """Everything the fit process needs (picklable)."""

    corpus_path: str
    candidates: tuple[int, ...]  # queued corpus positions, nearest first, to refresh after the fit
    opened: frozenset[int]  # positions this session opened: never refreshed
    options: SuggestOptions


@dataclass(frozen=True)
class FitOutcome:
    kind: Literal["fitted", "busy", "failed"]
    state: ModelState | None = None
    refreshed: tuple[int, ...] = ()
    message: str = ""


def refreshable(corpus: Corpus, candidates: Sequence[int], opened: frozenset[int] | set[int]) -> list[int]:
    """The candidates not opened in this session and without a record of any annotator or gold."""
    left = [position for position in candidates if position not in opened]
    if not left:
        return []
    gold_ids = set(corpus.gold().records)
    for name in corpus.annotators():
        with corpus.journal(name) as journal:
            left = [position for position in left if not journal.has_record(position)]
    return [position for position in left if corpus.snippet_id(position) not in gold_ids]


def run_fit(job: FitJob) -> FitOutcome:
    """Fit as `curate suggest --learn` does, then suggest again for the refreshable candidates."""
    from curate.suggest import modelfiles
    from curate.suggest.service import SuggestError, run_suggest

    path = Path(job.corpus_path)
    try:
        with modelfiles.fit_lock(path, wait=False):
            with Corpus.open(path) as corpus:
                run_suggest(corpus, replace(job.options, learn=True, only=frozenset()))
                # Checked after the fit, which may take minutes: what the editors did meanwhile counts.
                positions = refreshable(corpus, job.candidates, job.opened)
                report = run_suggest(corpus, replace(job.options, learn=False, only=frozenset(positions)))
                refreshed = tuple(positions) if report.written else ()
    except modelfiles.FitBusy as busy:
        # The other session's fit may have finished models/ already: the header names it.
        return FitOutcome("busy", model_state(path), message=str(busy))
    except (SuggestError, StoreError) as error:  # SaveFailed, an OSError too, has its own words
        return FitOutcome("failed", message=str(error))
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return FitOutcome("failed", message=f"{where}{error_reason(error)}")
    return FitOutcome("fitted", model_state(path), refreshed)


def fit_process(job: FitJob, connection: Any) -> None:
    """The child's entry point: lower priority than the editor's UI, nothing written to the
    terminal the UI draws on (a library's warning would land on the editor's screen), the
    outcome sent back."""
    try:
        os.nice(10)
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        os.close(quiet)
    except OSError:
        pass
    try:
        outcome = run_fit(job)
    except Exception as error:  # anything else: reported in the header, never a traceback on the screen
        outcome = FitOutcome("failed", message=f"{type(error).__name__}: {error}")
    connection.send(outcome)
    connection.close()


class LearningLoop:
    """When to fit during one `curate annotate` session, and the fit process while it runs."""

    # What the fit process runs (an importable function: the spawned process imports it).
    process_target = staticmethod(fit_process)

    def __init__(
        self,
        corpus_path: Path,
        *,
        every: int = DEFAULT_EVERY,
        ahead: int | None = None,
        options: SuggestOptions | None = None,
        start_method: str = "spawn",
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.corpus_path = Path(corpus_path)
        self.every = every
        self.ahead = AHEAD_PER_EVERY * every if ahead is None else ahead
        if options is None:
            from curate.suggest.service import SuggestOptions

            options = SuggestOptions()
        self.options = options
        self.context = multiprocessing.get_context(start_method)
        if start_method != "fork":
            # Started now, while stderr is the terminal's: a UI that has replaced sys.stderr (Textual
            # does) cannot start it later ("bad value(s) in fds_to_keep").
            from multiprocessing import resource_tracker

            resource_tracker.ensure_running()
        self.done_before = np.zeros(0, dtype=np.int64)  # sorted positions done when the session began
        self.counted: set[int] = set()  # positions this session marked done (each counts once)
        self.pending = 0  # of those, how many since the last fit began
        self.pending_at_start = 0  # what `pending` was when the running fit began (given back if it could not run)
        self.opened: set[int] = set()
        self.state: ModelState | None = model_state(self.corpus_path)
        self.running = False
        self.last: FitOutcome | None = None
        self.process: Any = None
        self.stopped = False

    # ---- on the UI thread: set lookups only

    def begin_session(self, done_positions: np.ndarray) -> None:
        """The positions already done when the session began (sorted): they never count."""
        self.done_before = np.asarray(done_positions, dtype=np.int64)

    def note_opened(self, position: int) -> None:
        self.opened.add(position)

    def note_saved(self, position: int, status: str | None) -> bool:
        """A record was saved; True when it made a fit due (it is a snippet newly marked done)."""
        if status != "done" or position in self.counted or self._was_done(position):
            return False
        self.counted.add(position)
        self.pending += 1
        return self.due

    def _was_done(self, position: int) -> bool:
        found = int(np.searchsorted(self.done_before, position))
        return found < len(self.done_before) and int(self.done_before[found]) == position

    @property
    def due(self) -> bool:
        return self.pending >= self.every and not self.running and not self.stopped

    def begin(self, queue: Sequence[int] | np.ndarray, index: int) -> FitJob:
        """Mark a fit as running and say what it refreshes: up to `ahead` unopened positions
        after `index` in `queue`."""
        candidates: list[int] = []
        for position in queue[index + 1 : index + 1 + 4 * self.ahead]:
            if len(candidates) >= self.ahead:
                break
            if int(position) not in self.opened:
                candidates.append(int(position))
        self.running = True
        self.pending_at_start = self.pending
        self.pending = 0
        return FitJob(str(self.corpus_path), tuple(candidates), frozenset(self.opened), self.options)

    # ---- in a worker thread

    def run(self, job: FitJob) -> FitOutcome:
        """:meth:`fit`, then :meth:`finish` with its outcome (blocking: call it from a thread)."""
        outcome = self.fit(job)
        self.finish(outcome)
        return outcome

    def fit(self, job: FitJob) -> FitOutcome:
        """Spawn the fit process and wait for its outcome (blocking: call it from a thread). The
        loop's counts are left alone: a UI passes the outcome to :meth:`finish` on its own thread."""
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(target=self.process_target, args=(job, sender), daemon=True, name="curate-fit")
        outcome = FitOutcome("failed", message="stopped")
        try:
            if not self.stopped:
                self.process = process
                process.start()
                sender.close()
                try:
                    outcome = receiver.recv()
                except EOFError:
                    process.join()
                    settled = time.monotonic() + 5
                    while process.exitcode is None and time.monotonic() < settled:  # stop() on another thread may be the one reaping it
                        time.sleep(0.01)
                    outcome = FitOutcome("failed", message=f"the fit process ended without an answer (exit code {process.exitcode})")
                process.join()
        except Exception as error:  # it could not start (no memory, no processes left, ...)
            outcome = FitOutcome("failed", message=f"the fit process did not start: {type(error).__name__}: {error}")
        finally:
            receiver.close()
            sender.close()
            self.process = None
        return outcome

    def finish(self, outcome: FitOutcome) -> None:
        """Take in a fit's outcome: a busy corpus retries at the next snippet marked done."""
        self.running = False
        self.last = outcome
        if outcome.kind == "busy":
            self.pending += self.pending_at_start
        if outcome.state is not None:
            self.state = outcome.state

    def stop(self) -> None:
        """End the session: kill a running fit (models/ stays as it was) and start no other."""
        self.stopped = True
        process = self.process
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)
