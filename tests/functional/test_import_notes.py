"""What an import leaves out or settles on its own is said: doccano relations, a Prodigy span
accepted once and rejected once, and a CoNLL entity moved to token edges on its token's line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from curate.cli import app
from curate.importing import import_annotations

INTEROP = Path("/work/shared/bench/interop")


def test_doccano_relations_are_counted_as_not_imported(tmp_path):
    source = INTEROP / "doccano" / "relation-extraction-example.json"
    report = import_annotations(source, "doccano", tmp_path / "c", "x", add_snippets=True)
    assert report.records == 1 and report.not_imported == {"doccano relations": 3}
    result = CliRunner().invoke(app, ["import", str(source), "--format", "doccano", "--corpus", str(tmp_path / "d"), "--annotator", "x", "--add-snippets"])
    assert result.exit_code == 0 and "note: not imported (curate has no place for them): 3 doccano relations" in result.stderr


def test_a_prodigy_span_accepted_and_rejected_is_noted_with_both_lines(tmp_path):
    text = "Kim met Lee in Oslo."
    tasks = [
        {"text": text, "spans": [{"start": 0, "end": 3, "label": "PERSON"}], "answer": "accept", "_view_id": "ner"},
        {"text": text, "spans": [{"start": 15, "end": 19, "label": "GPE"}], "answer": "accept", "_view_id": "ner"},
        {"text": text, "spans": [{"start": 8, "end": 11, "label": "PERSON"}], "answer": "reject", "_view_id": "ner"},
        {"text": text, "spans": [{"start": 0, "end": 3, "label": "PERSON"}], "answer": "reject", "_view_id": "ner"},
    ]
    source = tmp_path / "binary.jsonl"
    source.write_text("".join(json.dumps(task) + "\n" for task in tasks), encoding="utf-8")
    report = import_annotations(source, "prodigy", tmp_path / "c", "x", add_snippets=True, binary="merge")
    assert report.notes == [f"{source}:4: 'Kim' [0,3) PERSON was rejected here but accepted on line 1; kept, as every accepted span is"]
    result = CliRunner().invoke(app, ["import", str(source), "--format", "prodigy", "--corpus", str(tmp_path / "d"), "--annotator", "x", "--add-snippets", "--binary", "merge"])
    assert result.exit_code == 0 and f"note: {report.notes[0]}" in result.stderr


def test_a_conll_entity_moved_to_token_edges_is_noted_on_its_tokens_line(tmp_path):
    source = INTEROP / "conll" / "wnut17-emerging.dev.conll"
    report = import_annotations(source, "conll", tmp_path / "c", "x", add_snippets=True, doc_per="blank-lines", skip_invalid=True)
    lines = source.read_text(encoding="utf-8").splitlines()
    moved = [note for note in report.snapped if "'Dubbz\\ufeff'" in note]
    assert len(moved) == 1
    line = int(moved[0].split(":")[1])
    assert lines[line - 1] == "Dubbz\ufeff\tB-person" and line > 1
    assert moved[0] == f"{source}:{line}: 1 entity moved to token edges: 'Dubbz\\ufeff' [70782,70788) → 'Dubbz' [70782,70787)"
