"""A second process for a fit, so it uses two cores; and training CRFs (python-crfsuite).

pycrfsuite's `Trainer.train` holds the GIL, so threads would take turns; a fit's independent
work (half of the entity tagger's features, a held-out first stage and the full first stage)
runs instead in a child Python process started with `subprocess`, which works where
`multiprocessing` may not start children (the learning loop's fit process is a daemonic one) and
in Ray workers alike.

The parent speaks to the child through files: `ChildTrainer.send` pickles an object to a file
of its own and writes the file's path on the child's stdin, so neither side ever waits on a full
pipe. The first object is a `Task` (a function of an importable module and its argument); the
function runs with a `Channel`, through which it receives the parent's later objects and
reports "done N" on stdout after each step N. The child exits 0 when the task returns. It dies
with its parent (Linux's parent-death signal), so a killed fit leaves no orphan training.

This module imports nothing from curate: the child starts in a fraction of a second, and
imports the module it is told to prepare (argv) while the parent works out what to send it.

Where it can (Linux, and no other Python thread running in this process, which a fork would not
copy mid-work: FORK_CHILD), the child is a fork of this process instead: it has at once every
module and object the parent holds (spaCy and a loaded pipeline, the name lists), which a
started Python takes about two seconds of a core to load. It speaks the same protocol over
pipes and leaves with os._exit, running none of the parent's exit handlers.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Fork the child where that is safe (forks); else start a new Python.
FORK_CHILD = True

Encoded = tuple[array, array]  # feature indexes of a sequence's tokens, one after another; the count per token


@dataclass
class Task:
    """Run `module.function(argument, channel)` in the child."""

    module: str
    function: str
    argument: Any


class Channel:
    """The child's side: `receive` the parent's next object, `report` step N done."""

    def __init__(self, stdin: Any, stdout: Any) -> None:
        self.stdin = stdin
        self.stdout = stdout

    def receive(self) -> Any:
        line = self.stdin.readline()
        if not line:
            raise EOFError("the parent sent nothing more")
        return pickle.loads(Path(line.decode().rstrip("\n")).read_bytes())

    def report(self, number: int) -> None:
        self.stdout.write(f"done {number}\n")
        self.stdout.flush()


def encode(sequences: Sequence[Sequence[dict[str, float]]]) -> tuple[list[str], list[Encoded]]:
    """The feature names (in first-seen order) and each sequence as indexes into them; values must be 1.0."""
    index: dict[str, int] = {}
    encoded = []
    for sequence in sequences:
        ids = array("I")
        counts = array("I")
        for features in sequence:
            for name in features:
                number = index.get(name)
                if number is None:
                    number = index[name] = len(index)
                ids.append(number)
            counts.append(len(features))
        encoded.append((ids, counts))
    return list(index), encoded


def decode(names: Sequence[str], sequence: Encoded) -> list[list[str]]:
    """A sequence's tokens as lists of feature names (pycrfsuite reads a name alone as value 1.0)."""
    ids, counts = sequence
    tokens = []
    position = 0
    for count in counts:
        tokens.append([names[number] for number in ids[position : position + count]])
        position += count
    return tokens


def train(sequences: Iterable[Any], labels: Sequence[Sequence[str]], path: Path | str, algorithm: str, params: dict[str, Any]) -> None:
    """Fit a CRF on `sequences` (lists of feature dicts or names per token) and save it to `path`."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(algorithm=algorithm, verbose=False)
    for features, tags in zip(sequences, labels):
        trainer.append(features, tags)
    trainer.set_params(params)
    trainer.train(str(path))


def items(sequence: Sequence[dict[str, float]]) -> Any:
    """A sequence's features as crfsuite's items (pycrfsuite.ItemSequence): what `train` makes of
    them when it appends the sequence, made beforehand."""
    import pycrfsuite

    return pycrfsuite.ItemSequence(sequence)


def tag(path: Path | str, sequences: Sequence[Any]) -> list[list[str]]:
    """The tags the CRF saved at `path` gives each sequence ([] for an empty one)."""
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    try:
        return [tagger.tag(sequence) if len(sequence) else [] for sequence in sequences]
    finally:
        tagger.close()


class ChildFailed(RuntimeError):
    """The child process ended before its task did, or failed at it."""


class ChildTrainer:
    """A child process running a `Task`: start it early (Python starts while the parent works),
    `send` the task and then whatever it asks for, `wait_for` a step, `finish`.

    `folder` holds the files objects are sent through (removed by `close`); `prepare` names a
    module the child imports at once, before the task arrives."""

    def __init__(self, folder: Path | None = None, prepare: str | None = None, *, task: Task | None = None, fork: bool | None = None) -> None:
        """`task`: the Task, given now rather than sent; a forked child is handed it unpickled (its
        argument may hold what only this process has, such as a loaded pipeline). `fork`: whether
        to fork the child (by default when `forks()`). OSError when the child cannot start."""
        self.forked = forks() if fork is None else fork
        if self.forked:
            self.process: Any = _fork(prepare, task)
        else:
            package_root = str(Path(__file__).resolve().parents[2])
            environment = dict(os.environ)
            environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
            self.process = subprocess.Popen(
                [sys.executable, "-m", "curate.suggest.crftrain", str(os.getpid()), *([prepare] if prepare else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
            )
        self.done = -1
        self.folder = folder or Path(tempfile.gettempdir())
        self.sent: list[Path] = []
        if task is not None and not self.forked:
            self.send(task)

    def send(self, message: Any) -> None:
        """Hand the child an object (the Task first): pickled to a file, its path on the child's stdin."""
        assert self.process.stdin is not None
        path = self.folder / f".crftrain-{os.getpid()}-{id(self)}-{len(self.sent)}.tmp"
        self.sent.append(path)
        with path.open("wb") as handle:
            pickle.dump(message, handle, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.process.stdin.write(f"{path}\n".encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            self._failed()

    def wait_for(self, number: int) -> None:
        """Block until job `number` is done."""
        assert self.process.stdout is not None
        while self.done < number:
            line = self.process.stdout.readline()
            if not line:
                self._failed()
            if line.startswith(b"done "):
                self.done = int(line.split()[1])

    def finish(self) -> None:
        """Wait for the task to end; raise if the child failed."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        self.process.wait()
        if self.process.returncode != 0:
            self._failed()
        self.close()

    def close(self) -> None:
        """End the child if it still runs (a fit that failed in the parent), release its pipes and remove the files sent."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:  # what a write to a dead child left buffered cannot be flushed: it is closed all the same
                    pass
        for path in self.sent:
            path.unlink(missing_ok=True)

    def _failed(self) -> None:
        self.process.wait()
        message = self.process.stderr.read().decode(errors="replace").strip().splitlines() if self.process.stderr else []
        self.close()
        raise ChildFailed(f"CRF training process failed (exit {self.process.returncode}): {message[-1] if message else 'no message'}")


def forks() -> bool:
    """Whether ChildTrainer forks its child: FORK_CHILD, Linux, and this process runs no other
    Python thread (one could hold a lock the child would then wait on for ever)."""
    return FORK_CHILD and sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


class _Forked:
    """A forked child as ChildTrainer uses a subprocess.Popen: its pipes, poll, wait, kill and returncode."""

    def __init__(self, pid: int, stdin: Any, stdout: Any, stderr: Any) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            self._reap(0)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _reap(self, flags: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:  # reaped elsewhere: its exit status is lost
            self.returncode = -1
            return
        if pid:
            self.returncode = os.waitstatus_to_exitcode(status)


def _fork(prepare: str | None, task: Task | None) -> _Forked:
    """Fork a child that serves a Task (`task`, or the first object sent) over pipes, as `_main` does."""
    to_child, from_parent = os.pipe()
    reports, to_parent = os.pipe()
    errors, error_end = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()  # nothing buffered here is written twice
        except (AttributeError, OSError, ValueError):
            pass
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(from_parent)
            os.close(reports)
            os.close(errors)
            _die_with_parent(parent)
            channel = Channel(os.fdopen(to_child, "rb"), os.fdopen(to_parent, "w"))
            _serve(channel, [prepare] if prepare else [], task)
            channel.stdout.flush()
            code = 0
        except BaseException:  # noqa: BLE001 - everything goes to the parent as the child's message
            try:
                os.write(error_end, traceback.format_exc().encode(errors="replace")[-4000:])  # less than a pipe holds
            except OSError:
                pass
        finally:
            os._exit(code)
    os.close(to_child)
    os.close(to_parent)
    os.close(error_end)
    return _Forked(pid, os.fdopen(from_parent, "wb"), os.fdopen(reports, "rb"), os.fdopen(errors, "rb"))


def _serve(channel: Channel, prepare: Sequence[str], task: Task | None = None) -> None:
    """The child's work: import the modules to prepare (running their prepare_child), then run the task (or the first object received)."""
    for module in prepare:
        preparing = getattr(importlib.import_module(module), "prepare_child", None)
        if preparing is not None:
            preparing()
    if task is None:
        task = channel.receive()
    getattr(importlib.import_module(task.module), task.function)(task.argument, channel)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent ends (prctl PR_SET_PDEATHSIG); exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        sys.exit(1)


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _main() -> None:
    _die_with_parent(int(sys.argv[1]))
    _serve(Channel(sys.stdin.buffer, sys.stdout), sys.argv[2:])


if __name__ == "__main__":
    _main()
