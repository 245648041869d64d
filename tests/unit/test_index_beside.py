"""A fresh clone's first open (no .curate/: no snippet index, no journal index) builds the
snippet index in a forked child, which then scans the journal's last part, while this process
scans the first part and places its records once the child's index arrives (issue 19: a
1M-record journal first opens in <= 2 s). Results and messages are those of one process,
whatever the child does."""

import os
import shutil

import numpy as np
import pytest
from index_journals import line, make_corpus, many_lines, split_small_scans, state, write_journal

import curate.store.scan as scan
from curate.store import Corpus, CorpusLayout, SnippetIndex, StoreError, halves


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)


def fresh_clone_state(corpus, **options):
    """The journal's state after opening it with no .curate/ at all, and the snippet index the
    corpus ended up with (as arrays)."""
    shutil.rmtree(CorpusLayout(corpus.path).index_dir, ignore_errors=True)
    with Corpus.open(corpus.path, index_later=True) as opened, opened.journal("ana", **options) as journal:
        index = opened.index
        snippets = (index.offsets.tolist(), index.hashes.tolist(), index.positions.tolist(), index.order_digest())
        return state(journal), journal.index.checked, journal.index.facts, journal.line_count, snippets


@pytest.fixture
def beside(monkeypatch):
    """Every quick scan is split, and the child builds the snippet index beside the first one."""
    split_small_scans(monkeypatch)
    children = []
    real_fork = halves.fork_child
    monkeypatch.setattr(scan, "fork_child", lambda work: children.append(real_fork(work)) or children[-1])
    return monkeypatch, children


def one_process(corpus, monkeypatch, **options):
    with monkeypatch.context() as patch:
        patch.setattr(halves, "SPLIT_BYTES", 1 << 40)
        return fresh_clone_state(corpus, **options)


@pytest.mark.parametrize("facts_later", [False, True])
def test_a_fresh_clone_indexes_as_one_process_does_with_the_snippet_index_built_beside(corpus, beside, facts_later):
    monkeypatch, children = beside
    torn_tail = line("s11").encode()[:30]
    write_journal(corpus, many_lines(), tail=torn_tail)
    one = one_process(corpus, monkeypatch, facts_later=facts_later)
    assert children == []
    middles = []
    real = scan.middle_line_start
    monkeypatch.setattr(scan, "middle_line_start", lambda *args: middles.append(real(*args)) or middles[-1])
    # This process neither builds the snippet index nor scans the journal's last part: the child did.
    parent, real_scan = os.getpid(), scan.LineScanner.scan_quickly
    monkeypatch.setattr(SnippetIndex, "build", classmethod(lambda cls, path: pytest.fail("built here")))

    def scan_in_the_child_only(self, *args):
        assert os.getpid() != parent, "scanned here"
        real_scan(self, *args)

    monkeypatch.setattr(scan.LineScanner, "scan_quickly", scan_in_the_child_only)
    two = fresh_clone_state(corpus, facts_later=facts_later)
    assert len(children) == 1 and middles[0] is not None  # one child: the snippet index, then the journal's last part
    assert two == one
    assert two[0]["problems"][-1][1] == "torn last line (an interrupted write); skipped" and "ghost" in two[0]["unknown"]
    layout = CorpusLayout(corpus.path)
    saved = SnippetIndex.load(corpus.path, {"size": os.path.getsize(layout.snippets), "mtime_ns": os.stat(layout.snippets).st_mtime_ns, "inode": os.stat(layout.snippets).st_ino})
    assert saved is not None and saved.order_digest() == two[4][3]  # saved, for the next open
    assert layout.journal_index(corpus.journal_path("ana")).exists()


def test_a_child_that_builds_only_the_snippet_index_leaves_the_whole_journal_here(corpus, beside):
    monkeypatch, children = beside
    write_journal(corpus, many_lines(), tail=line("s11").encode()[:30])
    one = one_process(corpus, monkeypatch)
    monkeypatch.setattr(scan, "middle_line_start", lambda *args: None)  # a journal too short to split
    assert fresh_clone_state(corpus) == one and len(children) == 1


@pytest.mark.parametrize("failure", ["raises", "sends less", "sends nothing", "a snippet index of the wrong shape", "the journal part of the wrong shape"])
def test_whatever_the_child_does_wrong_this_process_does_its_work_again(corpus, beside, failure):
    monkeypatch, children = beside
    write_journal(corpus, many_lines(), tail=line("s11").encode()[:30])
    one = one_process(corpus, monkeypatch)
    real_work, real_result = scan.LineScanner.snippet_index_and_rest, halves.child_result

    def reshaped(self, reader, middle):
        arrays, meta = halves.unpack(real_work(self, reader, middle))
        arrays = dict(arrays)
        if failure == "a snippet index of the wrong shape":
            arrays["snippet_positions"] = arrays["snippet_positions"][:-1]
        else:
            arrays["status"] = arrays["status"].astype(np.int64)
        return halves.pack(arrays, meta)

    if failure == "raises":
        monkeypatch.setattr(scan.LineScanner, "snippet_index_and_rest", lambda self, reader, middle: 1 / 0)
    elif failure == "sends less":
        monkeypatch.setattr(scan, "child_result", lambda pid, read_end: real_result(pid, read_end)[:-3])
    elif failure == "sends nothing":
        monkeypatch.setattr(scan, "child_result", lambda pid, read_end: real_result(pid, read_end) and None)
    else:
        monkeypatch.setattr(scan.LineScanner, "snippet_index_and_rest", reshaped)
    assert fresh_clone_state(corpus) == one and len(children) >= 1


def test_a_damaged_snippet_line_is_named_as_one_process_names_it(corpus, beside):
    monkeypatch, children = beside
    write_journal(corpus, many_lines())
    snippets = CorpusLayout(corpus.path).snippets
    lines = snippets.read_bytes().split(b"\n")
    lines[41] = b'{"id": "s41", "text": '
    snippets.write_bytes(b"\n".join(lines))
    for split in (False, True):
        with monkeypatch.context() as patch:
            if not split:
                patch.setattr(halves, "SPLIT_BYTES", 1 << 40)
            with pytest.raises(StoreError, match=r"snippets.jsonl:42: not a snippet record"):
                fresh_clone_state(corpus)
    assert children  # the child tried, failed, and this process named the line
    for pid, _ in children:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_a_saved_journal_index_or_a_short_journal_keeps_the_old_order_of_work(corpus, beside):
    """With a journal index saved, the snippet index is built first (the journal index is of
    one snippet order, checked against it); a journal too short for a quick scan is read
    after the snippet index too. Either way no child builds the snippet index beside."""
    monkeypatch, _ = beside
    write_journal(corpus, many_lines())
    fresh_clone_state(corpus)
    layout = CorpusLayout(corpus.path)
    for path in layout.snippet_index_files():
        path.unlink()
    called = []
    monkeypatch.setattr(scan.LineScanner, "snippet_index_and_rest", lambda *args: called.append(1) or pytest.fail("built beside"))
    with Corpus.open(corpus.path, index_later=True) as opened, opened.journal("ana") as journal:
        assert len(journal) == 60
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 1 << 40)
    assert fresh_clone_state(corpus)[0]["lines"] == len(many_lines())
    assert called == []
