"""The same text twice in one import file: an exact repeat is merged (and counted), a repeat
with different annotations is a `file:line:` problem naming the earlier line, refused unless
--skip-invalid, which keeps the first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.importing import ImportRefused, import_annotations
from curate.store import Corpus

WNUT_DEV = Path("/work/shared/bench/interop/conll/wnut17-emerging.dev.conll")
CONLL_DEV = Path("/work/shared/bench/interop/conll/conll2003-eng.testa")


def doccano(path: Path, rows: list[tuple[str, list]]) -> Path:
    path.write_text("".join(json.dumps({"text": text, "label": labels}) + "\n" for text, labels in rows), encoding="utf-8")
    return path


def test_a_conflicting_repeat_is_refused_with_both_lines(tmp_path):
    source = doccano(tmp_path / "in.jsonl", [("Kim met Lee.", [[0, 3, "PERSON"]]), ("Other text.", []), ("Kim met Lee.", [[0, 3, "ORG"]])])
    with pytest.raises(ImportRefused) as refused:
        import_annotations(source, "doccano", tmp_path / "c", "x", add_snippets=True)
    assert refused.value.problems == [
        f"{source}:3: same text as line 1 with different annotations (different entities: 'Kim' ORG here, 'Kim' PERSON on line 1); --skip-invalid keeps line 1's"
    ]
    assert not (tmp_path / "c").exists()


def test_skip_invalid_keeps_the_first_and_an_exact_repeat_is_merged(tmp_path):
    source = doccano(
        tmp_path / "in.jsonl",
        [("Kim met Lee.", [[0, 3, "PERSON"]]), ("Kim met Lee.", [[0, 3, "ORG"]]), ("Rain in Oslo.", [[8, 12, "GPE"]]), ("Rain in Oslo.", [[8, 12, "GPE"]])],
    )
    report = import_annotations(source, "doccano", tmp_path / "c", "x", add_snippets=True, skip_invalid=True)
    assert report.records == 2 and report.duplicates == 1
    assert report.skipped == [f"{source}:2: same text as line 1 with different annotations (different entities: 'Kim' ORG here, 'Kim' PERSON on line 1); line 1's is kept"]
    with Corpus.open(tmp_path / "c") as corpus:
        kept = {corpus.snippet_by_id(record.snippet_id).text: [entity.label for entity in record.entities] for record in corpus.journal("x").records()}
    assert kept == {"Kim met Lee.": ["PERSON"], "Rain in Oslo.": ["GPE"]}


def test_wnut17_dev_names_the_kishan_conflict(tmp_path):
    result = CliRunner().invoke(app, ["import", str(WNUT_DEV), "--format", "conll", "--corpus", str(tmp_path / "c"), "--annotator", "x", "--add-snippets"])
    assert result.exit_code == 1
    problems = [line for line in result.stderr.splitlines() if "same text as" in line]
    assert problems == [f"{WNUT_DEV}:15421: same text as line 3243 with different annotations (different entities: 'Kishan' location here, 'Kishan' person on line 3243); --skip-invalid keeps line 3243's"]
    assert not (tmp_path / "c").exists()


def test_conll2003_per_sentence_merges_exact_repeats_and_counts_them(tmp_path):
    result = CliRunner().invoke(
        app, ["import", str(CONLL_DEV), "--format", "conll", "--corpus", str(tmp_path / "c"), "--annotator", "x", "--add-snippets", "--doc-per", "sentence", "--skip-invalid"]
    )
    assert result.exit_code == 0, result.output
    assert "note: 179 record(s) repeated an earlier record of the file exactly" in result.stderr
    assert "same text as line 29617 with different annotations (different entities: 'BIRMINGHAM' ORG here, 'BIRMINGHAM' LOC on line 29617)" in result.stderr
    with Corpus.open(tmp_path / "c") as corpus:
        assert len(corpus) == corpus.journal("x").counts()["done"] == 3070
