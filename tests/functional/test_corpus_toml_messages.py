"""corpus.toml problems: the line of the bad key where a plain scan finds it, label names and
keys explained in words (not a regular expression), and split names the Hub can load."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from export_fixtures import build_corpus
from typer.testing import CliRunner

from curate.cli import app
from curate.export import ExportError, export_corpus
from curate.model import CorpusConfig, split_name_problem
from curate.store import StoreError, read_config

DEMO = Path(__file__).resolve().parents[2] / "corpora" / "demo"


def corpus_with(tmp_path: Path, old: str, new: str) -> Path:
    corpus = tmp_path / "c"
    shutil.copytree(DEMO, corpus)
    config = corpus / "corpus.toml"
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    return corpus


def line_of(corpus: Path, fragment: str) -> int:
    return next(number for number, line in enumerate((corpus / "corpus.toml").read_text(encoding="utf-8").splitlines(), start=1) if fragment in line)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ('name = "GPE"', 'name = "3GPE"', "labels.2.name: label name '3GPE' is not allowed: use a letter first, then letters, digits, '_' or '-' (at most 64)"),
        ('key = "4"', 'key = "0"', "labels.3.key: key '0' is not allowed: a label's key is one digit from 1 to 9"),
        ("\nvalidation = 0.1", '\n"validation." = 0.1', "splits: 'validation.' is not allowed as a split name: a split name the Hub accepts is letters, digits and '_' (a '.' only between them)"),
        ("\ntest = 0.1", '\n"a..b" = 0.1', "splits: 'a..b' is not allowed as a split name"),
        ("\ntest = 0.1", '\n"dev-set" = 0.1', "splits: 'dev-set' is not allowed as a split name"),
        ("overlap = 2", 'overlap = "two"', "overlap: Input should be a valid integer"),
    ],
)
def test_a_bad_key_is_reported_on_its_line_in_words(tmp_path, old, new, reason):
    corpus = corpus_with(tmp_path, old, new)
    result = CliRunner().invoke(app, ["stats", str(corpus)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {corpus / 'corpus.toml'}:{line_of(corpus, new.strip())}: {reason}"), lines[0]
    assert "pattern" not in lines[0] and "^[" not in lines[0]


def test_the_line_is_found_in_a_table_array_too(tmp_path):
    corpus = tmp_path / "c"
    shutil.copytree(DEMO, corpus)
    config = corpus / "corpus.toml"
    text = config.read_text(encoding="utf-8")
    inline = re.search(r"labels = \[\n(.*?)\n\]\n", text, re.S)
    tables = "".join(f"\n[[labels]]\n{entry.strip().strip('{},').strip().replace(', ', chr(10))}\n" for entry in inline.group(1).splitlines())
    config.write_text(text.replace(inline.group(0), "") + tables.replace('name = "ORG"', 'name = "O R G"'), encoding="utf-8")
    with pytest.raises(StoreError) as raised:
        read_config(corpus)
    assert str(raised.value).startswith(f"{config}:{line_of(corpus, 'O R G')}: labels.1.name: label name 'O R G' is not allowed")


def test_no_line_when_the_scan_cannot_tell(tmp_path):
    corpus = corpus_with(tmp_path, 'name = "demo"\n', "")
    with pytest.raises(StoreError) as raised:
        read_config(corpus)
    assert str(raised.value).startswith(f"{corpus / 'corpus.toml'}: name: Field required")


@pytest.mark.parametrize("name", ["train", "validation", "test_2", "a.b", "dev2"])
def test_hub_split_names_are_taken(name):
    assert split_name_problem(name) is None
    CorpusConfig(name="x", labels=[{"name": "A", "key": "1", "colour": "red"}], splits={name: 1.0})


@pytest.mark.parametrize("name", ["train.", "a..b", ".a", "a-b", "a b"])
def test_split_names_the_hub_cannot_load_are_refused_by_export_too(tmp_path, name):
    assert split_name_problem(name) is not None
    corpus = build_corpus(tmp_path, pages=3, annotators=("alice",), gold=False)
    with pytest.raises(ExportError, match="not allowed as a"):
        export_corpus(corpus, tmp_path / "out", source="alice", splits={name: 1.0})
    assert not (tmp_path / "out").exists()
