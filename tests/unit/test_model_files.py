"""models/ writes (curate.suggest.modelfiles): a fit's files go in all together or not at all,
under a failure at every OS call of the commit and under SIGKILL between two renames."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curate.suggest import modelfiles
from curate.suggest.modelfiles import FitBusy, commit, fit_lock, recover, staged

OLD = {"story-starts.crfsuite": b"old story", "entities.crfsuite": b"old tagger", "learned.json": b'{"old": 1}'}
NEW = {"story-starts.crfsuite": b"new story", "entities.crfsuite": b"new tagger", "entities.first.crfsuite": b"new first", "learned.json": b'{"new": 2}'}


def files(directory: Path) -> dict[str, bytes]:
    """Every file of the folder (dot names too: a leftover counts) with its bytes."""
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


def models_with_a_fit_staged(tmp_path: Path) -> tuple[Path, list[tuple[Path, Path]]]:
    directory = tmp_path / "models"
    directory.mkdir(parents=True)
    for name, data in OLD.items():
        (directory / name).write_bytes(data)
    moves = []
    for name, data in NEW.items():
        staged(directory / name).write_bytes(data)
        moves.append((staged(directory / name), directory / name))
    return directory, moves


def test_a_commit_puts_every_new_file_in_place_and_leaves_nothing_else(tmp_path: Path) -> None:
    directory, moves = models_with_a_fit_staged(tmp_path)
    commit(directory, moves)
    assert files(directory) == NEW


@pytest.mark.parametrize("call", ["replace", "fsync", "link"])
def test_a_failure_at_any_call_of_the_commit_leaves_the_old_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    real = getattr(os, call)
    failures = 0
    for fail_at in range(1, 12):
        directory, moves = models_with_a_fit_staged(tmp_path / str(fail_at))
        calls = 0

        def failing(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == fail_at:
                raise OSError(errno.EIO, "injected")
            return real(*args, **kwargs)

        monkeypatch.setattr(os, call, failing)
        try:
            commit(directory, moves)
        except OSError:
            failures += 1
            monkeypatch.setattr(os, call, real)
            assert files(directory) == OLD, (call, fail_at)
        else:
            monkeypatch.setattr(os, call, real)
            assert files(directory) == NEW, (call, fail_at)
    assert failures >= 1


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from curate.suggest import modelfiles

    directory, kill_at = Path(sys.argv[1]), int(sys.argv[2])
    real, calls = os.replace, 0

    def replace(*args):
        global calls
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args)

    os.replace = replace
    names = sys.argv[3:]
    modelfiles.commit(directory, [(modelfiles.staged(directory / name), directory / name) for name in names])
    """
)


def test_a_commit_killed_between_two_renames_is_undone_by_recover(tmp_path: Path) -> None:
    killed = 0
    for kill_at in range(1, 7):
        directory, _ = models_with_a_fit_staged(tmp_path / str(kill_at))
        run = subprocess.run([sys.executable, "-c", KILLER, str(directory), str(kill_at), *NEW], capture_output=True, cwd=Path(__file__).resolve().parents[2])
        if run.returncode == 0:
            assert files(directory) == NEW
            continue
        assert run.returncode == -9, run.stderr.decode()
        killed += 1
        recover(directory)
        assert files(directory) == OLD, kill_at
    assert killed >= 4  # the commit list's own write, then one kill between each pair of renames


def test_recover_removes_what_a_killed_fit_left_and_keeps_the_models(tmp_path: Path) -> None:
    directory, _ = models_with_a_fit_staged(tmp_path)
    (directory / ".story-starts.crfsuite.tmp").write_bytes(b"crfsuite mid-write")
    assert recover(directory) is False
    assert files(directory) == OLD


def test_a_folder_target_is_swapped_whole_and_put_back_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "models"
    (directory / "ner").mkdir(parents=True)
    (directory / "ner" / "model").write_bytes(b"old ner")
    staged(directory / "ner").mkdir()
    (staged(directory / "ner") / "model").write_bytes(b"new ner")
    staged(directory / "learned.json").write_bytes(b"{}")
    real = os.replace

    def second_fails(source, target):
        if Path(target).name == "learned.json":
            raise OSError(errno.ENOSPC, "injected")
        return real(source, target)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(OSError):
        commit(directory, [(staged(directory / "ner"), directory / "ner"), (staged(directory / "learned.json"), directory / "learned.json")])
    assert sorted(path.name for path in directory.iterdir()) == ["ner"]
    assert (directory / "ner" / "model").read_bytes() == b"old ner"


def test_the_fit_lock_is_refused_to_a_second_process_and_reentrant_in_one(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from pathlib import Path; from curate.suggest.modelfiles import fit_lock\nwith fit_lock(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(30)", str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(FitBusy):
            with fit_lock(tmp_path, wait=False):
                pass
    finally:
        holder.kill()
        holder.wait()
    with fit_lock(tmp_path, wait=False):
        with fit_lock(tmp_path, wait=False):  # the same process again: no deadlock
            assert modelfiles.lock_path(tmp_path).exists()


def test_a_real_fit_failing_at_its_commit_leaves_the_models_it_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from learning_corpus import done_record, learning_corpus

    from curate.store import Corpus
    from curate.suggest.service import SuggestOptions, run_suggest

    directory = learning_corpus(tmp_path, 8, done=3)
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, SuggestOptions(entities="none", learn=True))
    models = directory / "models"
    before = files(models)
    with (directory / "annotations" / "ana.jsonl").open("a") as handle:
        for number in range(3, 6):
            handle.write(json.dumps(done_record(number, "ana")) + "\n")
    real = os.replace

    def meta_fails(source, target):
        if Path(target).name == "learned.json" and Path(source).name.endswith(".staged"):
            raise OSError(errno.ENOSPC, "injected")
        return real(source, target)

    monkeypatch.setattr(os, "replace", meta_fails)
    with Corpus.open(directory) as corpus, pytest.raises(OSError, match="injected"):
        run_suggest(corpus, SuggestOptions(entities="none", learn=True))
    assert files(models) == before  # the new story-start CRF went in and came back out
    monkeypatch.setattr(os, "replace", real)
    with Corpus.open(directory) as corpus:
        assert run_suggest(corpus, SuggestOptions(entities="none", learn=True)).learned["story_starts"]["examples"] == 6


def test_fine_tuning_swaps_in_ner_and_drops_the_entity_crf_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--entity-learner fine-tune writes ner/ and deletes entities.crfsuite: both in the one commit."""
    import json

    from learning_corpus import done_record, learning_corpus, marker_page

    from curate.store import Corpus
    from curate.suggest.service import SuggestOptions, run_suggest

    directory = learning_corpus(tmp_path, 6)
    (directory / "annotations").mkdir()
    with (directory / "annotations" / "ana.jsonl").open("w") as handle:
        for number in range(6):
            text = marker_page(number)[0]
            places = [(index, index + len("Varel")) for index in range(len(text)) if text.startswith("Varel", index)]
            record = {**done_record(number, "ana"), "entities": [{"start": start, "end": end, "label": "GPE"} for start, end in places]}
            handle.write(json.dumps(record) + "\n")
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, SuggestOptions(learn=True, boundaries="none", only=frozenset()))  # the entity CRF, no suggestions
    models = directory / "models"
    before = files(models)
    assert "entities.crfsuite" in before and not (models / "ner").exists()
    real = os.replace

    def meta_fails(source, target):
        if Path(target).name == "learned.json" and Path(source).name.endswith(".staged"):
            raise OSError(errno.EIO, "injected")
        return real(source, target)

    monkeypatch.setattr(os, "replace", meta_fails)
    options = SuggestOptions(learn=True, boundaries="none", entity_learner="fine-tune", learn_epochs=1, only=frozenset())
    with Corpus.open(directory) as corpus, pytest.raises(OSError, match="injected"):
        run_suggest(corpus, options)
    assert files(models) == before and not (models / "ner").exists()  # the CRF is back, no ner/
    monkeypatch.setattr(os, "replace", real)
    with Corpus.open(directory) as corpus:
        run_suggest(corpus, options)
    assert (models / "ner" / "meta.json").exists() and not (models / "entities.crfsuite").exists()
    assert sorted(path.name for path in models.iterdir()) == ["learned.json", "ner"]
