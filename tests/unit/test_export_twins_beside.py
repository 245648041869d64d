"""An export's near-duplicate search run by a forked child beside the story rows
(curate.export._TwinsBeside): the same files as the search run first, whatever the child does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from wire_corpus import build_wire_corpus, leaked_pairs, wire_pages

import curate.export as export_module
import curate.store as store
from curate.export import export_corpus
from curate.store import CorpusLayout


@pytest.fixture
def wire(tmp_path: Path) -> Path:
    return build_wire_corpus(tmp_path)


@pytest.fixture
def forks(monkeypatch) -> list[int]:
    """Search beside for any gold size; the pids of the children forked for it."""
    started: list[int] = []
    fork_child = store.fork_child

    def counted(work):
        child = fork_child(work)
        if child is not None:
            started.append(child[0])
        return child

    monkeypatch.setattr(export_module, "TWINS_BESIDE_BYTES", 0)
    monkeypatch.setattr(store, "fork_child", counted)
    return started


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def serial_export(monkeypatch, corpus: Path, out: Path, **options) -> dict[str, bytes]:
    """The export with the search run first, in this process (as before it ran beside)."""
    with monkeypatch.context() as patch:
        patch.setattr(export_module._TwinsBeside, "start", classmethod(lambda cls, corpus, context: None))
        CorpusLayout(corpus).dedup_cache.unlink(missing_ok=True)
        export_corpus(corpus, out, fmt="jsonl", **options)
    CorpusLayout(corpus).dedup_cache.unlink(missing_ok=True)
    return files_of(out)


def split_of(folder: Path) -> dict[str, str]:
    splits = {}
    for path in folder.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            splits[json.loads(line)["id"]] = path.stem
    return splits


def test_the_search_beside_writes_what_the_search_first_writes(wire, tmp_path, monkeypatch, forks):
    expected = serial_export(monkeypatch, wire, tmp_path / "serial", splits="0.5,0.5")
    export_corpus(wire, tmp_path / "beside", fmt="jsonl", splits="0.5,0.5")
    assert len(forks) == 1
    assert files_of(tmp_path / "beside") == expected
    splits = split_of(tmp_path / "beside")
    assert len(splits) == 60 and leaked_pairs(wire_pages(), splits) == 0  # the twins were grouped
    export_corpus(wire, tmp_path / "plain", fmt="jsonl", splits="0.5,0.5", dedup=False)
    assert leaked_pairs(wire_pages(), split_of(tmp_path / "plain")) > 0  # ... which plain splits do not


def test_rows_held_for_the_search_are_written_in_order_when_it_ends_midway(wire, tmp_path, monkeypatch, forks):
    expected = serial_export(monkeypatch, wire, tmp_path / "serial")
    monkeypatch.setattr(export_module, "_ROWS_BATCH", 7)
    monkeypatch.setattr(export_module, "_HELD_BATCHES", 3)  # waits for the search after 21 records
    export_corpus(wire, tmp_path / "beside", fmt="jsonl")
    assert len(forks) == 1
    assert files_of(tmp_path / "beside") == expected


def refuse_unpickling():
    raise ValueError("a result this process cannot read")


class Unreadable:
    def __reduce__(self):
        return refuse_unpickling, ()


@pytest.mark.parametrize("failure", ["error", "killed", "garbage"])
def test_a_search_beside_that_fails_costs_only_time(wire, tmp_path, monkeypatch, forks, failure):
    expected = serial_export(monkeypatch, wire, tmp_path / "serial")
    parent, twin_groups = os.getpid(), export_module._twin_groups
    calls_here: list[int] = []

    def failing(corpus, context):
        if os.getpid() == parent:
            calls_here.append(1)
            return twin_groups(corpus, context)
        if failure == "killed":
            os.kill(os.getpid(), 9)
        if failure == "garbage":
            return Unreadable()  # pickled in the child, refused when read here
        raise RuntimeError("the search failed in the child")

    monkeypatch.setattr(export_module, "_twin_groups", failing)
    export_corpus(wire, tmp_path / "beside", fmt="jsonl")
    assert len(forks) == 1 and calls_here == [1]  # the child was forked, failed, and the search ran here
    assert files_of(tmp_path / "beside") == expected


def test_saved_clusters_are_read_here_without_a_child(wire, tmp_path, forks):
    export_corpus(wire, tmp_path / "first", fmt="jsonl")
    assert len(forks) == 1 and CorpusLayout(wire).dedup_cache.exists()
    export_corpus(wire, tmp_path / "second", fmt="jsonl")
    assert len(forks) == 1  # the cache holds the clusters: no second search
    assert files_of(tmp_path / "second") == files_of(tmp_path / "first")


def test_an_error_while_making_rows_stops_the_search_and_is_raised(wire, tmp_path, monkeypatch, forks):
    import curate.export.rows as rows

    def broken(pairs):
        raise RuntimeError("rows could not be made")

    monkeypatch.setattr(rows, "story_batch", broken)
    with pytest.raises(RuntimeError, match="rows could not be made"):
        export_corpus(wire, tmp_path / "out", fmt="jsonl")
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # reaped: no child outlives the export
    assert not (tmp_path / "out").exists()


def test_the_card_counts_the_clusters_the_child_found(wire, tmp_path, monkeypatch, forks):
    with monkeypatch.context() as patch:
        patch.setattr(export_module._TwinsBeside, "start", classmethod(lambda cls, corpus, context: None))
        export_corpus(wire, tmp_path / "serial")
    CorpusLayout(wire).dedup_cache.unlink()
    export_corpus(wire, tmp_path / "beside")
    assert len(forks) == 1
    card = (tmp_path / "beside" / "README.md").read_text(encoding="utf-8")
    assert "20 cluster(s) of near-duplicate stories grouped 60 page(s) into 20 group(s)" in card
    assert card == (tmp_path / "serial" / "README.md").read_text(encoding="utf-8")
