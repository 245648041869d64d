"""Training CRFs (python-crfsuite) in a second process, so a fit uses two cores.

pycrfsuite's `Trainer.train` holds the GIL, so threads would take turns; a fit's independent
trainings (the entity tagger's held-out first stages and its full first stage) run instead in a
child Python process started with `subprocess`, which works where `multiprocessing` may not
start children (the learning loop's fit process is a daemonic one) and in Ray workers alike.

The parent sends the child one pickled `Batch` on its stdin: the feature names once
(`encode`: each token's features as indexes into them, every value 1.0) and the jobs to run
in order. After each job the child writes the tags it was asked for to the job's file and
prints "done N" on stdout; it exits 0 when all jobs are done. The child dies with its parent
(Linux's parent-death signal), so a killed fit leaves no orphan training.

This module imports nothing from curate: the child starts in a fraction of a second.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Encoded = tuple[array, array]  # feature indexes of a sequence's tokens, one after another; the count per token


@dataclass
class Job:
    """Train on the sequences `train` (indexes), save the model to `model`; tag the sequences `tag` and pickle the tags to `tags`."""

    train: list[int]
    model: str
    algorithm: str
    params: dict[str, Any]
    tag: list[int] = field(default_factory=list)
    tags: str | None = None


@dataclass
class Batch:
    names: list[str]
    sequences: list[Encoded]
    labels: list[list[str]]
    jobs: list[Job]


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


def run_batch(batch: Batch, report: Any = None) -> None:
    """Run the batch's jobs in order (in the child; `report(n)` after job n). Sequences are decoded
    as the trainer reads them and dropped after: pycrfsuite keeps its own copy."""
    for number, job in enumerate(batch.jobs):
        train((decode(batch.names, batch.sequences[i]) for i in job.train), [batch.labels[i] for i in job.train], job.model, job.algorithm, job.params)
        if job.tags is not None:
            Path(job.tags).write_bytes(pickle.dumps(tag(job.model, [decode(batch.names, batch.sequences[i]) for i in job.tag])))
        if report is not None:
            report(number)


class ChildTrainer:
    """A child process running a `Batch`: start it early (Python starts while the parent works), `send` the batch, `wait_for` a job, `finish`."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "curate.suggest.crftrain", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
        )
        self.done = -1

    def send(self, batch: Batch) -> None:
        assert self.process.stdin is not None
        try:
            pickle.dump(batch, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.close()
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
        """Wait for every job; raise if the child failed."""
        self.process.wait()
        if self.process.returncode != 0:
            self._failed()
        self.close()

    def close(self) -> None:
        """End the child if it still runs (a fit that failed in the parent) and release its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                stream.close()

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
    batch = pickle.load(sys.stdin.buffer)
    out = sys.stdout

    def report(number: int) -> None:
        out.write(f"done {number}\n")
        out.flush()

    run_batch(batch, report)


if __name__ == "__main__":
    _main()
