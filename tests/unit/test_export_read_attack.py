"""Attacks on the export's fast reads (curate/export/rows.py): `read_snippet` must give the id
and text `Snippet.model_validate_json` gives (or its error), and a GoldSource's memo of the
lines an earlier read checked (`sure`) must never let a later read decode unchecked bytes (gold
rewritten between dedup's read and the rows')."""

from __future__ import annotations

import json
import os

import pytest

from curate.export import rows
from curate.export.rows import GoldSource
from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout


def gold_line(snippet_id: str, cut: int, length: int, status: str = "done") -> str:
    stories = [{"start": 0, "end": cut}, {"start": cut, "end": length}] if cut else [{"start": 0, "end": length}]
    return json.dumps({"snippet_id": snippet_id, "annotator": "gold", "stories": stories, "status": status, "sources": ["a"], "adjudicator": "c"})


@pytest.fixture
def folder(tmp_path):
    texts = {f"p{number}": f"Line one of page {number}.\nLine two of page {number}.\n" for number in range(6)}
    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    folder = tmp_path / "corpus"
    ingest([source], folder)
    lines = [gold_line(key, 27, len(text)) for key, text in texts.items()]
    CorpusLayout(folder).gold.write_text("\n".join(lines) + "\n")
    return folder


def broken(line: bytes) -> bytes:
    """The same length, but the second story no longer starts where the first ends (no model accepts it)."""
    new = line.replace(b'{"start": 27, "end"', b'{"start": 28, "end"')
    assert len(new) == len(line) and new != line
    return new


def rewrite_in_place_keeping_times(path, number):
    """Another tool rewrites line `number` in place keeping the file's size, inode and
    modification time (as `cp -p` or `rsync --inplace -t` onto it would)."""
    stat = path.stat()
    lines = path.read_bytes().splitlines(keepends=True)
    lines[number] = broken(lines[number])
    with path.open("r+b") as handle:
        handle.write(b"".join(lines))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def replace_atomically(path, number):
    """Another process replaces gold.jsonl (a new file renamed over it) with line `number` changed."""
    lines = path.read_bytes().splitlines(keepends=True)
    lines[number] = broken(lines[number])
    temporary = path.with_name(path.name + ".new")
    temporary.write_bytes(b"".join(lines))
    os.replace(temporary, path)


def read(source):
    return [(position, snippet.id, record) for position, snippet, record in source.pairs()]


@pytest.mark.parametrize("change", [rewrite_in_place_keeping_times, replace_atomically])
def test_a_second_read_never_decodes_unchecked_lines_of_a_changed_gold_file(folder, change):
    path = CorpusLayout(folder).gold
    with Corpus.open(folder) as corpus:
        shared = GoldSource(corpus)
        first = read(shared)  # dedup's read: every line checked and remembered
        assert [position for position, _, _ in first] == list(range(6))
        change(path, 2)
        second = read(shared)  # the rows' read
    with Corpus.open(folder) as corpus:
        fresh = read(GoldSource(corpus))
    assert 2 not in [position for position, _, _ in fresh]  # p2's only line is no record now
    assert all(record.stories[1].start == record.stories[0].end for _, _, record in second)
    assert second == fresh


def exported(folder, out):
    from curate.export import export_corpus

    rows._gold_source = None  # as a new process starts
    export_corpus(folder, out, fmt="jsonl", splits={"train": 1.0})
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file() and path.suffix == ".jsonl"}


def test_an_export_whose_gold_is_rewritten_after_dedup_read_it_writes_no_row_from_an_unchecked_line(folder, tmp_path, monkeypatch):
    import curate.export as export

    path = CorpusLayout(folder).gold
    real = export._twin_groups

    def dedup_then_rewrite(corpus, context):
        found = real(corpus, context)
        rewrite_in_place_keeping_times(path, 2)  # between dedup's read of gold and the rows'
        return found

    monkeypatch.setattr(export, "_twin_groups", dedup_then_rewrite)
    written = exported(folder, tmp_path / "out")
    monkeypatch.setattr(export, "_twin_groups", real)
    assert written == exported(folder, tmp_path / "again")
