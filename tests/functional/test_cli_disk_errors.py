"""Every command that writes, on a full disk or a read-only corpus: one `error:` line, a
non-zero exit, no traceback and no raw `[Errno N]`, and the corpus files as they were."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest
from disk_faults import FullDisk, ReadOnly, files_under
from export_fixtures import build_corpus
from typer.testing import CliRunner

from curate.cli import app
from curate.store import CorpusLayout

COMMANDS = {
    "ingest": "ingest {new} --corpus {corpus}",
    "suggest": "suggest {corpus} --entities none",
    "compact": "compact {corpus}",
    "gold": "gold {corpus}",
    "import": "import {imported} --format doccano --corpus {corpus} --annotator newguy",
    "export": "export {corpus} --out {work}/out --source alice --format jsonl",
    "agreement": "agreement {corpus} --report {work}/r.md",
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("pristine"), pages=4, gold=False)


def kept(corpus: Path) -> dict[str, int]:
    """The corpus's own files (the derived index and lock files under .curate/ aside)."""
    derived = CorpusLayout(corpus).index_dir.name
    return {name: size for name, size in files_under(corpus).items() if not name.startswith(derived + "/")}


@pytest.mark.parametrize("disk", [ReadOnly, FullDisk], ids=["read-only", "full"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_failed_write_is_one_error_line(pristine, tmp_path, monkeypatch, command, disk):
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(pristine, corpus)
    text = json.loads(CorpusLayout(corpus).snippets.read_text(encoding="utf-8").splitlines()[0])["text"]
    imported = tmp_path / "imported.jsonl"
    imported.write_text(json.dumps({"text": text, "label": [[0, 3, "PERSON"]]}) + "\n", encoding="utf-8")
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": "new-1", "text": "A new page about Kim in Moscow."}) + "\n", encoding="utf-8")
    before = kept(corpus)
    args = COMMANDS[command].format(corpus=corpus, imported=imported, new=new, work=tmp_path).split()
    disk(tmp_path, monkeypatch)
    result = CliRunner().invoke(app, args)
    monkeypatch.undo()
    assert isinstance(result.exception, SystemExit) and result.exit_code != 0, (result.exception, result.output)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    if command != "compact":  # compact names each journal it could not rewrite, then sums up
        assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and "[Errno" not in result.output, result.output
    assert kept(corpus) == before
