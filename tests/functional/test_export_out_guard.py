"""`curate export --out OUT --overwrite` replaces only an earlier export: never the corpus, a
folder inside it or holding it, and never a folder of the user's own files."""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import shutil
from pathlib import Path

import pytest
from export_fixtures import build_corpus
from typer.testing import CliRunner

from curate.cli import app
from curate.export import ExportError, export_corpus


def tree(root: Path) -> dict[str, bytes | None]:
    return {path.relative_to(root).as_posix(): (path.read_bytes() if path.is_file() else None) for path in sorted(root.rglob("*"))}


@pytest.fixture()
def work(tmp_path_factory) -> Path:
    """A folder `par` holding the corpus `par/ow` and a file of the user's own."""
    base = tmp_path_factory.mktemp("guard")
    par = base / "par"
    par.mkdir()
    build_corpus(par, pages=3, annotators=("alice",), gold=False)
    corpus = next(path.parent for path in par.rglob("corpus.toml"))
    corpus.rename(par / "ow")
    (par / "notes.txt").write_text("mine\n")
    return par


def run_export(corpus: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, ["export", str(corpus), "--out", str(out), "--source", "alice", "--format", "jsonl", *extra])


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("ow", "is the corpus folder"),
        ("ow/annotations", "is inside the corpus folder"),
        ("ow/new", "is inside the corpus folder"),
        (".", "holds the corpus folder"),
        ("link", "is the corpus folder"),
        ("link/annotations", "is inside the corpus folder"),
    ],
)
@pytest.mark.parametrize("overwrite", [True, False])
def test_an_out_that_is_inside_or_holds_the_corpus_is_refused_before_anything_is_written(work, out, says, overwrite):
    (work.parent / "link").symlink_to(work / "ow")
    target = work.parent / "par" / out if out != "link" and not out.startswith("link") else work.parent / out
    if out == ".":
        target = work
    before = tree(work)
    result = run_export(work / "ow", target, *(["--overwrite"] if overwrite else []))
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert tree(work) == before
    assert sorted(os.listdir(work.parent)) == ["link", "par"]


def test_the_corpus_given_as_a_relative_path_is_still_recognised(work, monkeypatch):
    monkeypatch.chdir(work)
    with pytest.raises(ExportError, match="is the corpus folder"):
        export_corpus(Path("ow"), Path("./ow/../ow"), source="alice", fmt="jsonl", overwrite=True)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ({"corpus.toml": "x"}, "holds corpus.toml (a curate corpus)"),
        ({".git/HEAD": "ref"}, "holds .git (a git repository)"),
        ({"thesis.tex": "x", "photos/a.jpg": "x"}, "'photos', 'thesis.tex', which no curate export writes"),
        ({"README.md": "mine", "data/notes.txt": "x"}, "'data'"),
    ],
)
def test_overwrite_refuses_a_folder_that_is_not_an_earlier_export(work, tmp_path, content, says):
    home = tmp_path / "home"
    for name, text in content.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    before = tree(home)
    result = run_export(work / "ow", home, "--overwrite")
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "--overwrite would delete it" in lines[0], result.stderr
    assert tree(home) == before


def test_overwrite_refuses_a_file(work, tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("keep me")
    result = run_export(work / "ow", mine, "--overwrite")
    assert result.exit_code == 1 and "is a file" in result.stderr
    assert mine.read_text() == "keep me"


@pytest.mark.parametrize(("first", "second"), [("jsonl", "hf"), ("hf", "conll"), ("spacy", "labelstudio"), ("conll", "conll")])
def test_overwrite_still_replaces_an_earlier_export_of_any_format(work, tmp_path, first, second):
    out = tmp_path / "out"
    export_corpus(work / "ow", out, source="alice", fmt=first)
    report = export_corpus(work / "ow", out, source="alice", fmt=second, overwrite=True)
    assert sorted(report.files) == sorted(path for path in out.rglob("*") if path.is_file())
    shutil.rmtree(out)
