"""The quick paths of the store: a journal index built without validating every record or
looking each id up in snippets.jsonl, a snippet index built by decoding ids only, the texts'
facts kept for `curate stats`, and stats that reads no journal record (issues 15 and 19)."""

import hashlib
import json
import os

import pytest
from index_journals import TEXTS, journal_lines, line, make_corpus, state, write_journal

import curate.store.scan as scan
from curate.ingest import ingest
from curate.model import Annotation
from curate.stats import corpus_stats
from curate.store import Corpus, CorpusLayout, SnippetIndex


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path)



def invalid_but_well_formed(snippet_id, note):
    """A record whose skeleton (id, annotator, stories' ends, status) reads but which breaks a
    rule of the model: its entities overlap."""
    data = json.loads(line(snippet_id, note=note, entities=[(0, 5)]))
    data["entities"].append({"start": 2, "end": 6, "label": "ORG"})
    return json.dumps(data)








def test_a_quick_scan_indexes_a_journal_as_the_strict_scan_does(corpus, monkeypatch):
    write_journal(corpus, journal_lines(), tail=line("s11").encode()[:30])
    strict = corpus.journal("ana")
    assert strict.index.checked and strict.problems[-1].torn
    expected = state(strict)
    strict.close()
    CorpusLayout(corpus.path).journal_indexes.joinpath(CorpusLayout(corpus.path).journal_index(corpus.journal_path("ana")).name).unlink()
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    monkeypatch.setattr(scan, "_BLOCK_BYTES", 700)  # many blocks, damaged lines in some
    quick = Corpus.open(corpus.path).journal("ana")
    assert not quick.index.checked
    assert state(quick) == expected


def test_a_quick_scan_validates_no_record_and_reads_no_snippet_line(corpus, monkeypatch):
    write_journal(corpus, [line(key) for key in TEXTS])
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    validated, preads = [], []
    real_validate, real_pread = Annotation.model_validate_json, os.pread
    monkeypatch.setattr(Annotation, "model_validate_json", classmethod(lambda cls, data, **kw: validated.append(1) or real_validate.__func__(cls, data, **kw)))
    reopened = Corpus.open(corpus.path)
    snippets_fd = reopened._handle.fileno()
    monkeypatch.setattr(os, "pread", lambda fd, n, offset: (fd == snippets_fd and preads.append(n)) or real_pread(fd, n, offset))
    journal = reopened.journal("ana")
    assert len(journal) == 60 and journal.counts()["done"] == 60
    assert validated == [] and preads == []
    assert journal.record_at(4).snippet_id == "s4" and len(validated) == 1  # validated when read


def test_a_record_a_quick_scan_did_not_validate_is_found_out_when_read(corpus, monkeypatch):
    write_journal(corpus, [line(key) for key in TEXTS] + [invalid_but_well_formed("s2", "bad"), line("s3", "skipped"), invalid_but_well_formed("s40", "bad")])
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    journal = corpus.journal("ana")
    assert journal.problems == [] and not journal.index.checked  # counted on its skeleton
    record = journal.record_at(2)  # read for its content: the journal is rebuilt strictly
    assert record.note is None and record.entities == []  # the last valid record wins
    assert journal.index.checked
    assert [(problem.line, "entities must be sorted and must not overlap" in problem.reason) for problem in journal.problems] == [(61, True), (63, True)]
    assert journal.status_of(3) == "skipped" and journal.counts()["done"] == 59


def test_compaction_and_raw_lines_of_a_quick_index_keep_only_valid_records(corpus, monkeypatch):
    write_journal(corpus, [line(key, note="first") for key in TEXTS] * 2 + [invalid_but_well_formed("s2", "bad")])
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    journal = corpus.journal("ana")
    assert json.loads(journal.raw_line(2))["note"] == "first"  # not the invalid last line
    journal.close()
    CorpusLayout(corpus.path).journal_index(corpus.journal_path("ana")).unlink()
    with Corpus.open(corpus.path).journal("ana", writable=True) as journal:  # a quick index again
        assert not journal.index.checked
        journal.compact()
    lines = corpus.journal_path("ana").read_text().splitlines()
    assert len(lines) == 60 and all(json.loads(text)["note"] == "first" for text in lines)


def test_a_quick_scan_takes_records_appended_while_it_was_not_looking(corpus, monkeypatch):
    write_journal(corpus, [line(key) for key in list(TEXTS)[:30]])
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    journal = corpus.journal("ana")
    with open(corpus.journal_path("ana"), "ab") as handle:
        handle.write("".join(line(key, "flagged") + "\n" for key in list(TEXTS)[30:]).encode())
    journal.refresh()
    assert len(journal) == 60 and journal.counts()["flagged"] == 30 and journal.problems == []


def test_stats_reads_no_journal_record_and_finds_changed_texts_from_the_indexes(corpus, monkeypatch):
    write_journal(corpus, journal_lines())
    expected_changed = ["s8", "s9", "s10"]  # wrong digest, not a digest, another length
    counts = []
    for quick in (False, True):
        layout = CorpusLayout(corpus.path)
        for path in layout.journal_indexes.glob("*"):
            path.unlink()
        with monkeypatch.context() as patch:
            patch.setattr(scan, "QUICK_SCAN_BYTES", 0 if quick else 1 << 40)
            opened = Corpus.open(corpus.path)
            opened.journal("ana").close()  # the index is built (strictly or quickly) ...
            patch.setattr(Annotation, "model_validate_json", classmethod(lambda cls, data, **kw: pytest.fail("a record was read")))
            stats = corpus_stats(Corpus.open(corpus.path))  # ... and stats reads only indexes
        (ana,) = stats.annotators
        counts.append((ana.done, ana.skipped, ana.flagged, ana.in_progress, [(problem.line, problem.reason) for problem in ana.problems]))
        assert ana.changed == expected_changed
        assert stats.characters == sum(len(text) for text in TEXTS.values())
    assert counts[0] == counts[1] and sum(counts[0][:4]) == 60


def test_the_snippet_index_is_built_from_ids_alone_as_ingest_makes_it(tmp_path, monkeypatch):
    source = tmp_path / "in.jsonl"
    ids = ['quote"d', "back\\slash", "\u00fcml\u00e4ut", "x" * 300, "s4", "s5"]
    source.write_text("".join(json.dumps({"id": key, "text": f"text {key}", "meta": {}}, ensure_ascii=index % 2 == 0) + "\n" for index, key in enumerate(ids)))
    ingest([source], tmp_path / "c")
    snippets = CorpusLayout(tmp_path / "c").snippets
    made = Corpus.open(tmp_path / "c").index
    monkeypatch.setattr(scan, "_BLOCK_BYTES", 64)
    built = SnippetIndex.build(snippets)
    assert built.offsets.tolist() == made.offsets.tolist() and built.hashes.tolist() == made.hashes.tolist()
    assert built.positions.tolist() == made.positions.tolist()
    # A last line without its newline is a line too; a blank line is refused as before.
    snippets.write_bytes(snippets.read_bytes().rstrip(b"\n"))
    assert SnippetIndex.build(snippets).offsets.tolist() == made.offsets.tolist()[:-1] + [made.offsets[-1] - 1]
    snippets.write_bytes(snippets.read_bytes() + b"\n\n" + json.dumps({"id": "late", "text": "t"}).encode() + b"\n")
    with pytest.raises(Exception, match=r"snippets.jsonl:7: blank line in snippets file"):
        SnippetIndex.build(snippets)


def test_text_facts_are_counted_once_and_follow_the_snippets_file(corpus, monkeypatch):
    lengths, digests = corpus.text_facts()
    assert lengths.tolist() == [len(text) for text in TEXTS.values()]
    assert digests.tolist() == [int(hashlib.sha256(text.encode()).hexdigest()[:16], 16) for text in TEXTS.values()]
    import curate.store.corpus as corpus_module

    with monkeypatch.context() as patch:
        patch.setattr(corpus_module, "read_text_facts", lambda path: pytest.fail("counted again"))
        assert Corpus.open(corpus.path).text_facts()[0].tolist() == lengths.tolist()
    more = corpus.path.parent / "more.jsonl"
    more.write_text(json.dumps({"id": "late", "text": "Late text"}) + "\n")
    ingest([more], corpus.path)
    assert Corpus.open(corpus.path).text_facts()[0].tolist() == lengths.tolist() + [9]


def test_whole_lines_decode_at_once_only_when_each_line_is_one_value():
    decoder = scan._SKELETONS
    good = (line("s1") + "\n" + line("s2") + "\n").encode()
    assert [item.snippet_id for item in scan.decode_whole_lines(decoder, good, scan.line_ends(good))] == ["s1", "s2"]
    # Two values on one line and a blank line: as many values as lines, but not one per line.
    shifted = (line("s1") + " " + line("s2") + "\n\n").encode()
    assert scan.decode_whole_lines(decoder, shifted, scan.line_ends(shifted)) is None
    split = (line("s1")[:20] + "\n" + line("s1")[20:] + "\n").encode()
    assert scan.decode_whole_lines(decoder, split, scan.line_ends(split)) is None


def test_digest_keys_of_many_values_are_those_of_each():
    from curate.store.index import digest_key, digest_keys

    right = hashlib.sha256(b"text").hexdigest()
    values = [None, right, right.upper(), right[:-1], right[:-1] + "g", right[:-1] + "\u00e9", "", "odd", "f" * 64, "0" * 64]
    kinds, digests = digest_keys(values)
    assert list(zip(kinds.tolist(), digests.tolist())) == [digest_key(value) for value in values]
    assert digest_key(right) == (1, int(right[:16], 16)) and digest_key(right.upper())[0] == 2
