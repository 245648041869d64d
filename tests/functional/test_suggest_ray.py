"""`curate suggest --engine ray` on a real local Ray cluster (one for the module: two CPUs, a small object store)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from disk_faults import FullDisk
from suggest_corpora import PAGE, make_corpus, marker_page, suggestions
from typer.testing import CliRunner

from curate.cli import app
from curate.store import Corpus, SaveFailed
from curate.suggest import learn, ray_engine
from curate.suggest.service import SuggestError, SuggesterSpec, SuggestOptions, run_suggest

TIMESTAMPS = ("updated_at",)


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=96 * 1024 * 1024, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def without_timestamps(records: list[dict]) -> list[dict]:
    return [{key: value for key, value in record.items() if key not in TIMESTAMPS} for record in records]


def marker_corpus(tmp_path: Path, pages: int, done: int) -> Path:
    """Pages of two or three stories after the marker '+++'; the first `done` annotated by an editor."""
    made = [marker_page(number) for number in range(pages)]
    texts = [text for text, _ in made]
    texts[-1] = PAGE  # with names, for the entity model
    directory = make_corpus(tmp_path, texts)
    annotations = directory / "annotations"
    annotations.mkdir()
    with (annotations / "ed.jsonl").open("w") as handle:
        for number, (text, starts) in enumerate(made[:done]):
            cuts = [0, *starts, len(text)]
            record = {"snippet_id": f"s{number:03d}", "annotator": "ed", "status": "done", "stories": [{"start": a, "end": b, "truncated": False} for a, b in zip(cuts, cuts[1:])]}
            handle.write(json.dumps(record) + "\n")
    return directory


def test_ray_writes_the_records_the_local_path_writes_with_the_learned_model_shipped(tmp_path: Path) -> None:
    directory = marker_corpus(tmp_path, pages=30, done=24)
    with Corpus.open(directory) as corpus:
        on_ray = run_suggest(corpus, SuggestOptions(engine="ray", n_process=2, batch_size=4))
    # 24 done snippets: the run learned a story-start CRF (a worker without it would miss the '+++' cue)
    assert "story_starts" in on_ray.learned and (directory / "models" / learn.STORY_MODEL).exists()
    assert on_ray.written == 30
    with Corpus.open(directory) as corpus:
        local = run_suggest(corpus, SuggestOptions(batch_size=4, redo=True))
    assert local.annotator == on_ray.annotator
    records = suggestions(directory)
    assert len(records) == 60
    assert without_timestamps(records[:30]) == without_timestamps(records[30:])
    assert [record["snippet_id"] for record in records[:30]] == [f"s{number:03d}" for number in range(30)]
    starts = {record["snippet_id"]: [story["start"] for story in record["stories"][1:]] for record in records[:30]}
    assert all(starts[f"s{number:03d}"] == marker_page(number)[1] for number in range(24, 29))
    assert any(entity["label"] == "GPE" for entity in records[29]["entities"])  # en_core_web_sm ran on the workers


def test_a_failed_batch_is_one_clear_error_keeping_what_was_written_and_a_rerun_does_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = ray_engine.WINDOW_BATCHES_PER_WORKER  # batches of one snippet for one worker: the first window is s000...
    count = window + 4
    bad = f"s{window + 1:03d}"
    directory = make_corpus(tmp_path, [PAGE.replace("Wexbridge", f"Town{number}") for number in range(count)])
    real = ray_engine.suggest_rows

    def failing(batch, shipped):  # sent to the workers by value: one batch reaches the proposers without its text
        if bad in batch.column("id").to_pylist():
            batch = batch.set_column(batch.column_names.index("text"), "text", pa.nulls(len(batch), pa.string()))
        return real(batch, shipped)

    monkeypatch.setattr(ray_engine, "suggest_rows", failing)
    options = SuggestOptions(engine="ray", entities="none", n_process=1, batch_size=1)
    with Corpus.open(directory) as corpus:
        with pytest.raises(SuggestError) as raised:
            run_suggest(corpus, options)
    message = str(raised.value)
    assert message.startswith(f"a Ray worker failed: the batch from snippet '{bad}': TypeError: ") and "\n" not in message
    kept = suggestions(directory)
    # the first window was written whole before the failing batch's
    assert window <= len(kept) <= window + 1 and f"the {len(kept)} suggestion(s) written before it are kept" in message
    assert [record["snippet_id"] for record in kept] == [f"s{number:03d}" for number in range(len(kept))]
    monkeypatch.setattr(ray_engine, "suggest_rows", real)
    with Corpus.open(directory) as corpus:
        again = run_suggest(corpus, options)
    assert again.written == count - len(kept) and again.skipped == len(kept)
    records = suggestions(directory)
    assert sorted(record["snippet_id"] for record in records) == [f"s{number:03d}" for number in range(count)]
    with Corpus.open(directory) as corpus:
        assert run_suggest(corpus, options).written == 0


def test_cli_engine_ray_and_its_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = make_corpus(tmp_path, [PAGE.replace("Wexbridge", name) for name in ("Aberholt", "Bryn", "Cowley")])
    runner = CliRunner()
    result = runner.invoke(app, ["suggest", str(directory), "--engine", "ray", "--entities", "none", "--n-process", "2", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "3 suggestion(s) written" in result.stdout and len(suggestions(directory)) == 3
    refused = runner.invoke(app, ["suggest", str(directory), "--address", "auto"])
    assert refused.exit_code != 0 and "--address needs --engine ray" in refused.output and "Traceback" not in refused.output
    for address, said in (("127.0.0.1:1", "--engine ray: cannot reach the Ray cluster at 127.0.0.1:1: Connection refused"), ("somewhere", "--address somewhere: give auto, HOST:PORT")):
        unreachable = runner.invoke(app, ["suggest", str(directory), "--engine", "ray", "--address", address, "--redo"])
        assert unreachable.exit_code != 0 and unreachable.output.startswith("error: " + said) and len(unreachable.output.strip().splitlines()) == 1, unreachable.output
    monkeypatch.setitem(sys.modules, "ray", None)  # as without the extra: `import ray` fails
    missing = runner.invoke(app, ["suggest", str(directory), "--engine", "ray"])
    assert missing.exit_code != 0 and "pip install 'curate[ray]'" in missing.output and len(missing.output.strip().splitlines()) == 1
    assert len(suggestions(directory)) == 3


def test_shipped_files_are_written_on_the_worker_and_the_spec_points_at_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "corpus-models"
    (models / "ner" / "vocab").mkdir(parents=True)
    (models / "ner" / "meta.json").write_text('{"name": "tuned"}')
    (models / "ner" / "vocab" / "strings.json").write_bytes(b"[1, 2, 3]")
    (models / "story.crf").write_bytes(b"\x00crf bytes\xff")
    (models / "entities.crf").write_bytes(b"tagger bytes")
    spec = SuggesterSpec(model=str(models / "ner"), label_map={}, gazetteer={("Oslo",): "LOC"}, crf_path=str(models / "story.crf"), boilerplate_kinds=[], annotator="model:x@1", find_boundaries=True, tagger_path=str(models / "entities.crf"))
    shipped = pickle.loads(pickle.dumps(ray_engine.ship(spec)))
    elsewhere = tmp_path / "worker-tmp"
    elsewhere.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
    unpacked = ray_engine.unpack(shipped)
    for path in (unpacked.crf_path, unpacked.tagger_path, unpacked.model):
        assert path is not None and Path(path).is_relative_to(elsewhere)
    assert Path(unpacked.crf_path).read_bytes() == b"\x00crf bytes\xff" and Path(unpacked.tagger_path).read_bytes() == b"tagger bytes"
    assert (Path(unpacked.model) / "vocab" / "strings.json").read_bytes() == b"[1, 2, 3]"
    assert unpacked.gazetteer == spec.gazetteer and unpacked.annotator == spec.annotator
    backend = ray_engine.unpack(ray_engine.ship(SuggesterSpec(model="hf:" + str(models / "ner"), label_map={}, gazetteer={}, crf_path=None, boilerplate_kinds=[], annotator="a", find_boundaries=False)))
    assert backend.model.startswith("hf:") and Path(backend.model[3:]).is_relative_to(elsewhere)
    named = ray_engine.ship(SuggesterSpec(model="en_core_web_sm", label_map={}, gazetteer={}, crf_path=None, boilerplate_kinds=[], annotator="a", find_boundaries=False))
    assert named.model_files == {} and ray_engine.unpack(named).model == "en_core_web_sm"
    moved = ray_engine.ship(dataclasses.replace(spec, crf_path=str(models / "ner" / "meta.json"), annotator="model:y@2"))
    assert Path(ray_engine.unpack(moved).crf_path).parent != Path(unpacked.crf_path).parent  # other files: another folder
    again = ray_engine.unpack(ray_engine.ship(dataclasses.replace(spec, annotator="model:z@3")))
    assert again.crf_path == unpacked.crf_path  # the same files (another corpus, other options): the same folder


def test_ctrl_c_on_a_cluster_run_keeps_whole_batches_and_a_rerun_resumes(tmp_path: Path) -> None:
    texts = [PAGE.replace("Wexbridge", f"Town{number}") for number in range(200)]
    directory = make_corpus(tmp_path, texts)
    address = ray.get_runtime_context().gcs_address  # the module's cluster, joined by --address as a real one is
    command = [sys.executable, "-m", "curate.cli", "suggest", str(directory), "--engine", "ray", "--address", address, "--entities", "none", "--batch-size", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = directory / "suggestions.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (journal.exists() and journal.stat().st_size > 0):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    kept = suggestions(directory)
    said = re.search(r"interrupted: (\d+) suggestion\(s\) written; run the command again to resume", err)
    assert said is not None and "Traceback" not in err, err
    # whole batches only; a Ctrl+C landing between a batch's fsync and its count undercounts that one batch
    assert 0 < len(kept) < 200 and len(kept) % 2 == 0 and len(kept) - 2 <= int(said.group(1)) <= len(kept)
    assert [record["snippet_id"] for record in kept] == [f"s{number:03d}" for number in range(len(kept))]
    with Corpus.open(directory) as corpus:
        again = run_suggest(corpus, SuggestOptions(engine="ray", address=address, entities="none", batch_size=50))
    assert 200 - len(kept) <= again.written <= 202 - len(kept)  # (a batch whose score was not yet noted is done again)
    assert sorted({record["snippet_id"] for record in suggestions(directory)}) == [f"s{number:03d}" for number in range(200)]


def test_a_full_disk_during_a_cluster_run_keeps_the_batches_before_it_and_a_rerun_does_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [PAGE.replace("Wexbridge", f"Town{number}") for number in range(10)]
    directory = make_corpus(tmp_path, texts)
    options = SuggestOptions(engine="ray", entities="none", n_process=1, batch_size=2)
    full: list[FullDisk] = []

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage == "suggesting" and done >= 4 and not full:
            full.append(FullDisk(directory, monkeypatch))  # the disk fills after two batches

    with Corpus.open(directory) as corpus:
        with pytest.raises(SaveFailed) as raised:
            run_suggest(corpus, options, progress=progress)
    assert str(raised.value).startswith("no space left on device: suggestions.jsonl not saved")
    monkeypatch.undo()
    text = (directory / "suggestions.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n") and [record["snippet_id"] for record in suggestions(directory)] == ["s000", "s001", "s002", "s003"]
    with Corpus.open(directory) as corpus:
        again = run_suggest(corpus, options)
    # s002-s003's scores could not be saved on the full disk (the first batch's were, at once), so they may be done again
    assert again.written in (6, 8) and sorted({record["snippet_id"] for record in suggestions(directory)}) == [f"s{number:03d}" for number in range(10)]


def test_ray_is_imported_only_when_the_ray_engine_runs() -> None:
    code = "import sys, curate.cli, curate.suggest.service, curate.suggest.ray_engine; print(sorted(name for name in sys.modules if name == 'ray' or name.startswith('ray.')))"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
