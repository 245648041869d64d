"""Attacks on the export's fast reads (curate/export/rows.py): `read_snippet` must give the id
and text `Snippet.model_validate_json` gives (or its error), and a GoldSource's memo of the
lines an earlier read checked (`sure`) must never let a later read decode unchecked bytes (gold
rewritten between dedup's read and the rows')."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from curate.export import rows
from curate.export.rows import GoldSource
from curate.ingest import ingest
from curate.model import Snippet
from curate.store import Corpus, CorpusLayout


def gold_line(snippet_id: str, cut: int, length: int, status: str = "done") -> str:
    stories = [{"start": 0, "end": cut}, {"start": cut, "end": length}] if cut else [{"start": 0, "end": length}]
    return json.dumps({"snippet_id": snippet_id, "annotator": "gold", "stories": stories, "status": status, "sources": ["a"], "adjudicator": "c"})


@pytest.fixture
def folder(tmp_path):
    texts = {f"p{number}": f"Line one of page {number}.\nLine two of page {number}.\n" for number in range(6)}
    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    folder = tmp_path / "corpus"
    ingest([source], folder)
    lines = [gold_line(key, 27, len(text)) for key, text in texts.items()]
    CorpusLayout(folder).gold.write_text("\n".join(lines) + "\n")
    return folder


def broken(line: bytes) -> bytes:
    """The same length, but the second story no longer starts where the first ends (no model accepts it)."""
    new = line.replace(b'{"start": 27, "end"', b'{"start": 28, "end"')
    assert len(new) == len(line) and new != line
    return new


def rewrite_in_place_keeping_times(path, number):
    """Another tool rewrites line `number` in place keeping the file's size, inode and
    modification time (as `cp -p` or `rsync --inplace -t` onto it would)."""
    stat = path.stat()
    lines = path.read_bytes().splitlines(keepends=True)
    lines[number] = broken(lines[number])
    with path.open("r+b") as handle:
        handle.write(b"".join(lines))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def replace_atomically(path, number):
    """Another process replaces gold.jsonl (a new file renamed over it) with line `number` changed."""
    lines = path.read_bytes().splitlines(keepends=True)
    lines[number] = broken(lines[number])
    temporary = path.with_name(path.name + ".new")
    temporary.write_bytes(b"".join(lines))
    os.replace(temporary, path)


def read(source):
    return [(position, snippet.id, record) for position, snippet, record in source.pairs()]


@pytest.mark.parametrize("change", [rewrite_in_place_keeping_times, replace_atomically])
def test_a_second_read_never_decodes_unchecked_lines_of_a_changed_gold_file(folder, change):
    path = CorpusLayout(folder).gold
    with Corpus.open(folder) as corpus:
        shared = GoldSource(corpus)
        first = read(shared)  # dedup's read: every line checked and remembered
        assert [position for position, _, _ in first] == list(range(6))
        change(path, 2)
        second = read(shared)  # the rows' read
    with Corpus.open(folder) as corpus:
        fresh = read(GoldSource(corpus))
    assert 2 not in [position for position, _, _ in fresh]  # p2's only line is no record now
    assert all(record.stories[1].start == record.stories[0].end for _, _, record in second)
    assert second == fresh


def exported(folder, out):
    from curate.export import export_corpus

    rows._gold_source = None  # as a new process starts
    export_corpus(folder, out, fmt="jsonl", splits={"train": 1.0})
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file() and path.suffix == ".jsonl"}


def test_an_export_whose_gold_is_rewritten_after_dedup_read_it_writes_no_row_from_an_unchecked_line(folder, tmp_path, monkeypatch):
    import curate.export as export

    path = CorpusLayout(folder).gold
    real = export._twin_groups

    def dedup_then_rewrite(corpus, context):
        found = real(corpus, context)
        rewrite_in_place_keeping_times(path, 2)  # between dedup's read of gold and the rows'
        return found

    monkeypatch.setattr(export, "_twin_groups", dedup_then_rewrite)
    written = exported(folder, tmp_path / "out")
    monkeypatch.setattr(export, "_twin_groups", real)
    assert written == exported(folder, tmp_path / "again")


# ---------------------------------------------------------------- read_snippet and Snippet


class _OneLine:
    """A corpus of one snippet line, as read_snippet reads a corpus (its `_line` and `snippet`)."""

    def __init__(self, line: bytes) -> None:
        self.line = line

    def _line(self, position: int) -> bytes:
        return self.line

    def snippet(self, position: int):
        return Snippet.model_validate_json(self.line)


def outcome(read, line: bytes):
    """("ok", id, text), or ("refused",) for a ValidationError; any other exception propagates."""
    try:
        snippet = read(line)
    except ValidationError:
        return ("refused",)
    return ("ok", snippet.id, snippet.text)


def same_as_the_model(line: bytes) -> None:
    assert outcome(lambda raw: rows.read_snippet(_OneLine(raw), 0), line) == outcome(Snippet.model_validate_json, line), line[:80]


def nested(depth: int, opening: bytes = b"[", closing: bytes = b"]") -> bytes:
    return b'{"id":"a","text":"x","meta":{"k":' + opening * depth + closing * depth + b"}}\n"


@pytest.mark.parametrize("depth", [150, 198, 199, 200, 201, 250, 5000])
def test_meta_nested_deeper_than_the_model_reads_is_refused_as_the_model_refuses_it(depth):
    # pydantic's JSON parser stops at a depth of about 200 (json_invalid, recursion limit);
    # msgspec read 200 to ~1000 levels as a snippet, and raised RecursionError past that.
    same_as_the_model(nested(depth))
    same_as_the_model(nested(depth, b'{"k":', b"}").replace(b'{"k":}', b'{"k":1}'))


ODD_LINES = [
    b'{"id":"a","text":"x"}\r\n',
    b'\xef\xbb\xbf{"id":"a","text":"x"}\n',
    b'{"id":"a","text":"x","id":"b"}\n',
    b'{"id":5,"id":"a","text":"x"}\n',
    b'{"\\u0069d":"a","text":"x"}\n',
    b'{"id":"a","text":"\\ud800"}\n',
    b'{"id":"\\udc00","text":"x"}\n',
    b'{"id":"a","text":"x","meta":{"k":"\\ud800"}}\n',
    b'{"id":"a","text":"x","meta":{"\\ud800":1}}\n',
    b'{"id":"a","text":"\\ud83d\\ude00"}\n',
    b'{"id":"a","text":"x","meta":{"k":1e400}}\n',
    b'{"id":"a","text":"x","meta":{"k":123456789012345678901234567890}}\n',
    b'{"id":"a","text":"x","meta":{"k":NaN}}\n',
    b'{"id":"a","text":"x","meta":{"k":Infinity}}\n',
    b'{"id":"a","text":"x","meta":null}\n',
    b'{"id":"a","text":"x","meta":{"a":1},"meta":5}\n',
    b'{"id":"a","text":"\xff"}\n',
    b'{"id":"a","text":"a\x01b"}\n',
    b'{"id":"a","text":"\\u2028 "}\n',
    b'{"id":"a","text":"\\u0085\\u200b"}\n',
    b'{"id":"a","text":"x","text":" "}\n',
    b'{"id":"a","text":" ","text":"x"}\n',
    b'{"id":"a","text":"x"} x\n',
    b'{"id":"a","text":"x",}\n',
    b'{"id":"a","text":"x","extra":1}\n',
    b'{"id":"a","text":"x"\x0c}\n',
    b"\n",
    b"[]\n",
    b'{"id":"a","text":"x","meta":{"k":' + b"9" * 4300 + b"}}\n",  # Python's int digit limit
    b'{"id":"a","text":"x","meta":{"k":' + b"9" * 4301 + b"}}\n",
    b'{"id":"a","text":"x","meta":{"k":1e99999999999999999999}}\n',
    b'{"id":"a","text":"x","meta":{"k":0.' + b"1" * 5000 + b"}}\n",
    b'{"id":"a","text":"x","meta":{"k":+5,"j":.5}}\n',
]


@pytest.mark.parametrize("line", ODD_LINES)
def test_odd_snippet_lines_read_as_the_model_reads_them(line):
    same_as_the_model(line)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    snippet_id=st.text(max_size=4), text=st.text(max_size=6), meta=st.none() | _json_values,
    ascii_only=st.booleans(), spaces=st.sampled_from(["", " ", "\t", "\r"]), ending=st.sampled_from(["\n", "\r\n", ""]),
    repeat_key=st.sampled_from([None, "id", "text", "meta"]),
)
def test_generated_snippet_lines_read_as_the_model_reads_them(snippet_id, text, meta, ascii_only, spaces, ending, repeat_key):
    fields = [("id", snippet_id), ("text", text)] + ([] if meta is None else [("meta", meta)])
    if repeat_key is not None:
        fields.insert(0, (repeat_key, {"id": 1, "text": "", "meta": []}[repeat_key]))
    body = ",".join(f"{spaces}{json.dumps(key)}{spaces}:{spaces}{json.dumps(value, ensure_ascii=ascii_only)}" for key, value in fields)
    same_as_the_model(("{" + body + spaces + "}" + ending).encode("utf-8", "surrogatepass"))


class _Lines:
    """Just what Corpus.snippet reads of a corpus: its length and a line per position."""

    def __init__(self, *lines: bytes) -> None:
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def _line(self, position: int) -> bytes:
        return self.lines[position]


@pytest.mark.parametrize("depth", [199, 200, 300, 900])
def test_a_snippet_ingest_took_with_meta_nested_past_pydantics_json_limit_is_read_and_exported(tmp_path, depth):
    # The contract lets meta hold any JSON; ingest and `curate validate` read lines with Python's
    # json. Corpus.snippet (pydantic's JSON parser, 200 levels) refused such a snippet: the
    # export, annotating and every read of it failed on a corpus curate made itself.
    from curate.export import export_corpus

    meta = {"k": json.loads("[" * depth + "]" * depth)}
    source = tmp_path / "in.jsonl"
    texts = {"a": "Line one of page a.\nLine two of page a.\n", "b": "Other page.\n"}
    source.write_text(json.dumps({"id": "a", "text": texts["a"], "meta": meta}) + "\n" + json.dumps({"id": "b", "text": texts["b"]}) + "\n")
    folder = tmp_path / "corpus"
    ingest([source], folder)
    CorpusLayout(folder).gold.write_text(gold_line("a", 20, len(texts["a"])) + "\n")
    with Corpus.open(folder) as corpus:
        snippet = corpus.snippet(0)
        assert (snippet.id, snippet.text, snippet.meta) == ("a", texts["a"], meta)
        fast = rows.read_snippet(corpus, 0)
        assert (fast.id, fast.text) == ("a", texts["a"])
    rows._gold_source = None
    export_corpus(folder, tmp_path / "out", fmt="jsonl", splits={"train": 1.0})
    written = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert [row["id"] for row in written] == ["a"] and written[0]["text"] == texts["a"]


def test_a_snippet_line_the_model_refuses_for_more_than_its_depth_is_still_refused():
    from curate.store.corpus import Corpus as CorpusClass

    deep = nested(300)
    assert CorpusClass.snippet(_Lines(deep), 0).meta["k"][0][0]
    for line in (
        nested(300).replace(b'"k":', b'"k":"\\ud800","j":'),  # a lone surrogate: the JSON parser refuses it too
        nested(300).replace(b'"text":"x"', b'"text":" "'),  # a blank text
        nested(300).replace(b'"id":"a",', b""),  # no id
        nested(300).replace(b'"text":"x"', b'"text":"x","colour":1'),  # an unknown field
        nested(5000),  # past what Python's json reads too: the model's own error, not a RecursionError
    ):
        with pytest.raises(ValidationError):
            CorpusClass.snippet(_Lines(line), 0)


def test_ingest_refuses_a_line_nested_past_what_pythons_json_reads_with_file_and_line(tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app

    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"id": "b", "text": "Fine."}\n' + nested(5000))
    result = CliRunner().invoke(app, ["ingest", str(source), "--corpus", str(tmp_path / "c")])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and f"{source}:2: JSON nested too deeply" in result.output
