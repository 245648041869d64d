"""A split asked for that no snippet falls in (the demo's `validation`, 0.1 of 28 snippets) is
named in the export's report and in the dataset card, not left out silently."""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from export_fixtures import demo_corpus
from typer.testing import CliRunner

from curate.cli import app
from curate.export import export_corpus


def test_the_demos_empty_validation_split_is_reported_and_carded(tmp_path):
    corpus = demo_corpus(tmp_path)
    report = export_corpus(corpus, tmp_path / "hf", source="demo")
    assert not any("validation" in path.name for path in report.files)
    empty = [note for note in report.notes if note.startswith("split 'validation'")]
    assert empty == ["split 'validation' (0.1 asked for) is empty: none of the 28 snippet(s) fell in it, so it has no file and the card says so; more snippets, other --splits or another --seed change that"]
    card = (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    assert "No snippet fell in `validation`: with 28 snippet(s) the hash split left it empty, so the dataset has no `validation` split." in card
    result = CliRunner().invoke(app, ["export", str(corpus), "--out", str(tmp_path / "jsonl"), "--source", "demo", "--format", "jsonl"])
    assert result.exit_code == 0 and "note: split 'validation' (0.1 asked for) is empty: none of the 28 snippet(s) fell in it, so it has no file;" in result.stderr


def test_no_note_when_every_split_has_snippets(tmp_path):
    corpus = demo_corpus(tmp_path)
    report = export_corpus(corpus, tmp_path / "hf", source="demo", splits="0.5,0.5")
    assert not [note for note in report.notes if "is empty" in note]
    assert "No snippet fell in" not in (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
