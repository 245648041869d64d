"""Fitting the entity tagger with a child training process (curate.suggest.crftrain) gives the models a serial fit gives."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from fork_threads import threads_of_this_test_only  # noqa: F401 (an autouse fixture: see its module)

from curate.model import Entity
from curate.suggest import crftrain
from curate.suggest import tagger as tagger_module
from curate.suggest.tagger import first_stage_path, fit_tagger

NAMES = ["Vexlar", "Quazzle", "Zorvex", "Plimbo", "Wubbleton", "Glorpax", "Drazzle", "Snorvel", "Trindle", "Mobbix", "Farzle", "Kelmot"]


def _examples() -> list[tuple[str, list[Entity]]]:
    examples = []
    for index, name in enumerate(NAMES):
        text = f"{name} said on Monday that shares of Acme rose.\nThe market in Paris was quiet.\nBERLIN - {name} left."
        entities = [Entity(start=0, end=len(name), label="PER"), Entity(start=text.index("Acme"), end=text.index("Acme") + 4, label="ORG")]
        if index % 2:
            entities.append(Entity(start=text.index("Paris"), end=text.index("Paris") + 5, label="LOC"))
        examples.append((text, entities))
    return examples


@pytest.mark.parametrize("fork", [True, False])
def test_a_fit_with_a_child_process_writes_the_models_a_serial_fit_writes(tmp_path: Path, monkeypatch, fork: bool) -> None:
    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    monkeypatch.setattr(crftrain, "FORK_CHILD", fork)
    started = []
    real = crftrain.ChildTrainer

    def counting(*args, **kwargs) -> crftrain.ChildTrainer:
        started.append(real(*args, **kwargs))
        assert started[-1].forked == fork
        return started[-1]

    monkeypatch.setattr(crftrain, "ChildTrainer", counting)
    examples = _examples()
    spans = [[(0, len(name), "PERSON")] for name in NAMES]
    serial = fit_tagger(examples, spans, tmp_path / "serial" / "entities.crfsuite", parallel=False)
    assert not started
    parallel = fit_tagger(examples, spans, tmp_path / "parallel" / "entities.crfsuite", parallel=True)
    assert started
    assert parallel == serial
    for folder in ("serial", "parallel"):
        assert sorted(path.name for path in (tmp_path / folder).iterdir()) == ["entities.crfsuite", "entities.first.crfsuite"]  # no temporary left
    assert (tmp_path / "parallel" / "entities.crfsuite").read_bytes() == (tmp_path / "serial" / "entities.crfsuite").read_bytes()
    first = first_stage_path(tmp_path / "parallel" / "entities.crfsuite")
    assert first.read_bytes() == first_stage_path(tmp_path / "serial" / "entities.crfsuite").read_bytes()


def test_the_default_uses_a_child_only_with_two_cores_and_enough_examples(monkeypatch) -> None:
    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    assert tagger_module._use_child(tagger_module.PARALLEL_MIN_EXAMPLES, None)
    assert not tagger_module._use_child(tagger_module.PARALLEL_MIN_EXAMPLES - 1, None)
    assert not tagger_module._use_child(100, False)
    monkeypatch.setattr(tagger_module, "PARALLEL_FIT", False)
    assert not tagger_module._use_child(100, None)
    monkeypatch.setattr(crftrain, "cores", lambda: 1)
    monkeypatch.setattr(tagger_module, "PARALLEL_FIT", True)
    assert not tagger_module._use_child(100, True)


def _serial_models(tmp_path: Path) -> tuple[list, bytes, bytes]:
    examples = _examples()
    spans = [[(0, len(name), "PERSON")] for name in NAMES]
    found = fit_tagger(examples, spans, tmp_path / "serial" / "entities.crfsuite", parallel=False)
    second = (tmp_path / "serial" / "entities.crfsuite").read_bytes()
    return found, second, first_stage_path(tmp_path / "serial" / "entities.crfsuite").read_bytes()


def _assert_serial_models(tmp_path: Path, folder: str, found: list) -> None:
    expected_found, second, first = _serial_models(tmp_path)
    assert found == expected_found
    assert (tmp_path / folder / "entities.crfsuite").read_bytes() == second
    assert first_stage_path(tmp_path / folder / "entities.crfsuite").read_bytes() == first
    assert sorted(path.name for path in (tmp_path / folder).iterdir()) == ["entities.crfsuite", "entities.first.crfsuite"]  # no temporary left


@pytest.mark.parametrize("fork", [True, False])
def test_a_child_killed_midway_costs_only_time(tmp_path: Path, monkeypatch, fork: bool) -> None:
    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    monkeypatch.setattr(crftrain, "FORK_CHILD", fork)
    killed = []
    real_wait = crftrain.ChildTrainer.wait_for

    def kill_then_wait(self: crftrain.ChildTrainer, number: int) -> None:
        if number == 1 and not killed:
            assert self.forked == fork
            self.process.kill()
            killed.append(self.process.wait())
        real_wait(self, number)

    monkeypatch.setattr(crftrain.ChildTrainer, "wait_for", kill_then_wait)
    found = fit_tagger(_examples(), [[(0, len(name), "PERSON")] for name in NAMES], tmp_path / "parallel" / "entities.crfsuite", parallel=True)
    assert killed == [-9]
    monkeypatch.setattr(crftrain.ChildTrainer, "wait_for", real_wait)
    _assert_serial_models(tmp_path, "parallel", found)


def test_a_child_whose_task_fails_costs_only_time(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    monkeypatch.setattr(crftrain, "FORK_CHILD", True)

    def failing(task, channel) -> None:  # the forked child runs this patched function
        raise ValueError("no room for the features")

    monkeypatch.setattr(tagger_module, "_child_fit", failing)
    import threading

    assert crftrain.forks(), threading.enumerate()  # the forked child runs the patched function
    failures = []
    real_failed = crftrain.ChildTrainer._failed

    def record(self: crftrain.ChildTrainer) -> None:
        try:
            real_failed(self)
        except crftrain.ChildFailed as error:
            failures.append(str(error))
            raise

    monkeypatch.setattr(crftrain.ChildTrainer, "_failed", record)
    found = fit_tagger(_examples(), [[(0, len(name), "PERSON")] for name in NAMES], tmp_path / "parallel" / "entities.crfsuite", parallel=True)
    assert len(failures) == 1 and "ValueError: no room for the features" in failures[0]
    _assert_serial_models(tmp_path, "parallel", found)


@pytest.mark.parametrize("fork", [True, False])
def test_a_child_that_cannot_start_costs_only_time(tmp_path: Path, monkeypatch, fork: bool) -> None:
    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    monkeypatch.setattr(crftrain, "FORK_CHILD", fork)
    refused = []

    def refuse(*args, **kwargs):
        refused.append(True)
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse) if fork else monkeypatch.setattr(subprocess, "Popen", refuse)
    found = fit_tagger(_examples(), [[(0, len(name), "PERSON")] for name in NAMES], tmp_path / "parallel" / "entities.crfsuite", parallel=True)
    assert refused == [True]
    monkeypatch.undo()
    _assert_serial_models(tmp_path, "parallel", found)


def test_a_child_is_forked_only_without_other_threads(monkeypatch) -> None:
    import threading

    monkeypatch.setattr(crftrain, "FORK_CHILD", True)
    assert crftrain.forks()
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not crftrain.forks()  # a fork would copy this thread's locks mid-work
    finally:
        release.set()
        thread.join()
    monkeypatch.setattr(crftrain, "FORK_CHILD", False)
    assert not crftrain.forks()


def test_encode_and_decode_round_trip() -> None:
    sequences = [[{"w=a": 1.0, "sh=x": 1.0}, {"w=b": 1.0}], [], [{"sh=x": 1.0, "w=c": 1.0}]]
    names, encoded = crftrain.encode(sequences)
    assert names == ["w=a", "sh=x", "w=b", "w=c"]
    assert [crftrain.decode(names, sequence) for sequence in encoded] == [[list(features) for features in sequence] for sequence in sequences]


def test_the_child_exits_when_its_parent_is_gone(tmp_path: Path) -> None:
    # a parent id that is not the child's parent stands for a parent that died before the child started
    completed = subprocess.run([sys.executable, "-m", "curate.suggest.crftrain", str(os.getpid() + 10**6)], input=pickle.dumps(None), capture_output=True, timeout=60)
    assert completed.returncode == 1


def test_word_labels_read_the_given_text_models_and_agree_with_their_own(monkeypatch) -> None:
    from curate.text import TextModel

    examples = _examples()
    models = [TextModel(text) for text, _ in examples]
    expected = tagger_module.word_labels(examples)
    assert expected["acme"] == "ORG" and expected["paris"] == "O,LOC"

    def refuse(text: str) -> TextModel:
        raise AssertionError("word_labels built a TextModel it was given")

    monkeypatch.setattr(tagger_module, "TextModel", refuse)
    assert tagger_module.word_labels(examples, models) == expected


def _fit_in_daemon(folder: str) -> None:
    crftrain.cores = lambda: 2  # the child's training process is used whatever this machine has
    fit_tagger(_examples(), [[] for _ in NAMES], Path(folder) / "entities.crfsuite", parallel=True)


def test_a_fit_in_a_daemonic_process_trains_in_a_child_too(tmp_path: Path) -> None:
    # the learning loop fits in a daemonic spawned process, which multiprocessing forbids children
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(target=_fit_in_daemon, args=(str(tmp_path),), daemon=True)
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["entities.crfsuite", "entities.first.crfsuite"]


def _story_examples():
    from curate.model import Annotation
    from curate.suggest.learn import Example

    examples = []
    for index, (text, entities) in enumerate(_examples()):
        second = text.index("BERLIN")
        record = Annotation.model_validate(
            {
                "snippet_id": f"s{index}",
                "annotator": "gold",
                "status": "done",
                "stories": [{"start": 0, "end": second, "truncated": False}, {"start": second, "end": len(text), "truncated": False}],
                "entities": [entity.model_dump() for entity in entities],
            }
        )
        examples.append(Example(f"s{index}", text, record))
    return examples


def test_the_story_start_fit_run_by_the_child_equals_the_one_run_here(tmp_path: Path, monkeypatch) -> None:
    from curate.suggest import learn

    monkeypatch.setattr(crftrain, "cores", lambda: 2)
    examples = _story_examples()
    pairs = [(example.text, list(example.record.entities)) for example in examples]
    spans = [[(0, len(name), "PERSON")] for name in NAMES]
    results = {}
    for mode, parallel in (("serial", False), ("parallel", True)):
        folder = tmp_path / mode
        job = learn._StoryJob(examples, [], str(folder / "stories.crfsuite"))
        fitted = tagger_module.fit_entity_tagger(pairs, spans, folder / "entities.crfsuite", parallel=parallel, extra=tagger_module.Extra("curate.suggest.learn", "fit_story_model", job))
        results[mode] = fitted
        assert fitted.extra["examples"] == len(examples)
        assert sorted(path.name for path in folder.iterdir()) == ["entities.crfsuite", "entities.first.crfsuite", "stories.crfsuite"]
    assert results["parallel"].found == results["serial"].found
    assert (tmp_path / "parallel" / "stories.crfsuite").read_bytes() == (tmp_path / "serial" / "stories.crfsuite").read_bytes()
    # and it is the model learn fits from the same findings in this process
    sequences, starts = learn.story_training_data(examples, results["serial"].found, [])
    learn.CrfScorer.fit(sequences, starts, tmp_path / "here.crfsuite")
    assert (tmp_path / "here.crfsuite").read_bytes() == (tmp_path / "serial" / "stories.crfsuite").read_bytes()
