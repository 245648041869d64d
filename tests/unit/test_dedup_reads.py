"""The export's and dedup's read of a snippets.jsonl line (`read_snippet`, msgspec) gives what `Snippet` gives,
and leaves every line it is not sure of to `Snippet` (which raises what it raises)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from curate.export.rows import read_snippet
from curate.model import Snippet


class Lines:
    """A stand-in corpus: its lines, and `snippet` as `Corpus.snippet` reads one."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def _line(self, position: int) -> bytes:
        return self.lines[position]

    def snippet(self, position: int) -> Snippet:
        return Snippet.model_validate_json(self.lines[position])


GOOD = [
    json.dumps({"id": "a", "text": "Plain text.\nTwo lines.", "meta": {"url": "http://x", "n": [1, 2.5, None]}}).encode(),
    json.dumps({"id": "b", "text": "é “quoted” 中文 😀 \u0007 tab\t"}, ensure_ascii=True).encode(),  # \u escapes, a pair among them
    json.dumps({"id": "c", "text": "é “quoted” 中文 😀"}, ensure_ascii=False).encode(),
    b'{"text": "order\\\\ and \\"quotes\\"", "id": "d"}\n',
]
BAD = [
    b'{"id": "a", "text": "lone \\ud800 surrogate"}',
    b'{"id": "a", "text": "   \\n "}',  # blank
    b'{"id": "", "text": "x"}',
    b'{"id": "a", "text": "x", "extra": 1}',
    b'{"id": 3, "text": "x"}',
    b'{"id": "a", "text": "x", "meta": []}',
    b'{"id": "a"',
]


@pytest.mark.parametrize("line", GOOD)
def test_a_line_snippet_accepts_reads_the_same(line):
    read = read_snippet(Lines([line]), 0)
    expected = Snippet.model_validate_json(line)
    assert (read.id, read.text) == (expected.id, expected.text)


@pytest.mark.parametrize("line", BAD)
def test_a_line_snippet_refuses_raises_its_error(line):
    with pytest.raises(ValidationError):
        read_snippet(Lines([line]), 0)
