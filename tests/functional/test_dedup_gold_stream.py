"""Dedup reads gold streamed in corpus order (`_best_ranges`), and finds the same story ranges as
from the whole gold store in memory: the last valid line per snippet counts, skipped and flagged
gold falls back to an annotator's done record, a damaged line is passed over."""

from __future__ import annotations

import json

from curate.dedup import _best_ranges, annotated_record
from curate.ingest import ingest
from curate.store import Corpus, CorpusLayout


def gold_line(snippet_id: str, cut: int, length: int, status: str = "done") -> str:
    stories = [{"start": 0, "end": cut}, {"start": cut, "end": length}] if cut else [{"start": 0, "end": length}]
    return json.dumps({"snippet_id": snippet_id, "annotator": "gold", "stories": stories, "status": status, "sources": ["a"], "adjudicator": "c"})


def pages_corpus(tmp_path, pages: int):
    """A corpus of `pages` two-line pages p0, p1, ...: its folder and each page's text length."""
    texts = {f"p{number}": f"Line one of page {number}.\nLine two of page {number}.\n" for number in range(pages)}
    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    folder = tmp_path / "corpus"
    ingest([source], folder)
    return folder, {key: len(text) for key, text in texts.items()}


def test_streamed_gold_gives_the_ranges_the_gold_store_gives(tmp_path):
    folder, length = pages_corpus(tmp_path, 8)
    lines = [
        gold_line("p3", 0, length["p3"]),
        gold_line("p3", 27, length["p3"]),  # the last valid line counts
        gold_line("p1", 27, length["p1"], "skipped"),  # falls back to ana's done record
        gold_line("p5", 27, length["p5"]),
        "{damaged",
        gold_line("p5", 27, length["p5"] + 4),  # invalid for the text? still a record: the store keeps it
        gold_line("p6", 27, length["p6"], "flagged"),
        gold_line("nope", 3, 10),
    ]
    CorpusLayout(folder).gold.write_text("\n".join(lines) + "\n")
    journal = CorpusLayout(folder).root / "annotations" / "ana.jsonl"
    journal.parent.mkdir(exist_ok=True)
    journal.write_text(json.dumps({"snippet_id": "p1", "annotator": "ana", "stories": [{"start": 0, "end": 5}, {"start": 5, "end": length["p1"]}], "status": "done"}) + "\n")
    with Corpus.open(folder) as corpus:
        streamed = list(_best_ranges(corpus))
        gold = corpus.gold()
        journals = [corpus.journal(name) for name in corpus.annotators()]
        expected = []
        for position in range(len(corpus)):
            record = annotated_record(gold, journals, corpus.snippet_id(position), position)
            ranges = [(story.start, story.end) for story in record.stories] if record is not None else None
            expected.append((position, ranges, corpus.snippet(position).text))
        for opened in journals:
            opened.close()
    assert streamed == expected
    assert streamed[3][1] == [(0, 27), (27, length["p3"])] and streamed[1][1] == [(0, 5), (5, length["p1"])] and streamed[6][1] is None


def test_a_second_read_of_a_gold_source_decodes_the_lines_the_first_checked_and_gives_the_same(tmp_path, monkeypatch):
    """An export with dedup reads gold twice through one GoldSource: the second read (the rows')
    only decodes the lines the first found `quick_gold` accepts, and yields what a fresh read does."""
    from curate.export import rows
    from curate.export.rows import GoldSource

    folder, length = pages_corpus(tmp_path, 6)
    lines = [
        gold_line("p0", 0, length["p0"]),
        gold_line("p2", 27, length["p2"]),
        gold_line("p2", 0, length["p2"]).replace('"sources": ["a"]', '"sources": ["\\u0061"]'),  # a \u escape: pydantic decides, every time
        gold_line("p4", 27, length["p4"]),
        gold_line("p4", 99, 30),  # damaged for quick_gold (stories not contiguous) and for pydantic: p4's line before it counts
    ]
    CorpusLayout(folder).gold.write_text("\n".join(lines) + "\n")
    checked = []
    real = rows.quick_gold
    monkeypatch.setattr(rows, "quick_gold", lambda raw: checked.append(raw) or real(raw))
    with Corpus.open(folder) as corpus:
        shared = GoldSource(corpus)
        first = [(position, snippet.id, record) for position, snippet, record in shared.pairs()]
        checked_first = len(checked)
        second = [(position, snippet.id, record) for position, snippet, record in shared.pairs()]
        checked_second = len(checked) - checked_first
        fresh = [(position, snippet.id, record) for position, snippet, record in GoldSource(corpus).pairs()]
    assert first == second == fresh
    assert [position for position, _, _ in first] == [0, 2, 4]
    assert first[1][2].stories[0].end == length["p2"] and first[2][2].stories[0].end == 27
    assert checked_first == 4  # p0, p2's last (\u) line, p4's last line and the one before it
    assert checked_second == 2  # the second read checks again only the lines it could not trust: p2's \u line, p4's damaged one
