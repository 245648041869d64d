"""The columnar story rows (`story_batch`) and paragraph labels (`paragraph_columns`) of a batch
of pages equal the plain per-page computations: stories cut one by one, tokens from
`TextModel`, entities mapped and snapped in Python, paragraph labels from `paragraph_labels`."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from hypothesis import given, settings
from hypothesis import strategies as st

from curate.export.rows import _kept_segments, paragraph_columns, paragraph_labels, story_batch, story_rows_many
from curate.model import Annotation, BoilerplateRange, Entity, Snippet, Story
from curate.text import TextModel

PIECES = st.sampled_from(
    ["alpha", "Beta", "U.S.", "1,703", "Jong-un", "don't", "'s", "S\u00e3o", "\u00e9", "\u4e2d", "e\u0301", "\u200b", "\u00ad",
     "\U0001F44D\U0001F3FD", "\U0001F1EC\U0001F1E7", "\u201cq\u201d", "\u2014", "!", ".", " ", " ", " ", "\u00a0", "\t"]
)
LINES = st.lists(st.lists(PIECES, min_size=0, max_size=12).map("".join), min_size=1, max_size=8)
BREAKS = st.sampled_from(["\n", "\n", "\r\n", "\u2028", "\n  \n", "\r"])


@st.composite
def pages(draw) -> tuple[Snippet, Annotation]:
    lines = draw(LINES)
    text, line_starts = "", []
    for line in lines:
        line_starts.append(len(text))
        text += line + draw(BREAKS)
    if not text.strip():
        text = "alpha\n"
        line_starts = [0]
    cuts = sorted({0} | set(draw(st.lists(st.sampled_from(line_starts + [max(1, len(text) // 2)]), max_size=3))) - {len(text)})
    stories = [Story(start=start, end=end, truncated=draw(st.booleans())) for start, end in zip(cuts, cuts[1:] + [len(text)])]
    ends = [story.end for story in stories]
    boilerplate, entities = [], []
    # Boilerplate and entities anywhere inside one story (entities inside one line), on token
    # edges or not, overlapping each other or not: the mapping must clip and snap them alike.
    for kinds, spans in ((("credit", "caption"), boilerplate), (("PERSON", "GPE"), entities)):
        position = 0
        for _ in range(draw(st.integers(0, 6))):
            if position >= len(text) - 1:
                break
            start = draw(st.integers(position, len(text) - 1))
            story = bisect_right(ends, start)
            limit = ends[story]
            if spans is entities:
                breaks = [text.find(c, start) for c in "\n\r\u2028"]
                limit = min([limit] + [b for b in breaks if b != -1])
            if limit <= start + 0:
                continue
            end = draw(st.integers(start + 1, limit))
            if spans is entities:
                spans.append(Entity(start=start, end=end, label=draw(st.sampled_from(kinds))))
            else:
                spans.append(BoilerplateRange(start=start, end=end, kind=draw(st.sampled_from(kinds))))
            position = end
    record = Annotation(snippet_id=f"p{len(text)}", annotator="gold", stories=stories, boilerplate=boilerplate, entities=entities, status="done")
    return Snippet(id=record.snippet_id, text=text), record


def plain_story_rows(snippet: Snippet, record: Annotation) -> list[tuple]:
    """Story rows one story at a time, entities mapped and snapped entity by entity."""
    text = snippet.text
    boilerplate = [(item.start, item.end) for item in record.boilerplate]
    entities = [(item.start, item.end, item.label) for item in record.entities]
    rows, entity_index = [], 0
    for index, story in enumerate(record.stories):
        segments = _kept_segments(text, story.start, story.end, boilerplate)
        own = []
        while entity_index < len(entities) and entities[entity_index][0] < story.end:
            own.append(entities[entity_index])
            entity_index += 1
        if not segments:
            continue
        story_text = "".join(text[a:b] for a, b in segments)
        tokens = TextModel(story_text).tokens
        starts = [start for start, _ in tokens]
        offsets, offset = [], 0
        for a, b in segments:
            offsets.append(offset)
            offset += b - a
        mapped, ranges = [], []
        for start, end, label in own:
            best = None
            for (a, b), shift in zip(segments, offsets):
                clip_start, clip_end = max(start, a), min(end, b)
                if clip_end > clip_start and (best is None or clip_end - clip_start > best[1] - best[0]):
                    best = (clip_start - a + shift, clip_end - a + shift)
            if best is None:
                continue
            first = max(0, bisect_right(starts, best[0]) - 1)
            if first < len(tokens) and tokens[first][1] <= best[0]:
                first += 1
            last = bisect_left(starts, best[1]) - 1
            if first > last or (mapped and tokens[first][0] < mapped[-1][1]):
                continue
            mapped.append((tokens[first][0], tokens[last][1], label))
            ranges.append((first, last + 1))
        rows.append((f"{snippet.id}#{index}", index, story_text, tokens, mapped, story.truncated, ranges))
    return rows


def as_tuples(rows) -> list[tuple]:
    return [(row.id, row.story, row.text, row.tokens, row.entities, row.truncated, row.entity_tokens) for row in rows]


@given(st.lists(pages(), min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_story_batch_equals_stories_cut_one_by_one(batch):
    assert [as_tuples(rows) for rows in story_rows_many(batch)] == [plain_story_rows(snippet, record) for snippet, record in batch]


@given(st.lists(pages(), min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_paragraph_columns_equal_paragraph_labels(batch):
    columns = paragraph_columns(batch)
    for number, (snippet, record) in enumerate(batch):
        first, after = int(columns.bounds[number]), int(columns.bounds[number + 1])
        got = [
            {"start": int(columns.starts[k]), "end": int(columns.ends[k]), "story": int(columns.stories[k]), "story_start": int(columns.story_starts[k]), "boilerplate": columns.kinds[k]}
            for k in range(first, after)
        ]
        assert got == paragraph_labels(snippet.text, record)


def test_an_entity_clipped_into_its_neighbour_leaves_the_tokens_to_the_first():
    # "ab" is one token; boilerplate cuts the second entity's start so both snap onto "ab".
    text = "xx ab cd\n"
    record = Annotation(
        snippet_id="n", annotator="gold", stories=[Story(start=0, end=len(text))],
        boilerplate=[], entities=[Entity(start=3, end=4, label="PERSON"), Entity(start=4, end=5, label="GPE")], status="done",
    )
    (row,), = story_rows_many([(Snippet(id="n", text=text), record)])
    assert row.entities == [(3, 5, "PERSON")] and row.entity_tokens == [(1, 2)]
    assert as_tuples([row]) == plain_story_rows(Snippet(id="n", text=text), record)
    batch = story_batch([(Snippet(id="n", text=text), record)] * 2)
    assert batch.labels == ["PERSON", "PERSON"] and batch.entity_bounds.tolist() == [0, 1, 2]


def test_the_writer_finishes_without_cycle_collection_and_it_is_back_on_after(tmp_path, monkeypatch):
    import gc
    import json

    from curate.export import export_corpus
    from curate.formats import jsonl
    from curate.ingest import ingest
    from curate.store import CorpusLayout

    source = tmp_path / "pages.jsonl"
    source.write_text(json.dumps({"id": "p1", "text": "One line.\n"}) + "\n")
    ingest([source], tmp_path / "corpus")
    CorpusLayout(tmp_path / "corpus").gold.write_text(
        json.dumps({"snippet_id": "p1", "annotator": "gold", "stories": [{"start": 0, "end": 10}], "status": "done", "adjudicator": "c"}) + "\n"
    )
    seen = []
    finish = jsonl.Writer.finish

    def spy(self):
        seen.append(gc.isenabled())
        return finish(self)

    monkeypatch.setattr(jsonl.Writer, "finish", spy)
    export_corpus(tmp_path / "corpus", tmp_path / "out", fmt="jsonl", dedup=False)
    assert seen == [False] and gc.isenabled()


def test_an_export_with_dedup_finds_the_gold_lines_once(tmp_path, monkeypatch):
    """The progress bar's total, dedup's best records and the rows share one pass over gold.jsonl."""
    import json

    from curate.export import export_corpus, rows, source_total
    from curate.ingest import ingest
    from curate.store import Corpus, CorpusLayout

    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps({"id": f"p{n}", "text": f"Story number {n} about Kim.\n"}) + "\n" for n in range(4)))
    ingest([source], tmp_path / "corpus")
    CorpusLayout(tmp_path / "corpus").gold.write_text(
        "".join(
            json.dumps({"snippet_id": f"p{n}", "annotator": "gold", "stories": [{"start": 0, "end": len(f"Story number {n} about Kim.\n")}], "status": "done", "adjudicator": "c"}) + "\n"
            for n in range(4)
        )
    )
    built = []
    init = rows.GoldSource.__init__

    def counted(self, corpus):
        built.append(corpus)
        init(self, corpus)

    monkeypatch.setattr(rows.GoldSource, "__init__", counted)
    corpus = Corpus.open(tmp_path / "corpus")
    assert source_total(corpus, "gold") == 4
    report = export_corpus(corpus, tmp_path / "out", fmt="jsonl", dedup=True)
    assert len(built) == 1
    assert report.snippets == 4


def test_dedup_outside_an_export_keeps_no_gold_source(tmp_path, monkeypatch):
    """`curate dedup` and the annotate screen's twins read gold without leaving it kept."""
    import json

    from curate.dedup import find_duplicates
    from curate.export import rows
    from curate.ingest import ingest
    from curate.store import Corpus, CorpusLayout

    source = tmp_path / "pages.jsonl"
    source.write_text("".join(json.dumps({"id": f"p{n}", "text": f"Story number {n} about Kim.\n"}) + "\n" for n in range(3)))
    ingest([source], tmp_path / "corpus")
    CorpusLayout(tmp_path / "corpus").gold.write_text(
        json.dumps({"snippet_id": "p0", "annotator": "gold", "stories": [{"start": 0, "end": 26}], "status": "done", "adjudicator": "c"}) + "\n"
    )
    monkeypatch.setattr(rows, "_gold_source", None)
    with Corpus.open(tmp_path / "corpus") as corpus:
        find_duplicates(corpus, 0.8)
    assert rows._gold_source is None
