"""Indexes built on two cores (curate/store/halves.py): a forked child reads the second half of
a journal or of snippets.jsonl; the result (records, problems and their line numbers, the torn
last line, records of unknown snippets) is the one a single process finds, and when the child
fails in any way this process reads that half itself (issue 19)."""

import json
import os

import numpy as np
import pytest
from index_journals import fresh_state, journal_lines, line, make_corpus, many_lines, split_small_scans, write_journal

import curate.store.scan as scan
from curate.store import Corpus, CorpusLayout, SnippetIndex, StoreError, halves


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)


@pytest.fixture
def split_small(monkeypatch):
    return split_small_scans(monkeypatch)



def test_a_quick_scan_in_two_processes_indexes_a_journal_as_one_process_does(corpus, split_small):
    torn_tail = line("s11").encode()[:30]
    write_journal(corpus, many_lines(), tail=torn_tail)
    forks = []
    real_fork = halves.fork_child
    split_small.setattr(scan, "fork_child", lambda work: forks.append(1) or real_fork(work))
    two = fresh_state(corpus)
    assert forks == [1]
    split_small.setattr(halves, "SPLIT_BYTES", 1 << 40)
    one = fresh_state(corpus)
    assert forks == [1]  # not split this time
    assert two == one
    problems = two[0]["problems"]
    size = corpus.journal_path("ana").stat().st_size
    middle = size // 2
    offsets = np.cumsum([0] + [len(text) + 1 for text in many_lines()])
    middle_line = int(np.searchsorted(offsets, middle))  # problems on both sides of the split
    assert min(problem[0] for problem in problems) < middle_line < max(problem[0] for problem in problems)
    assert problems[-1] == (len(many_lines()) + 1, "torn last line (an interrupted write); skipped", True)
    assert "ghost" in two[0]["unknown"] and two[0]["size"] == size - len(torn_tail)


def test_a_child_that_fails_leaves_its_half_to_this_process(corpus, split_small):
    write_journal(corpus, many_lines())
    split_small.setattr(halves, "SPLIT_BYTES", 1 << 40)
    one = fresh_state(corpus)
    split_small.setattr(halves, "SPLIT_BYTES", 600)
    for failure in (lambda pid, read_end: halves.child_result(pid, read_end) and None, lambda pid, read_end: halves.child_result(pid, read_end)[:-3]):
        split_small.setattr(scan, "child_result", failure)
        assert fresh_state(corpus) == one
    # A child that raises exits non-zero; its half is read here.
    split_small.setattr(scan.LineScanner, "second_half", lambda self, reader, start: 1 / 0)
    split_small.setattr(scan, "child_result", halves.child_result)
    assert fresh_state(corpus) == one


def test_packed_arrays_read_back_and_anything_else_is_refused():
    arrays = {"a": np.arange(5, dtype=np.int64), "b": np.array([1, -1], dtype=np.int8), "c": np.zeros(0, dtype=np.uint64)}
    packed = halves.pack(arrays, {"x": [1, "y"]})
    back, meta = halves.unpack(packed)
    assert meta == {"x": [1, "y"]} and all(np.array_equal(back[name], arrays[name]) and back[name].dtype == arrays[name].dtype for name in arrays)
    for damaged in (packed[:-1], packed + b"\0", b"", b"\x05" + b"\0" * 7 + b"junk"):
        with pytest.raises(ValueError):
            halves.unpack(damaged)


def test_the_middle_line_start_is_the_first_line_start_past_the_middle(tmp_path, monkeypatch):
    monkeypatch.setattr(halves, "SPLIT_BYTES", 10)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    path = tmp_path / "f"
    path.write_bytes(b"aaaa\nbbbbbbbbbbbbbbbbbbbb\ncc\n")
    with path.open("rb") as handle:
        fd = handle.fileno()
        assert halves.middle_line_start(fd, 0, 29) == 26  # the middle (14) is inside the long line
        assert halves.middle_line_start(fd, 0, 5) is None  # too short to split
        assert halves.middle_line_start(fd, 5, 26) is None  # no line starts in the second half
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 1)
    with path.open("rb") as handle:
        assert halves.middle_line_start(handle.fileno(), 0, 29) is None


def test_a_snippet_index_built_in_two_processes_is_the_one_built_in_one(tmp_path, monkeypatch):
    path = tmp_path / "snippets.jsonl"
    ids = [f"s{number}" if number % 5 else f"q\"uo\u00fcte{number}" for number in range(301)]
    path.write_text("".join(json.dumps({"id": key, "text": f"text {key} " * (number % 9)}, ensure_ascii=number % 2 == 0) + "\n" for number, key in enumerate(ids))[:-1])
    one = SnippetIndex.build(path)
    monkeypatch.setattr(halves, "SPLIT_BYTES", 1000)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    forks = []
    real_fork = halves.fork_child
    import curate.store.snippets as snippets

    monkeypatch.setattr(snippets, "fork_child", lambda work: forks.append(1) or real_fork(work))
    two = SnippetIndex.build(path)
    assert forks == [1]
    assert two.offsets.tolist() == one.offsets.tolist() and two.offsets[-1] == os.path.getsize(path)
    assert two.hashes.tolist() == one.hashes.tolist() and two.positions.tolist() == one.positions.tolist()
    # A damaged line in the second half: the child fails, this process reads that half and names the line.
    lines = path.read_bytes().split(b"\n")
    lines[280] = b'{"id": 5, "text": "t"}'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(StoreError, match=r"snippets.jsonl:281: not a snippet record"):
        SnippetIndex.build(path)


def test_a_damaged_line_in_the_first_half_stops_the_child_too(tmp_path, monkeypatch):
    path = tmp_path / "snippets.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{number}", "text": "text " * 20}) + "\n" for number in range(300)))
    lines = path.read_bytes().split(b"\n")
    lines[20] = b'{"id": "s20", "text": '
    path.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(halves, "SPLIT_BYTES", 1000)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    children = []
    real_fork = halves.fork_child
    import curate.store.snippets as snippets

    monkeypatch.setattr(snippets, "fork_child", lambda work: children.append(real_fork(work)) or children[-1])
    with pytest.raises(StoreError, match=r"snippets.jsonl:21: not a snippet record"):
        SnippetIndex.build(path)
    (pid, _), = children
    with pytest.raises(ChildProcessError):  # stopped and reaped: no child left behind
        os.waitpid(pid, os.WNOHANG)


def test_ids_and_texts_read_in_one_pass_equal_the_two_passes(tmp_path, monkeypatch):
    import curate.store.snippets as snippets

    path = tmp_path / "snippets.jsonl"
    texts = [f"Text {number}\n\u201cquoted\u201d caf\u00e9 \U0001F600 " * (number % 7) for number in range(301)]
    path.write_text("".join(json.dumps({"id": f"s{number}", "text": text}, ensure_ascii=number % 2 == 0) + "\n" for number, text in enumerate(texts)))
    for split in (1 << 40, 1000):
        monkeypatch.setattr(halves, "SPLIT_BYTES", split)
        monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
        monkeypatch.setattr(scan, "_BLOCK_BYTES", 4096)  # many blocks
        index, (lengths, digests) = snippets.build_with_text_facts(path)
        alone = SnippetIndex.build(path)
        facts = snippets.read_text_facts(path)
        assert index.offsets.tolist() == alone.offsets.tolist() and index.hashes.tolist() == alone.hashes.tolist()
        assert index.positions.tolist() == alone.positions.tolist()
        assert lengths.tolist() == facts[0].tolist() == [len(text) for text in texts] and digests.tolist() == facts[1].tolist()
    # A line one decoder refuses in a block: read line by line, the damaged one named.
    lines = path.read_bytes().split(b"\n")
    lines[30] = json.dumps({"text": "no id", "id": "s30", "extra": [1, {"x": None}]}).encode()
    path.write_bytes(b"\n".join(lines))
    assert snippets.build_with_text_facts(path)[1][0][30] == len("no id")
    for number in (30, 280):  # in either half
        damaged = list(lines)
        damaged[number] = b'{"id": "s%d", "text": 7}' % number
        path.write_bytes(b"\n".join(damaged))
        with pytest.raises(StoreError, match=rf"snippets.jsonl:{number + 1}: not a snippet record"):
            snippets.build_with_text_facts(path)


def test_stats_with_no_curate_folder_reads_snippets_once_and_says_what_stats_with_it_says(corpus, monkeypatch):
    import curate.store.snippets as snippets
    from curate.stats import corpus_stats

    write_journal(corpus, journal_lines())
    with_index = corpus_stats(Corpus.open(corpus.path))
    import shutil

    shutil.rmtree(CorpusLayout(corpus.path).index_dir)
    passes = []
    for name in ("_line_ends_and_id_hashes", "_text_facts_between", "_snippet_facts_between"):
        real = getattr(snippets, name)
        monkeypatch.setattr(snippets, name, lambda *args, real=real, name=name: passes.append(name) or real(*args))
    without = corpus_stats(Corpus.open(corpus.path, index_later=True))
    assert passes == ["_snippet_facts_between"]
    assert without == with_index
    assert with_index.annotators[0].changed == ["s8", "s9", "s10"]
    passes.clear()
    assert corpus_stats(Corpus.open(corpus.path, index_later=True)) == with_index and passes == []  # both saved


def test_the_stats_command_with_no_curate_folder_names_a_damaged_snippet_line(corpus):
    from typer.testing import CliRunner

    from curate.cli import app

    write_journal(corpus, journal_lines())
    good = CliRunner().invoke(app, ["stats", str(corpus.path), "--json"])
    layout = CorpusLayout(corpus.path)
    import shutil

    shutil.rmtree(layout.index_dir)
    again = CliRunner().invoke(app, ["stats", str(corpus.path), "--json"])
    assert good.exit_code == again.exit_code == 0 and json.loads(again.output) == json.loads(good.output)
    lines = layout.snippets.read_bytes().split(b"\n")
    lines[7] = b'{"id": "s7", "text": '
    layout.snippets.write_bytes(b"\n".join(lines))
    shutil.rmtree(layout.index_dir)
    result = CliRunner().invoke(app, ["stats", str(corpus.path)])
    assert result.exit_code != 0 and (result.exception is None or isinstance(result.exception, SystemExit))
    assert f"{layout.snippets}:8: not a snippet record" in result.output.replace("\n", "") and "Traceback" not in result.output
