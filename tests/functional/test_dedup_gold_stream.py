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


def test_streamed_gold_gives_the_ranges_the_gold_store_gives(tmp_path):
    texts = {f"p{number}": f"Line one of page {number}.\nLine two of page {number}.\n" for number in range(8)}
    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()))
    folder = tmp_path / "corpus"
    ingest([source], folder)
    length = {key: len(text) for key, text in texts.items()}
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
