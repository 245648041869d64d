"""A journal file is made by its first save: when that save fails (a full disk), the file is
removed again, so no empty journal (an annotator with nothing saved) is left behind."""

from __future__ import annotations

import json

import pytest
from disk_faults import FullDisk
from export_fixtures import annotate, build_corpus, page_text
from typer.testing import CliRunner

from curate.annotating import AnnotatorDesk
from curate.cli import app
from curate.store import Corpus, CorpusLayout, SaveFailed


@pytest.fixture()
def corpus_dir(tmp_path):
    return build_corpus(tmp_path, pages=3, annotators=("alice",), gold=False)


def record_for(corpus_dir, annotator):
    with Corpus.open(corpus_dir) as corpus:
        snippet = corpus.snippet(0)
    return annotate(snippet.id, snippet.text, page_text(0)[1], annotator)


def test_a_failed_first_append_leaves_no_file_and_the_next_one_saves(corpus_dir, monkeypatch):
    path = CorpusLayout(corpus_dir).journal("zed")
    with Corpus.open(corpus_dir) as corpus, corpus.journal("zed", writable=True) as journal:
        FullDisk(corpus_dir, monkeypatch)
        with pytest.raises(SaveFailed, match="no space left on device"):
            journal.append(record_for(corpus_dir, "zed"))
        assert not path.exists()
        with pytest.raises(SaveFailed):
            journal.append(record_for(corpus_dir, "zed"))  # a retry on the same full disk
        assert not path.exists()
        monkeypatch.undo()
        journal.append(record_for(corpus_dir, "zed"))  # space again: the retry saves
        assert len(path.read_bytes().splitlines()) == 1
    with Corpus.open(corpus_dir) as corpus:
        assert "zed" in corpus.annotators() and corpus.journal("zed").counts()["done"] == 1


def test_a_failed_append_to_an_existing_journal_keeps_the_file(corpus_dir, monkeypatch):
    path = CorpusLayout(corpus_dir).journal("alice")
    before = path.read_bytes()
    with Corpus.open(corpus_dir) as corpus, corpus.journal("alice", writable=True) as journal:
        FullDisk(corpus_dir, monkeypatch)
        with pytest.raises(SaveFailed):
            journal.append(record_for(corpus_dir, "alice"))
        monkeypatch.undo()
    assert path.read_bytes() == before


def test_annotate_on_a_full_disk_leaves_no_journal_for_the_annotator(corpus_dir, monkeypatch):
    desk = AnnotatorDesk.open(corpus_dir, "zed")
    try:
        opened = desk.current()
        FullDisk(corpus_dir, monkeypatch)
        with pytest.raises(SaveFailed):
            desk.save(opened)
        assert opened.unsaved is not None
    finally:
        desk.close()
        monkeypatch.undo()
    assert not CorpusLayout(corpus_dir).journal("zed").exists()
    with Corpus.open(corpus_dir) as corpus:
        assert corpus.annotators() == ["alice"]


@pytest.mark.parametrize("command", ["import", "suggest"])
def test_import_and_suggest_on_a_full_disk_leave_no_empty_file(corpus_dir, tmp_path, monkeypatch, command):
    layout = CorpusLayout(corpus_dir)
    if command == "import":
        text = json.loads(layout.snippets.read_text(encoding="utf-8").splitlines()[0])["text"]
        source = tmp_path / "in.jsonl"
        source.write_text(json.dumps({"text": text, "label": [[0, 3, "PERSON"]]}) + "\n", encoding="utf-8")
        args, made = ["import", str(source), "--format", "doccano", "--corpus", str(corpus_dir), "--annotator", "newguy"], layout.journal("newguy")
    else:
        args, made = ["suggest", str(corpus_dir), "--entities", "none"], layout.suggestions
    FullDisk(corpus_dir, monkeypatch)
    result = CliRunner().invoke(app, args)
    monkeypatch.undo()
    assert result.exit_code == 1 and "no space left on device" in result.stderr, result.output
    assert not made.exists()
