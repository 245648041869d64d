"""`curate suggest` on a corpus it cannot write: refused in one line before any model is
loaded or learned, and DIR/models/ is written only when learning runs."""

from __future__ import annotations

import time

from disk_faults import ReadOnly, files_under
from export_fixtures import build_corpus, demo_corpus
from typer.testing import CliRunner

from curate.cli import app
from curate.store import CorpusLayout
from curate.suggest import learn


def test_a_read_only_corpus_is_refused_at_the_start_in_one_line(tmp_path, monkeypatch):
    corpus = demo_corpus(tmp_path)  # enough done records that suggest would learn on its own
    before = files_under(corpus)
    called = []
    monkeypatch.setattr(learn, "learn_from_editors", lambda *args, **kwargs: called.append(1))
    ReadOnly(corpus, monkeypatch)
    started = time.monotonic()
    result = CliRunner().invoke(app, ["suggest", str(corpus), "--entities", "none"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == f"error: {corpus} is read-only: cannot save {CorpusLayout(corpus).suggestions.name} there"
    assert called == [] and time.monotonic() - started < 5
    monkeypatch.undo()
    assert files_under(corpus) == before and not CorpusLayout(corpus).models.exists()


def test_without_learning_no_models_folder_is_written(tmp_path):
    corpus = build_corpus(tmp_path, pages=4, gold=False)  # too few records to learn on its own
    result = CliRunner().invoke(app, ["suggest", str(corpus), "--entities", "none"])
    assert result.exit_code == 0, result.output
    assert CorpusLayout(corpus).suggestions.stat().st_size > 0
    assert not CorpusLayout(corpus).models.exists()
