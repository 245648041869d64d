"""`curate dedup` over a damaged or foreign .curate/dedup.json: found again, never a traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from wire_corpus import build_wire_corpus

from curate.cli import app
from curate.store import CorpusLayout

runner = CliRunner()


def dedup(corpus_dir) -> dict:
    result = runner.invoke(app, ["dedup", str(corpus_dir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def wire(tmp_path_factory):
    corpus_dir = build_wire_corpus(tmp_path_factory.mktemp("wire"), gold=False)
    return corpus_dir, dedup(corpus_dir)


def damaged_same_key(cache: dict, change) -> dict:
    cache = json.loads(json.dumps(cache))
    change(cache["result"])
    return cache


@pytest.mark.parametrize(
    "content",
    [
        "[]",  # valid JSON but not an object: was an AttributeError traceback
        '"dedup"',
        "5",
        "null",
        "{not json",
        '{"key": {"version": 1}, "result": {"stories": 1, "clusters": []}}',  # an older version's cache
        "same key, clusters not a list",
        "same key, a member without its snippet id",
        "same key, a start that is text",
    ],
)
def test_a_damaged_or_old_cache_is_found_again_and_rewritten(wire, content) -> None:
    corpus_dir, fresh = wire
    cache_path = CorpusLayout(corpus_dir).dedup_cache
    good = json.loads(cache_path.read_text())
    changes = {
        "same key, clusters not a list": lambda result: result.update(clusters={"id": 1}),
        "same key, a member without its snippet id": lambda result: result["clusters"][0]["members"][0].pop("snippet_id"),
        "same key, a start that is text": lambda result: result["clusters"][0]["members"][0].update(start="0"),
    }
    cache_path.write_text(json.dumps(damaged_same_key(good, changes[content])) if content in changes else content)
    assert dedup(corpus_dir) == fresh
    assert json.loads(cache_path.read_text()) == good  # written anew, and used next time
    assert dedup(corpus_dir) == fresh
