"""Issue 19's fast paths give exactly what the plain paths give, on varied generated input.

- `_lines` (split at newlines, trim with str.strip) against `_lines_exactly` (the line-break
  pattern and the character-by-character trim);
- `paragraph_labels` from line offsets against the same labels computed from a `TextModel`'s
  paragraphs and `Annotation.story_of`, as export computed them before.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from curate.export.rows import paragraph_labels
from curate.model import Annotation, BoilerplateRange, Story
from curate.text import TextModel, _lines, _lines_exactly, line_spans, paragraph_spans, text_tokens_many

PIECES = st.sampled_from(
    list("aZ9 .,:/!?\"'()-_\n\r\t\x0b\x0c\x1c\x85") + ["\r\n", "\n\n", "  ", "\u00a0", "\u200b", "\u200d", "\ufeff", "\u00ad",
    "\u2060", "\u2028", "\u2029", "\u3000", "\u2019", "\u201c", "\u2014", "\u0301", "\ufe0f", "\u20e3", "\U0001F3FD",
    "\U0001F1EC", "\U0001F600", "\U000E0067", "\U000E007F", "\u00e9", "\u4e2d", "Kim", "U.S.", "word"]
)
TEXTS = st.lists(PIECES, max_size=50).map("".join)


@given(TEXTS)
@settings(max_examples=600, deadline=None)
def test_lines_by_split_and_strip_equal_lines_by_pattern_and_trim(text):
    assert list(_lines(text)) == list(_lines_exactly(text))


def test_lines_keep_invisible_and_attached_characters_at_line_edges_as_the_trim_does():
    text = " \u200bx\u200b \n\ufeff\n\U0001F3F4\U000E0067\U000E007F \n \u00a0Kim\u0301\n"
    assert list(_lines(text)) == list(_lines_exactly(text))
    assert [text[start:end] for start, end in paragraph_spans(text)] == ["x", "\U0001F3F4\U000E0067\U000E007F", "Kim\u0301"]


def reference_paragraph_labels(text: str, record: Annotation) -> list[dict]:
    """The labels as export made them from a TextModel's paragraphs (sentences and all)."""
    starts = {story.start for story in record.stories}
    labels = []
    for number, paragraph in enumerate(TextModel(text).paragraphs):
        covered: dict[str, int] = {}
        for item in record.boilerplate:
            overlap = min(item.end, paragraph.end) - max(item.start, paragraph.start)
            if overlap > 0:
                covered[item.kind] = covered.get(item.kind, 0) + overlap
        kind = "none"
        if covered:
            best = max(covered, key=covered.get)
            if 2 * covered[best] > paragraph.end - paragraph.start:
                kind = best
        labels.append({
            "start": paragraph.start, "end": paragraph.end, "story": record.story_of(paragraph.start),
            "story_start": int(number == 0 or paragraph.line_start in starts or paragraph.start in starts), "boilerplate": kind,
        })
    return labels


@st.composite
def annotated_texts(draw):
    text = draw(TEXTS.filter(bool))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(text)), max_size=4))) - {len(text)})
    edges = [0, *cuts, len(text)]
    stories = [Story(start=start, end=end) for start, end in zip(edges, edges[1:])]
    boilerplate = []
    for start, length, kind in draw(st.lists(st.tuples(st.integers(0, len(text) - 1), st.integers(1, 20), st.sampled_from(["credit", "caption", "nav"])), max_size=4)):
        story_end = next(end for end in edges[1:] if end > start)  # inside one story
        end = min(story_end, start + length)
        if not any(start < item.end and item.start < end for item in boilerplate):
            boilerplate.append(BoilerplateRange(start=start, end=end, kind=kind))
    boilerplate.sort(key=lambda item: item.start)
    return text, Annotation(snippet_id="s", annotator="a", stories=stories, boilerplate=boilerplate, status="done")


@given(annotated_texts())
@settings(max_examples=400, deadline=None)
def test_paragraph_labels_from_line_offsets_equal_those_from_a_text_model(case):
    text, record = case
    assert paragraph_labels(text, record) == reference_paragraph_labels(text, record)
    assert line_spans(text) == [(paragraph.line_start, paragraph.start, paragraph.end) for paragraph in TextModel(text).paragraphs]


# ---------------------------------------------------------------- gold read once, one record at a time


def reference_gold_pairs(corpus) -> list[tuple[int, object]]:
    """What export read before: every GoldStore record not skipped or flagged, in corpus order."""
    gold = corpus.gold()
    records = [record for record in gold.records.values() if record.status not in ("skipped", "flagged")]
    return sorted(((corpus.position(record.snippet_id), record) for record in records), key=lambda pair: pair[0])


def gold_corpus(tmp_path):
    from curate.ingest import ingest

    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"id": "p{number}", "text": "Story {number} here.\\nAnd more."}}\n' for number in range(8)))
    ingest([source], tmp_path / "c")
    return tmp_path / "c"


def gold_line(snippet_id: str, status: str | None = "done", end: int = 23, note: str | None = None) -> bytes:
    from curate.model import GoldAnnotation

    record = GoldAnnotation(snippet_id=snippet_id, annotator="gold", stories=[Story(start=0, end=end)], status=status, note=note, sources=["a"], adjudicator="c")
    return record.model_dump_json().encode() + b"\n"


def test_gold_lines_read_what_the_gold_store_holds_one_record_at_a_time(tmp_path, monkeypatch):
    from curate.export import rows
    from curate.store import Corpus

    folder = gold_corpus(tmp_path)
    lines = [
        gold_line("p5", note="first"), gold_line("p1"), gold_line("p2", "skipped"), gold_line("p3", "flagged"),
        b"\n", b'{"snippet_id": "p4", "annotator": "gold", "stories": "broken"}\n',  # damaged: p4 has no gold
        gold_line("p0"), gold_line("p5", note="later wins"),
        gold_line("p6", note="kept"), b'{"snippet_id": "p6", "stories": []}\n',  # a damaged last line: the earlier one counts
        b"not json at all\n", gold_line("p7", "flagged"), gold_line("p7", "done", note="done after all"),
    ]
    (folder / "gold.jsonl").write_bytes(b"".join(lines))
    with Corpus.open(folder) as corpus:
        expected = reference_gold_pairs(corpus)
        gold = rows.take_gold_source(corpus, keep=True)
        # The total counts last lines by their heads (p4 and p6 end damaged, yet are counted): a progress bar's estimate.
        assert gold.total() == 6
        assert rows.take_gold_source(corpus) is gold  # the export takes what the progress total read
        assert rows.take_gold_source(corpus) is not gold  # and only once
        read = list(gold.records())
    assert [(position, record.snippet_id, record.note) for position, record in read] == [(position, record.snippet_id, record.note) for position, record in expected]
    assert [position for position, _ in read] == [0, 1, 5, 6, 7]
    assert read[2][1].note == "later wins" and read[3][1].note == "kept"


def test_a_gold_record_of_an_unknown_snippet_is_reported_and_left_out(tmp_path):
    from curate.export.rows import SourceReport, source_records
    from curate.store import Corpus

    folder = gold_corpus(tmp_path)
    (folder / "gold.jsonl").write_bytes(gold_line("p1") + gold_line("ghost"))
    report = SourceReport()
    with Corpus.open(folder) as corpus:
        pairs = list(source_records(corpus, "gold", report))
    assert [snippet.id for snippet, _ in pairs] == ["p1"]
    assert report.skipped == ["gold record for 'ghost': no such snippet in the corpus"]


def test_gold_is_read_again_when_it_changed_after_the_total_was_counted(tmp_path):
    from curate.export import rows
    from curate.store import Corpus

    folder = gold_corpus(tmp_path)
    (folder / "gold.jsonl").write_bytes(gold_line("p1"))
    with Corpus.open(folder) as corpus:
        assert rows.take_gold_source(corpus, keep=True).total() == 1
        (folder / "gold.jsonl").write_bytes(gold_line("p1") + gold_line("p2") + gold_line("p3"))
        assert [position for position, _ in rows.take_gold_source(corpus).records()] == [1, 2, 3]


# ---------------------------------------------------------------- tokens of many texts at once

TOKEN_PIECES = st.sampled_from(
    list("aZ9 .,:/!?\"'()-_\n\t%$") + ["\r\n", "\u00a0", "\u2028", "\u2019", "\u2018", "\u201c", "\u201d", "\u2010", "\u2011",
    "\u2014", "\u00e9", "\u00df", "\u0663", "\u4e2d", "\u3000", "\x1c", "\ud800", "U.S.", "e.g.", "Jong-un", "1,703", "10:30",
    "2.5", "'s", "'re", "\u2019t", "don't", "O'Brien", "a/b", "x_y", "word", "Kim", " "]
    + ["\u200b", "\u0301", "\U0001F600"]  # special: these texts take the paragraph path
)


@given(st.lists(st.lists(TOKEN_PIECES, max_size=40).map("".join), max_size=6))
@settings(max_examples=500, deadline=None)
def test_tokens_of_many_texts_at_once_equal_each_text_model_tokens(texts):
    assert text_tokens_many(texts) == [TextModel(text).tokens for text in texts]


def test_tokens_of_many_texts_cut_tricky_chunks_by_the_pattern():
    texts = ["U.S. shares rose 2.5% \u2014 Kim Jong-un's \u2019re", "", "  ", "don't stop", "\u201cWe\u2019re\u201d 1,703.", "x"]
    assert text_tokens_many(texts) == [TextModel(text).tokens for text in texts]
    assert text_tokens_many(["U.S."]) == [[(0, 3), (3, 4)]]


def test_export_collects_no_cycles_while_it_adds_rows_and_collects_again_after(tmp_path, monkeypatch):
    import gc

    from curate.export import export_corpus
    from curate.formats import jsonl

    folder = gold_corpus(tmp_path)
    (folder / "gold.jsonl").write_bytes(gold_line("p1") + gold_line("p2"))
    seen = []
    add = jsonl.Writer.add

    def spy(self, *args):
        seen.append(gc.isenabled())
        return add(self, *args)

    monkeypatch.setattr(jsonl.Writer, "add", spy)
    report = export_corpus(folder, tmp_path / "out", fmt="jsonl", dedup=False)
    assert report.snippets == 2 and seen == [False, False]
    assert gc.isenabled()

    def failing(self, *args):
        raise RuntimeError("a writer that fails")

    monkeypatch.setattr(jsonl.Writer, "add", failing)
    try:
        export_corpus(folder, tmp_path / "out2", fmt="jsonl", dedup=False)
    except RuntimeError:
        pass
    assert gc.isenabled()  # back on after a failed export too


# ---------------------------------------------------------------- journal lines read by one memory map


def test_raw_lines_are_the_raw_line_of_each_position_in_the_order_asked(tmp_path):
    import numpy as np
    import pytest

    from curate.model import Annotation
    from curate.store import Corpus, StoreError

    folder = gold_corpus(tmp_path)
    with Corpus.open(folder) as corpus:
        with corpus.journal("ana", writable=True) as journal:
            for snippet_id, note in (("p3", "a"), ("p1", "b"), ("p3", "c"), ("p6", "d")):
                journal.append(Annotation(snippet_id=snippet_id, annotator="ana", stories=[Story(start=0, end=23)], status="done", note=note))
        with corpus.journal("ana") as journal:
            asked = np.array([6, 1, 3])
            assert list(journal.raw_lines(asked)) == [journal.raw_line(position) for position in asked.tolist()]
            assert [line.count(b"\n") for line in journal.raw_lines(asked)] == [1, 1, 1]
            assert b'"note":"c"' in list(journal.raw_lines(np.array([3])))[0]  # the last record of p3
            assert list(journal.raw_lines(np.array([], dtype=np.int64))) == []
            with pytest.raises(StoreError, match="'p2'"):
                list(journal.raw_lines(np.array([1, 2])))  # p2 has no record


# ---------------------------------------------------------------- agreement read in shares


def test_agreement_read_in_small_shares_equals_the_report_read_at_once(tmp_path, monkeypatch):
    import json
    import random

    from curate.agreement import agreement, service
    from curate.ingest import ingest
    from curate.model import Annotation, text_sha256
    from curate.store import Corpus

    rng = random.Random(5)
    words = "Ana Lopez met Ben in Lanport . the harbour plan was late and the council voted".split()
    texts = {f"s{number:02d}": "\n".join(" ".join(rng.choices(words, k=rng.randint(3, 9))) for _ in range(rng.randint(1, 4))) for number in range(23)}
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": snippet_id, "text": text}) + "\n" for snippet_id, text in texts.items()))
    ingest([source], tmp_path / "c", labels=["PERSON", "GPE"])
    with Corpus.open(tmp_path / "c") as corpus:
        for name in ("ana", "ben", "cy"):
            with corpus.journal(name, writable=True) as journal:
                for snippet_id, text in texts.items():
                    if rng.random() < 0.2:
                        continue
                    starts = sorted({match for match in range(1, len(text)) if text[match - 1] == "\n" and rng.random() < 0.5})
                    edges = [0, *starts, len(text)]
                    entities = []
                    for start in sorted(rng.sample(range(len(text)), min(3, len(text)))):
                        end = text.find(" ", start)
                        end = len(text) if end < 0 else end
                        if end > start and not (entities and start < entities[-1]["end"]) and not any(start < cut < end for cut in starts):
                            entities.append({"start": start, "end": end, "label": rng.choice(["PERSON", "GPE", "ORG", "EVENT"])})  # ORG, EVENT: not in corpus.toml
                    sha = text_sha256(text if rng.random() < 0.9 else text + "!")  # some records saved for another text: stale
                    journal.append(Annotation.model_validate({
                        "snippet_id": snippet_id, "annotator": name, "status": "done" if rng.random() < 0.9 else "skipped", "text_sha256": sha,
                        "stories": [{"start": s, "end": e} for s, e in zip(edges, edges[1:])], "entities": entities,
                    }))

        def everything():
            report = agreement(corpus, ranking_size=50, processes=1)
            return report.to_json(), report.ranking, report.stale, report.confusion().tolist(), report.labels, report.boilerplate_alpha

        at_once = everything()
        monkeypatch.setattr(service, "READ_CHUNK_SNIPPETS", 4)
        in_shares = everything()
    assert at_once[2] and set(at_once[4]) >= {"ORG", "EVENT"}  # the case has stale records and labels met on reading
    assert json.dumps(in_shares[0], sort_keys=True) == json.dumps(at_once[0], sort_keys=True)
    assert in_shares[1:] == at_once[1:]


# ---------------------------------------------------------------- text facts read in two halves


def test_text_facts_read_by_two_processes_equal_those_read_by_one(tmp_path, monkeypatch):
    import json

    import numpy as np
    import pytest

    from curate.store import StoreError, halves, snippets

    path = tmp_path / "snippets.jsonl"
    texts = [f"Text {number}\n\u201cquoted\u201d caf\u00e9 \U0001F600 " * (number % 7) for number in range(301)]
    path.write_text("".join(json.dumps({"id": f"s{number}", "text": text}, ensure_ascii=number % 2 == 0) + "\n" for number, text in enumerate(texts))[:-1])  # no last newline
    one = snippets._text_facts_between(path, 0, None)
    monkeypatch.setattr(halves, "SPLIT_BYTES", 1000)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    with path.open("rb") as handle:
        middle = halves.middle_line_start(handle.fileno(), 0, path.stat().st_size)
    assert middle is not None and 0 < middle < path.stat().st_size
    two = snippets.read_text_facts(path)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    assert one[0].tolist() == [len(text) for text in texts]
    # A damaged line in the second half: the child fails, this process reads that half and names the line.
    lines = path.read_bytes().split(b"\n")
    lines[250] = b'{"id": "s250", "text": 5}'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(StoreError, match=r"snippets.jsonl:251: not a snippet record"):
        snippets.read_text_facts(path)


# ---------------------------------------------------------------- seconds in the journal index


def test_the_journal_index_keeps_each_last_records_seconds_however_it_was_built(tmp_path, monkeypatch):
    import numpy as np

    from curate.model import Annotation
    from curate.store import Corpus, CorpusLayout, scan

    folder = gold_corpus(tmp_path)

    def record(snippet_id, seconds):
        return Annotation(snippet_id=snippet_id, annotator="ana", stories=[Story(start=0, end=23)], status="done", seconds=seconds)

    with Corpus.open(folder) as corpus:
        with corpus.journal("ana", writable=True) as journal:
            for snippet_id, seconds in (("p3", 4.5), ("p1", 7), ("p3", 12.25), ("p6", 0.0)):
                journal.append(record(snippet_id, seconds))
            assert journal.seconds_at(np.array([3, 1, 6, 2])).tolist() == [12.25, 7.0, 0.0, 0.0]  # p2: no record
        expected = [0.0, 7.0, 0.0, 12.25, 0.0, 0.0, 0.0, 0.0]
        with corpus.journal("ana") as journal:  # from the saved index
            assert journal.seconds_at(np.arange(8)).tolist() == expected
            assert [journal.record_at(position).seconds if journal.record_at(position) else 0.0 for position in range(8)] == expected
    layout = CorpusLayout(folder)
    for quick in (False, True):  # rebuilt by a strict scan, then by a quick one
        for path in layout.journal_indexes.glob("*"):
            path.unlink()
        monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0 if quick else 1 << 40)
        with Corpus.open(folder) as corpus, corpus.journal("ana") as journal:
            assert journal.index.checked is not quick
            assert journal.seconds_at(np.arange(8)).tolist() == expected
