"""The format registry is the one list of interchange formats: the modules, the CLI and both services follow it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate import formats
from curate.cli import app
from curate.export import export_corpus
from curate.formats.base import Writer
from curate.importing import import_annotations
from curate.labels import parse_label_map
from curate.store import StoreError
from curate.suggest.entities import parse_label_map as parse_model_label_map

FORMATS_DIR = Path(formats.__file__).parent
NOT_FORMATS = {"__init__", "base", "interchange"}  # the registry, the contract, the shared helpers


def _flat(text: str) -> str:
    """Help text without the box and without whitespace, so wrapping cannot split what is compared."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", text)


def test_every_module_in_formats_is_registered_and_loads_what_it_says():
    modules = {path.stem for path in FORMATS_DIR.glob("*.py")} - NOT_FORMATS
    assert modules == {entry.module.rsplit(".", 1)[1] for entry in formats.FORMATS}
    assert len(formats.BY_NAME) == len(formats.FORMATS)  # no name twice
    for entry in formats.FORMATS:
        module = entry.load()
        assert module.__name__ == entry.module
        assert entry.writes == hasattr(module, "Writer"), entry.name
        assert entry.reads == hasattr(module, "read"), entry.name
        if entry.writes:
            assert issubclass(module.Writer, Writer), entry.name


def test_no_format_is_found_by_building_a_module_name():
    package = FORMATS_DIR.parent
    for path in [*FORMATS_DIR.glob("*.py"), *(package / "export").glob("*.py"), package / "importing.py", package / "cli.py"]:
        assert "import_module(" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(("command", "names"), [("export", formats.EXPORT_FORMATS), ("import", formats.IMPORT_FORMATS)])
def test_cli_format_help_lists_every_registered_format(command, names):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert _flat(formats.format_help(names)) in _flat(result.output)
    for entry in formats.FORMATS:
        listed = _flat(f"{entry.name} ({entry.summary})") in _flat(result.output)
        assert listed == (entry.writes if command == "export" else entry.reads), (command, entry.name)
    assert "labelstudio" in names and ("brat" in names) == (command == "import")


def test_an_unregistered_format_is_refused_with_the_registered_ones(tmp_path):
    with pytest.raises(StoreError, match=re.escape(f"choose one of {', '.join(formats.EXPORT_FORMATS)}")):
        export_corpus(tmp_path / "none", tmp_path / "out", fmt="brat")
    source = tmp_path / "a.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    with pytest.raises(StoreError, match=re.escape(f"choose one of {', '.join(formats.IMPORT_FORMATS)}")):
        import_annotations(source, "hf", tmp_path / "corpus", "ann")


def test_heavy_libraries_wait_until_a_format_is_used():
    code = (
        "import sys, curate.cli, curate.formats, curate.export, curate.importing\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('datasets', 'pyarrow', 'spacy')))\n"
        "curate.formats.BY_NAME['hf'].load()\n"
        "print('datasets' in sys.modules and 'pyarrow' in sys.modules)\n"
    )
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines == ["[]", "True"]


def test_one_label_map_parser_refuses_what_either_copy_refused():
    assert parse_label_map(" PER=PERSON, ,LOC=GPE") == {"PER": "PERSON", "LOC": "GPE"}
    for bad in ("PER", "=PERSON", "PER=", " = "):
        with pytest.raises(ValueError, match="--map-labels: .* is not FROM=TO"):
            parse_label_map(bad)
    # suggest's --label-map drops a model label mapped to nothing, but a mapping from nothing is refused too now
    assert parse_model_label_map("DATE=,GPE=LOC") == {"DATE": "", "GPE": "LOC"}
    for bad in ("PERSON", "=PER"):
        with pytest.raises(ValueError, match="--label-map: .* is not MODEL=CORPUS"):
            parse_model_label_map(bad)
