"""ParsedTexts' cache: the next fit parses only new texts; a damaged or foreign cache counts as none; a cache that cannot be written does not stop a fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from disk_faults import FullDisk, ReadOnly, files_under

from curate.suggest import tagger as tagger_module
from curate.suggest.tagger import ParsedTexts, pipeline_name
from curate.text import TextModel


class _Token:
    def __init__(self, idx: int, tag: str) -> None:
        self.idx, self.tag_ = idx, tag


class _Ent:
    def __init__(self, start: int, end: int, label: str) -> None:
        self.start_char, self.end_char, self.label_ = start, end, label


class _Doc:
    def __init__(self, text: str) -> None:
        position, self.tokens, self.ents = 0, [], []
        for word in text.split():
            position = text.index(word, position)
            self.tokens.append(_Token(position, "NNP" if word[:1].isupper() else "NN"))
            if word[:1].isupper():
                self.ents.append(_Ent(position, position + len(word), "ORG"))
            position += len(word)

    def __iter__(self):
        return iter(self.tokens)


class _CountingPipeline:
    def __init__(self, name: str = "fake") -> None:
        self.parsed: list[str] = []
        self.meta = {"lang": "en", "name": name, "version": "1.0"}
        self.pipe_names = ["tagger", "ner"]

    def pipe(self, texts, batch_size=256):
        for text in texts:
            self.parsed.append(text)
            yield _Doc(text)


TEXTS = ["Ajax won\nthe cup", "PSV lost to Feyenoord", "The market in Paris was quiet"]


def _models(texts=TEXTS) -> list[TextModel]:
    return [TextModel(text) for text in texts]


def _parse(cache: Path, pipeline: _CountingPipeline, texts=TEXTS):
    return ParsedTexts(pipeline, cache, pipeline_name(pipeline))(_models(texts))


def test_a_second_fit_parses_only_the_new_texts_and_gets_what_parsing_gives(tmp_path: Path) -> None:
    cache = tmp_path / ".curate" / "parses.json"
    first_pipeline = _CountingPipeline()
    first = _parse(cache, first_pipeline, TEXTS[:2])
    assert first == tagger_module.model_output(_CountingPipeline(), _models(TEXTS[:2]))
    assert cache.exists()
    second_pipeline = _CountingPipeline()
    second = _parse(cache, second_pipeline)
    assert second_pipeline.parsed == [TEXTS[2]]  # the first two came from the cache
    assert second == tagger_module.model_output(_CountingPipeline(), _models())
    third_pipeline = _CountingPipeline()
    assert _parse(cache, third_pipeline) == second
    assert third_pipeline.parsed == []


def test_another_pipeline_parses_again(tmp_path: Path) -> None:
    cache = tmp_path / "parses.json"
    _parse(cache, _CountingPipeline("one"))
    other = _CountingPipeline("two")
    _parse(cache, other)
    assert len(other.parsed) == 4  # every paragraph of every text
    assert json.loads(cache.read_text())["pipeline"] == pipeline_name(other)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff not json",
        b'{"format": 1, "pipel',
        b"[1, 2, 3]",
        "wrong tags",
        "wrong format",
    ],
)
def test_a_damaged_cache_counts_as_none_and_is_rewritten(tmp_path: Path, content) -> None:
    cache = tmp_path / "parses.json"
    _parse(cache, _CountingPipeline())
    if content == "wrong tags":  # an entry whose tags do not fit the text's tokens
        stored = json.loads(cache.read_text())
        for entry in stored["texts"].values():
            entry[1] = entry[1][:-1]
        content = json.dumps(stored).encode()
    elif content == "wrong format":
        stored = json.loads(cache.read_text())
        stored["format"] = tagger_module.PARSE_CACHE_FORMAT + 1
        content = json.dumps(stored).encode()
    cache.write_bytes(content)
    pipeline = _CountingPipeline()
    assert _parse(cache, pipeline) == tagger_module.model_output(_CountingPipeline(), _models())
    assert len(pipeline.parsed) == 4
    again = _CountingPipeline()
    _parse(cache, again)
    assert again.parsed == []


@pytest.mark.parametrize("fault", [FullDisk, ReadOnly])
def test_a_cache_that_cannot_be_written_leaves_the_fit_its_parses_and_no_file(tmp_path: Path, monkeypatch, fault) -> None:
    folder = tmp_path / ".curate"
    folder.mkdir()
    before = files_under(tmp_path)
    fault(folder, monkeypatch)
    assert _parse(folder / "parses.json", _CountingPipeline()) == tagger_module.model_output(_CountingPipeline(), _models())
    monkeypatch.undo()
    assert files_under(tmp_path) == before
