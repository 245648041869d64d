"""The learning loop's service (curate.learning_loop): when a fit is due, what it refreshes,
the fit lock between two editors' sessions, and a fit killed midway."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from learning_corpus import done_record, latest_suggestions, learning_corpus, marker_page, story_starts

from curate.learning_loop import FitJob, FitOutcome, LearningLoop, model_state, refreshable, run_fit
from curate.store import Corpus
from curate.suggest import learn
from curate.suggest.boundaries import CrfScorer
from curate.suggest.service import SuggestOptions, run_suggest

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = SuggestOptions(entities="none")  # the story-start CRF alone: fits in well under a second


def test_a_fit_is_due_after_every_n_snippets_newly_marked_done(tmp_path: Path) -> None:
    loop = LearningLoop(tmp_path, every=3)
    loop.begin_session(np.array([0, 7]))
    assert loop.state is None  # nothing learned yet
    assert not loop.note_saved(0, "done")  # done before the session: never counts
    assert not loop.note_saved(1, None)  # an edit, not done
    assert not loop.note_saved(1, "done")
    assert not loop.note_saved(1, "done")  # done again: counts once
    assert not loop.note_saved(2, "skipped")
    assert not loop.note_saved(2, "done")
    assert loop.note_saved(3, "done")  # the third newly done snippet
    job = loop.begin(np.arange(10), 3)
    assert loop.running and not loop.due
    for position in (4, 5, 6):
        assert not loop.note_saved(position, "done")  # counted, but a fit is running
    loop.finish(FitOutcome("fitted"))
    assert loop.pending == 3 and loop.due  # the three done during the fit make the next one due
    assert job.candidates == (4, 5, 6, 7, 8, 9)  # 2 x N after the current snippet


def test_a_busy_corpus_gives_the_count_back_so_the_next_done_snippet_retries(tmp_path: Path) -> None:
    loop = LearningLoop(tmp_path, every=2)
    loop.note_saved(0, "done")
    assert loop.note_saved(1, "done")
    loop.begin([0, 1, 2, 3], 1)
    loop.finish(FitOutcome("busy", message="another process is fitting"))
    assert not loop.running and loop.pending == 2
    assert loop.note_saved(2, "done")


def test_the_candidates_skip_snippets_this_session_opened(tmp_path: Path) -> None:
    loop = LearningLoop(tmp_path, every=2, ahead=3)
    for position in (3, 5):
        loop.note_opened(position)
    job = loop.begin([1, 2, 3, 4, 5, 6, 7, 8], 1)
    assert job.candidates == (4, 6, 7) and job.opened == frozenset({3, 5})


def test_refreshable_leaves_out_opened_snippets_and_any_annotators_or_gold_record(tmp_path: Path) -> None:
    directory = learning_corpus(tmp_path, 8, done=2, annotator="ana")  # ana: s000, s001
    with (directory / "annotations" / "bob.jsonl").open("w") as handle:
        handle.write(json.dumps(done_record(2, "bob", status=None)) + "\n")  # bob saved s002 unfinished
    gold = {**done_record(3, "ana"), "sources": ["ana"], "adjudicator": "rev"}
    (directory / "gold.jsonl").write_text(json.dumps(gold) + "\n")
    with Corpus.open(directory) as corpus:
        assert refreshable(corpus, [0, 1, 2, 3, 4, 5, 6, 7], frozenset({5})) == [4, 6, 7]


def test_run_fit_learns_and_refreshes_only_the_refreshable_candidates(tmp_path: Path) -> None:
    directory = learning_corpus(tmp_path, 12, done=6)
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, OPTIONS)  # the hand-set scorer's suggestions, before learning
    before = latest_suggestions(directory)
    assert story_starts(before["s008"]) != marker_page(8)[1]  # the '+++' cue is not known yet
    outcome = run_fit(FitJob(str(directory), (7, 8, 9, 2), frozenset({7}), OPTIONS))
    assert outcome.kind == "fitted" and outcome.refreshed == (8, 9)  # 7 opened, 2 done
    assert outcome.state == model_state(directory) and outcome.state.examples == 6
    after = latest_suggestions(directory)
    assert story_starts(after["s008"]) == marker_page(8)[1] and story_starts(after["s009"]) == marker_page(9)[1]
    assert after["s008"]["annotator"] != before["s008"]["annotator"]
    for untouched in ("s007", "s002", "s010"):
        assert after[untouched] == before[untouched]


def test_a_second_session_finds_the_fit_lock_held_and_skips(tmp_path: Path) -> None:
    directory = learning_corpus(tmp_path, 6, done=3)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from pathlib import Path; from curate.suggest.modelfiles import fit_lock\nwith fit_lock(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(30)", str(directory)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        outcome = run_fit(FitJob(str(directory), (4,), frozenset(), OPTIONS))
    finally:
        holder.kill()
        holder.wait()
    assert outcome.kind == "busy"
    assert not (directory / "models" / learn.META_NAME).exists()


def test_the_loop_fits_in_another_process_and_says_what_it_learned(tmp_path: Path) -> None:
    directory = learning_corpus(tmp_path, 8, done=4)
    loop = LearningLoop(directory, every=1, options=OPTIONS)
    outcome = loop.run(loop.begin([4, 5, 6], 0))
    assert outcome.kind == "fitted", outcome.message
    assert loop.state == model_state(directory) and loop.state.examples == 4 and not loop.running


def slow_story_fit(sequences, labels, model_path, c2=0.1):
    """CrfScorer.fit that writes its (staged) file and then hangs, so the test can kill it mid-fit."""
    scorer = REAL_FIT(sequences, labels, model_path, c2)
    Path(str(model_path) + ".written").touch()
    time.sleep(60)
    return scorer


REAL_FIT = CrfScorer.fit


def visible_files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file() and not path.name.startswith(".")}


def test_a_fit_killed_midway_leaves_models_as_they_were(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = learning_corpus(tmp_path, 10, done=4)
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, SuggestOptions(entities="none", learn=True))  # a first model
    models = directory / "models"
    before = visible_files(models)
    assert set(before) == {learn.STORY_MODEL, learn.META_NAME}
    with (directory / "annotations" / "ana.jsonl").open("a") as handle:
        for number in range(4, 8):
            handle.write(json.dumps(done_record(number, "ana")) + "\n")
    monkeypatch.setattr(CrfScorer, "fit", staticmethod(slow_story_fit))  # forked: the child has it too
    loop = LearningLoop(directory, every=1, options=OPTIONS, start_method="fork")
    results = []
    worker = threading.Thread(target=lambda: results.append(loop.run(loop.begin([8, 9], 0))))
    worker.start()
    deadline = time.monotonic() + 30
    while not list(models.glob("*.written")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(models.glob("*.written")), (results, list(models.iterdir()))
    loop.stop()  # what quitting `curate annotate` does during a fit: SIGKILL
    worker.join(10)
    assert results and results[0].kind == "failed" and f"exit code {-signal.SIGKILL}" in results[0].message
    assert visible_files(models) == before  # the new model was only staged
    staged = models / f".{learn.STORY_MODEL}.staged"
    assert staged.exists()
    for marker in models.glob("*.written"):
        marker.unlink()
    monkeypatch.setattr(CrfScorer, "fit", staticmethod(REAL_FIT))
    outcome = run_fit(FitJob(str(directory), (8,), frozenset(), OPTIONS))  # the next fit clears the leftovers
    assert outcome.kind == "fitted" and outcome.state.examples == 8
    assert sorted(path.name for path in models.iterdir()) == sorted([learn.STORY_MODEL, learn.META_NAME])


def test_run_suggest_only_suggests_for_the_positions_asked(tmp_path: Path) -> None:
    directory = learning_corpus(tmp_path, 40)
    with Corpus.open(directory) as corpus:
        report = run_suggest(corpus, SuggestOptions(entities="none", only=frozenset({1, 30})))
    assert report.written == 2 and sorted(latest_suggestions(directory)) == ["s001", "s030"]


def test_corpus_toml_learning_every_sets_the_loop_and_a_bad_value_names_its_line(tmp_path: Path) -> None:
    from curate.cli import learning_loop
    from curate.store import StoreError

    folders = {name: tmp_path / name for name in ("default", "three", "off", "bad")}
    for folder in folders.values():
        folder.mkdir()
    configs = {"default": "", "three": "[learning]\nevery = 3\n", "off": "[learning]\nevery = 0\n", "bad": "[learning]\nevery = -1\n"}
    directories = {name: learning_corpus(folders[name], 2, config=configs[name]) for name in folders}
    with Corpus.open(directories["default"]) as corpus:
        assert (learning_loop(corpus).every, learning_loop(corpus).ahead) == (10, 20)
    with Corpus.open(directories["three"]) as corpus:
        assert (learning_loop(corpus).every, learning_loop(corpus).ahead) == (3, 6)
    with Corpus.open(directories["off"]) as corpus:
        assert learning_loop(corpus) is None
    lines = (directories["bad"] / "corpus.toml").read_text().splitlines()
    with pytest.raises(StoreError, match=rf"corpus.toml:{lines.index('every = -1') + 1}: "):
        Corpus.open(directories["bad"])


def test_the_fit_process_writes_nothing_to_the_terminal_the_ui_draws_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    import os

    from curate import learning_loop

    def noisy(job: FitJob) -> FitOutcome:
        os.write(1, b"raw stdout\n")
        os.write(2, b"raw stderr: a library's warning\n")
        return FitOutcome("fitted")

    monkeypatch.setattr(learning_loop, "run_fit", noisy)  # forked: the child has it too
    loop = LearningLoop(tmp_path, every=1, start_method="fork")
    assert loop.run(loop.begin([1], 0)).kind == "fitted"
    out, err = capfd.readouterr()
    assert "raw" not in out and "raw" not in err


def test_annotate_help_says_it_learns_in_the_background() -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    result = CliRunner().invoke(app, ["annotate", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "learning table" in result.output and "fitted again in the background" in result.output


def test_a_fit_that_cannot_write_models_says_why_in_one_line(tmp_path: Path) -> None:
    directory = learning_corpus(tmp_path, 6, done=3)
    (directory / "models").write_text("not a folder\n")  # models/ cannot be made (as on a read-only disk)
    outcome = run_fit(FitJob(str(directory), (4,), frozenset(), OPTIONS))
    assert outcome.kind == "failed"
    assert "[Errno" not in outcome.message and "models" in outcome.message and "\n" not in outcome.message


def test_a_busy_corpus_reports_the_model_the_other_session_fitted(tmp_path: Path) -> None:
    directory = learning_corpus(tmp_path, 6, done=3)
    assert run_fit(FitJob(str(directory), (), frozenset(), OPTIONS)).kind == "fitted"  # the other session's fit
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from pathlib import Path; from curate.suggest.modelfiles import fit_lock\nwith fit_lock(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(30)", str(directory)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        outcome = run_fit(FitJob(str(directory), (4,), frozenset(), OPTIONS))
    finally:
        holder.kill()
        holder.wait()
    assert outcome.kind == "busy" and outcome.state == model_state(directory) is not None
    loop = LearningLoop(tmp_path / "elsewhere", every=2)
    loop.finish(outcome)
    assert loop.state == outcome.state  # the header names the model now on disk
