"""Small CLI defects: the import argument's name in help and errors, and `agreement --report`
into a folder that does not exist."""

from __future__ import annotations

import typer.main
from export_fixtures import build_corpus
from typer.testing import CliRunner

from curate.cli import app

runner = CliRunner()


def test_every_argument_is_named_in_capitals_in_help_and_errors():
    for name, command in typer.main.get_command(app).commands.items():
        for parameter in command.params:
            if parameter.param_type_name != "argument":
                continue
            shown = parameter.metavar or ""
            assert shown and shown == shown.upper(), (name, parameter.name, shown)
    result = runner.invoke(app, ["import"])
    assert result.exit_code == 2 and "Missing argument 'FILE'" in result.output
    help_text = runner.invoke(app, ["import", "--help"], env={"COLUMNS": "200"}).output
    assert "│ *    FILE " in help_text and "│ *    file " not in help_text


def test_agreement_report_into_a_missing_folder_is_refused_and_makes_no_folder(tmp_path):
    corpus = build_corpus(tmp_path, pages=3, gold=False)
    missing = tmp_path / "nonexistent" / "dir"
    result = runner.invoke(app, ["agreement", str(corpus), "--report", str(missing / "r.md")])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: --report {missing / 'r.md'}: there is no folder {missing}; make it first (curate writes only the report there)"
    assert not (tmp_path / "nonexistent").exists()
    result = runner.invoke(app, ["agreement", str(corpus), "--report", str(tmp_path / "r.md")])
    assert result.exit_code == 0 and (tmp_path / "r.md").exists()
