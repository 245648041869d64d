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
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def tag(path: Path | str, sequences: Sequence[Any]) -> list[list[str]]:
    """The tags the CRF saved at `path` gives each sequence ([] for an empty one)."""
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    try:
        return [tagger.tag(sequence) if len(sequence) else [] for sequence in sequences]
    finally:
        tagger.close()


class ChildTrainer:
    """A child process running a `Task`: start it early (Python starts while the parent works),
    `send` the task and then whatever it asks for, `wait_for` a step, `finish`.

    `folder` holds the files objects are sent through (removed by `close`); `prepare` names a
    module the child imports at once, before the task arrives."""

    def __init__(self, folder: Path | None = None, prepare: str | None = None) -> None:
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
                stream.close()
        for path in self.sent:
            path.unlink(missing_ok=True)

    def _failed(self) -> None:
        self.process.wait()
        message = self.process.stderr.read().decode(errors="replace").strip().splitlines() if self.process.stderr else []
        self.close()
        raise RuntimeError(f"CRF training process failed (exit {self.process.returncode}): {message[-1] if message else 'no message'}")


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
    for module in sys.argv[2:]:
        prepare = getattr(importlib.import_module(module), "prepare_child", None)
        if prepare is not None:
            prepare()
    channel = Channel(sys.stdin.buffer, sys.stdout)
    task = channel.receive()
    getattr(importlib.import_module(task.module), task.function)(task.argument, channel)


if __name__ == "__main__":
    _main()
