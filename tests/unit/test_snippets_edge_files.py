"""snippets.jsonl files at the edges (CRLF line ends, a byte order mark, no newline after the
last line, empty, one line, non-ASCII ids, a lone surrogate id): the one pass curate stats takes
with no .curate/ (build_with_text_facts) gives the index and the texts' facts of the two
separate passes, in one process or two, and a line it cannot take is named file:line."""

import json
import shutil

import pytest

import curate.store.scan as scan
import curate.store.snippets as snippets
from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout, SnippetIndex, StoreError, halves


def record(snippet_id, text="a text"):
    return json.dumps({"id": snippet_id, "text": text})


def lines(count, prefix="s"):
    return [record(f"{prefix}{number}", f"text {number} " * (number % 4)) for number in range(count)]


FILES = {
    "crlf": "\r\n".join(lines(40)) + "\r\n",
    "byte order mark": "\ufeff" + "".join(line + "\n" for line in lines(40)),
    "no newline after the last line": "\n".join(lines(40)),
    "empty": "",
    "one line": record("only") + "\n",
    "one line without newline": record("only"),
    "non-ASCII ids": "".join(json.dumps({"id": f"\u00e9{number}\U0001F600\u200b", "text": "\u201ct\u201d"}, ensure_ascii=number % 2 == 0) + "\n" for number in range(40)),
}


def summary(index, facts):
    return index.offsets.tolist(), index.hashes.tolist(), index.positions.tolist(), facts[0].tolist(), facts[1].tolist()


@pytest.fixture(params=[None, 300], ids=["one process", "two processes"])
def split(request, monkeypatch):
    monkeypatch.setattr(scan, "_BLOCK_BYTES", 128)  # many blocks
    if request.param is not None:
        monkeypatch.setattr(halves, "SPLIT_BYTES", request.param)
        monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    return request.param


@pytest.mark.parametrize("name", list(FILES))
def test_one_pass_equals_the_two_on_edge_files(tmp_path, split, name):
    path = tmp_path / "snippets.jsonl"
    path.write_text(FILES[name], newline="")
    index, facts = snippets.build_with_text_facts(path)
    assert summary(index, facts) == summary(SnippetIndex.build(path), snippets.read_text_facts(path))
    assert len(facts[0]) == FILES[name].count("\n") + (0 if FILES[name].endswith("\n") or not FILES[name] else 1)
    assert index.offsets[-1] == path.stat().st_size


@pytest.mark.parametrize("where", [3, 35])
def test_a_lone_surrogate_id_is_named_by_its_line_not_a_traceback(tmp_path, split, where):
    path = tmp_path / "snippets.jsonl"
    content = lines(40)
    content[where] = '{"id": "x\\ud800", "text": "t"}'
    path.write_text("".join(line + "\n" for line in content))
    for build in (snippets.build_with_text_facts, SnippetIndex.build):
        with pytest.raises(StoreError, match=rf"snippets.jsonl:{where + 1}: snippet id holds a lone surrogate"):
            build(path)


@pytest.mark.parametrize("name", ["crlf", "byte order mark", "no newline after the last line", "non-ASCII ids"])
def test_stats_with_and_without_curate_folder_agree_on_edge_files(tmp_path, name):
    from curate.stats import corpus_stats

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": "t", "meta": {}}) + "\n" for key in ("a", "b")))
    ingest([source], tmp_path / "c")
    layout = CorpusLayout(tmp_path / "c")
    layout.snippets.write_text(FILES[name], newline="")
    shutil.rmtree(layout.index_dir, ignore_errors=True)
    without = corpus_stats(Corpus.open(layout.root, index_later=True))
    shutil.rmtree(layout.index_dir)
    with Corpus.open(layout.root) as opened:  # the index alone first, the facts in a second pass
        again = corpus_stats(opened)
        ids = [opened.snippet_id(position) for position in range(len(opened))]
        assert [opened.position(snippet_id) for snippet_id in ids] == list(range(40))
    assert without == again and without.snippets == 40
