"""Label Studio results that are not `labels` spans: one without a type (or with an unknown
type but a span's keys) is a `file:line: reason` problem, never a finished record without its
entities; results of Label Studio's other types are counted as not imported, by kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.importing import ImportRefused, import_annotations


def tasks(path: Path, *results: list) -> Path:
    path.write_text("".join(json.dumps({"data": {"text": f"Paris text {number}."}, "annotations": [{"result": result}]}) + "\n" for number, result in enumerate(results)), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ({"value": {"start": 0, "end": 5, "labels": "GPE"}}, "result 1 has no 'type' though its value has start, end, labels (a text span is type 'labels')"),
        ({"value": {"start": 0, "end": 5, "labels": ["GPE"]}}, "result 1 has no 'type' though its value has start, end, labels (a text span is type 'labels')"),
        ({"value": "v"}, "result 1 has no 'type' (a text span is type 'labels')"),
        ({"type": None, "value": {}}, "result 1 has no 'type' (a text span is type 'labels')"),
        ({"type": "span", "value": {"start": 0, "end": 5}}, "result 1 has type 'span', which is not a Label Studio type curate knows, with a span's start, end or labels"),
    ],
)
def test_a_result_without_a_known_type_is_a_problem(tmp_path, result, reason):
    source = tasks(tmp_path / "in.jsonl", [result])
    with pytest.raises(ImportRefused) as refused:
        import_annotations(source, "labelstudio", tmp_path / "c", "x", add_snippets=True)
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith(f"{source}:1: bad result: {reason}")
    assert not (tmp_path / "c").exists()


def test_other_result_types_are_reported_as_not_imported_by_kind(tmp_path):
    span = {"type": "labels", "value": {"start": 0, "end": 5, "labels": ["GPE"]}}
    source = tasks(
        tmp_path / "in.jsonl",
        [span, {"type": "choices", "value": {"choices": ["news"]}}, {"type": "relation", "from_id": "a", "to_id": "b"}],
        [span, {"type": "choices", "value": {"choices": ["sport"]}}, {"type": "textarea", "value": {"text": ["a note"]}}],
    )
    report = import_annotations(source, "labelstudio", tmp_path / "c", "x", add_snippets=True)
    assert report.records == 2
    assert report.not_imported == {"Label Studio 'choices' results": 2, "Label Studio 'relation' results": 1, "Label Studio 'textarea' results": 1}
    result = CliRunner().invoke(app, ["import", str(source), "--format", "labelstudio", "--corpus", str(tmp_path / "d"), "--annotator", "x", "--add-snippets"])
    assert result.exit_code == 0, result.output
    assert "note: not imported (curate has no place for them): 2 Label Studio 'choices' results, 1 Label Studio 'relation' results, 1 Label Studio 'textarea' results" in result.stderr
