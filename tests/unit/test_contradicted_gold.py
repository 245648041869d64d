"""contradicted_gold streams gold.jsonl (curate.store.GoldLines) and finds what reading every
gold record into a GoldStore found: damaged, doubled and foreign gold lines included."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from review_corpora import ANA, TEXT, corpus_of, record, write_records

from curate.adjudicate import contradicted_gold, same_annotation
from curate.model import GoldAnnotation
from curate.store import Corpus, GoldLines, GoldStore

IDS = ["s1", "s2", "s3", "s4"]


def reference(corpus) -> list[tuple[str, str]]:
    """contradicted_gold as it was: every gold record in memory, each annotator's latest looked up."""
    gold = corpus.gold()
    found = []
    for name in corpus.annotators():
        with corpus.journal(name) as journal:
            for snippet_id, gold_record in gold.records.items():
                item = journal.latest(snippet_id)
                if item is None or item.status != "done":
                    continue
                if (item.updated_at or "") > (gold_record.updated_at or "") and not same_annotation(item, gold_record):
                    found.append((snippet_id, name))
    return sorted(found)


def at(minute: int | None) -> str | None:
    return None if minute is None else f"2026-12-07T10:{minute:02d}:00Z"


def gold_line(snippet_id: str, minute: int | None, entities) -> str:
    base = record("judge", snippet_id=snippet_id, entities=entities)
    gold = GoldAnnotation(**{**dict(base), "updated_at": at(minute), "sources": ["ana", "ben"], "adjudicator": "judge"})
    return gold.model_dump_json()


entity_sets = st.sampled_from([ANA, ANA[:2], ()])
gold_lines = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([*IDS, "gone"]), st.one_of(st.none(), st.integers(0, 59)), entity_sets).map(lambda args: gold_line(*args)),
        st.sampled_from(['{"snippet_id": "s2", "updated_at": "2026-12-07T09:00:00Z"}', "not json", '{"snippet_id": "s3"']),
    ),
    max_size=7,
)
saves = st.lists(st.tuples(st.sampled_from(["ana", "ben"]), st.sampled_from(IDS), st.integers(0, 59), entity_sets, st.sampled_from(["done", "done", "skipped"])), max_size=8)


@settings(max_examples=60, deadline=None)
@given(lines=gold_lines, saved=saves)
def test_streamed_contradictions_are_those_of_the_gold_store(tmp_path_factory, lines, saved):
    folder = tmp_path_factory.mktemp("corpus")
    corpus = corpus_of(folder, {key: TEXT for key in IDS})
    for name in ("ana", "ben"):
        mine = [record(name, snippet_id=key, entities=entities).model_copy(update={"updated_at": at(minute), "status": status}) for who, key, minute, entities, status in saved if who == name]
        write_records(corpus, name, *mine)
    corpus.layout.gold.write_text("".join(line + "\n" for line in lines))
    corpus.close()
    with Corpus.open(folder / "c") as corpus:
        assert contradicted_gold(corpus) == reference(corpus)


def test_contradicted_gold_holds_no_gold_store(tmp_path, monkeypatch):
    corpus = corpus_of(tmp_path, {"s1": TEXT, "s2": TEXT})
    corpus.layout.gold.write_text(gold_line("s1", 5, ANA) + "\n" + gold_line("s2", 5, ANA) + "\n")
    write_records(corpus, "ben", record("ben", snippet_id="s1", entities=ANA[:1]).model_copy(update={"updated_at": at(9)}))
    write_records(corpus, "ben", record("ben", snippet_id="s2", entities=ANA).model_copy(update={"updated_at": at(9)}))

    def refuse(self, corpus):
        raise AssertionError("contradicted_gold read every gold record into a GoldStore")

    monkeypatch.setattr(GoldStore, "__init__", refuse)
    assert contradicted_gold(corpus) == [("s1", "ben")]
    lines = GoldLines(corpus)
    assert lines.positions.tolist() == [0, 1] and lines.saved_at(0) == at(5)
    assert lines.record_at(1).snippet_id == "s2"
    corpus.close()


def test_gold_lines_of_an_absent_or_empty_gold_file(tmp_path):
    corpus = corpus_of(tmp_path, {"s1": TEXT})
    assert len(GoldLines(corpus)) == 0 and contradicted_gold(corpus) == []
    corpus.layout.gold.write_text(json.dumps({"not": "gold"}) + "\n")
    assert len(GoldLines(corpus)) == 0
    corpus.close()


def test_a_damaged_later_gold_line_leaves_the_earlier_record_as_the_gold(tmp_path):
    corpus = corpus_of(tmp_path, {"s1": TEXT, "s2": TEXT})
    damaged = '{"snippet_id": "s1", "updated_at": "2026-12-07T11:00:00Z"}'  # a gold line without its record
    corpus.layout.gold.write_text(gold_line("s1", 5, ANA) + "\n" + damaged + "\n" + gold_line("zz", 1, ANA) + "\n")
    write_records(corpus, "ben", record("ben", snippet_id="s1", entities=ANA[:1]).model_copy(update={"updated_at": at(9)}))
    assert contradicted_gold(corpus) == reference(corpus) == [("s1", "ben")]
    corpus.close()
