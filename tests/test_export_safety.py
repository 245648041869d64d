"""Export never writes outside OUT, survives a kill at any step, and a full disk changes nothing."""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import importlib
from pathlib import Path

import pytest
from export_fixtures import build_corpus
from typer.testing import CliRunner

from curate.cli import app
from curate.export import EXPORT_FORMATS, ExportError, export_corpus, safe_child
from curate.export.context import ExportContext
from curate.export.rows import source_records, story_rows
from curate.store import Corpus, read_config


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("safety"), pages=6, annotators=("alice",), gold=False)


def hostile_names(root: Path) -> list[str]:
    """A name climbing out, an absolute path (inside the test's folder, so a write would be seen) and one climbing through a subfolder."""
    return ["../victim", str(root / "abs" / "victim"), "a/../../b"]


def tree(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


# ---------------------------------------------------------------- names that escape OUT


@pytest.mark.parametrize("name", ["", " ", ".", "..", "../x", "a/b", "a\\b", "/etc/passwd", "x\x00y", "tab\there"])
def test_safe_child_refuses_names_that_are_not_one_file_name(tmp_path, name):
    with pytest.raises(ExportError, match="cannot be a file name"):
        safe_child(tmp_path, name, ".jsonl")


def test_safe_child_refuses_a_symlink_that_leads_out(tmp_path):
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "train.jsonl").symlink_to(tmp_path / "victim.jsonl")
    with pytest.raises(ExportError, match="outside"):
        safe_child(tmp_path / "inside", "train", ".jsonl")
    assert safe_child(tmp_path / "inside", "test", ".jsonl") == tmp_path / "inside" / "test.jsonl"


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_writer_refuses_a_split_name_that_leaves_its_folder(corpus_dir, tmp_path, fmt):
    """Each format's writer on its own (without export_corpus's early check) refuses the hostile names."""
    with Corpus.open(corpus_dir) as corpus:
        pairs = list(source_records(corpus, "alice"))
        config = read_config(corpus_dir)
        for index, name in enumerate(hostile_names(tmp_path)):
            folder = tmp_path / f"work{index}" / "out"
            folder.mkdir(parents=True)
            context = ExportContext(config, corpus_dir, "alice", {"train": 0.5, name: 0.5})
            writer = importlib.import_module(f"curate.export.{fmt}").Writer(folder, context)
            with pytest.raises(ExportError, match="split name"):
                for snippet, record in pairs:
                    writer.add(name, snippet, record, story_rows(snippet, record))
                writer.finish()
            assert tree(tmp_path / f"work{index}") <= {"out"} | {f"out/{path}" for path in tree(folder)}
            assert not (tmp_path / "abs").exists()
            assert not (tmp_path / "victim").exists() and not list(tmp_path.glob("victim*")) and not list(tmp_path.glob("b*"))


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_refuses_hostile_split_names_and_writes_nothing(corpus_dir, tmp_path, fmt):
    for name in hostile_names(tmp_path):
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        with pytest.raises(ExportError, match="cannot be a file name"):
            export_corpus(corpus_dir, work / "out", source="alice", fmt=fmt, splits={"train": 0.5, name: 0.5})
        assert tree(tmp_path) == {"work"}, name


def write_hostile_splits(corpus_dir: Path, target: Path, name: str) -> Path:
    """A copy of the corpus whose corpus.toml names a hostile split."""
    import shutil

    copy = target / "corpus"
    shutil.copytree(corpus_dir, copy, ignore=shutil.ignore_patterns(".curate"))
    config = copy / "corpus.toml"
    text = config.read_text(encoding="utf-8")
    head, _, _ = text.partition("[splits]")
    escaped = name.replace("\\", "\\\\")
    config.write_text(f'{head}[splits]\ntrain = 0.5\n"{escaped}" = 0.5\n', encoding="utf-8")
    return copy


@pytest.mark.parametrize("fmt", ["jsonl", "conll", "spacy", "hf"])
def test_cli_export_with_hostile_splits_in_corpus_toml_fails_in_one_line(corpus_dir, tmp_path, fmt):
    runner = CliRunner()
    for index, name in enumerate(hostile_names(tmp_path)):
        root = tmp_path / f"case{index}"
        (root / "work").mkdir(parents=True)
        copy = write_hostile_splits(corpus_dir, root, name)
        result = runner.invoke(app, ["export", str(copy), "--out", str(root / "work" / "out"), "--source", "alice", "--format", fmt])
        assert result.exit_code != 0, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and "corpus.toml" in lines[0], result.stderr
        assert tree(root / "work") == set(), name
        assert not (tmp_path / "abs").exists()
        assert not list(root.glob("victim*")) and not list(root.glob("b.*"))
