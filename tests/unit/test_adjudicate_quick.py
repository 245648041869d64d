"""The review desk's quick path: snippets every annotator marked alike go to gold from their raw
journal lines (curate.adjudicate.quick_unanimous, done_lines_by_snippet), giving the same gold
and the same review queue as merging validated records did; GoldStore.put with known positions."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from review_corpora import ANA, LIMA, PHOTO, SECOND, TEXT, corpus_of, record, write_records

from curate.adjudicate import done_records_by_snippet, merge, quick_unanimous
from curate.agreement.disagreement import snippet_disagreement
from curate.model import text_sha256
from curate.reviewing import ReviewDesk
from curate.store import Corpus

AT = "2026-12-07T12:00:00Z"
SHORT = TEXT[:-4]  # another text: a record made for it does not cover TEXT


def line(item) -> bytes:
    return item.model_dump_json().encode()


def without_defaults(raw: bytes) -> str:
    """The same record as JSON with each story's `"truncated": false` left out (a default)."""
    value = json.loads(raw)
    value["stories"] = [{key: item for key, item in story.items() if key != "truncated" or item} for story in value["stories"]]
    return json.dumps(value)


marks = st.fixed_dictionaries(
    {
        "starts": st.sampled_from([(SECOND,), (), (PHOTO, SECOND)]),
        "truncated_last": st.booleans(),
        "boilerplate": st.sampled_from([((PHOTO, PHOTO + 14, "credit"),), ()]),
        "entities": st.sampled_from([ANA, ANA[:2], ((0, 9, "ORG"), (LIMA, LIMA + 4, "GPE")), ()]),
    }
)
made_for = st.sampled_from(["this text", "this text", "no hash", "another text", "a shorter text"])


def annotator_record(name: str, chosen: dict, how: str):
    text = SHORT if how == "a shorter text" else TEXT
    item = record(name, text=text, **chosen)
    if how in ("no hash", "a shorter text"):
        item = item.model_copy(update={"text_sha256": None})
    if how == "another text":
        item = item.model_copy(update={"text_sha256": text_sha256("something else")})
    return item


@settings(max_examples=300, deadline=None)
@given(
    chosen=st.lists(marks, min_size=2, max_size=3),
    how=st.lists(made_for, min_size=3, max_size=3),
    alike=st.booleans(),
)
def test_the_quick_gold_is_the_unanimous_merge_whenever_it_gives_one(chosen, how, alike):
    names = ["ana", "ben", "cy"][: len(chosen)]
    if alike:
        chosen = [chosen[0]] * len(chosen)
    records = {name: annotator_record(name, marks, made) for name, marks, made in zip(names, chosen, how)}
    quick = quick_unanimous({name: line(item) for name, item in records.items()}, TEXT, "judge", updated_at=AT)
    current = {name: item for name, item in records.items() if item.text_sha256 in (None, text_sha256(TEXT))}
    merged = merge(current, TEXT, "unanimous", "judge").record if len(current) == len(records) else None
    if quick is not None:
        assert merged is not None
        assert quick == merged.model_copy(update={"updated_at": AT})
    if alike and all(made in ("this text", "no hash") for made in how[: len(names)]):
        assert quick is not None  # the usual agreed snippet takes the quick path


def test_quick_gold_refuses_what_it_cannot_tell_from_the_lines():
    ana = record("ana", entities=ANA)
    assert quick_unanimous({"ana": line(ana), "ben": b'{"snippet_id": "s1", broken'}, TEXT, "judge") is None
    # The same marks written differently (a default left out): not the same JSON, so not quick.
    assert quick_unanimous({"ana": line(ana), "ben": without_defaults(line(ana)).encode()}, TEXT, "judge") is None


def old_desk(corpus, min_annotators=2):
    """What the desk decided before the quick path: every done record validated and merged."""
    gold, queue = {}, {}
    for position, records in done_records_by_snippet(corpus):
        if len(records) < min_annotators:
            continue
        text = corpus.snippet(position).text
        records = {name: item for name, item in records.items() if item.text_sha256 in (None, text_sha256(text))}
        if len(records) < min_annotators:
            continue
        unanimous = merge(records, text, "unanimous", "judge").record
        if unanimous is not None:
            gold[unanimous.snippet_id] = unanimous.model_copy(update={"updated_at": None})
        else:
            queue[position] = snippet_disagreement(records)
    return gold, sorted(queue, key=lambda position: (-queue[position], position))


def test_the_desk_accepts_and_queues_what_merging_every_record_did(tmp_path):
    texts = {f"s{number}": TEXT for number in range(1, 9)}
    texts["s7"] = SHORT
    corpus = corpus_of(tmp_path, texts)
    differs = ((0, 9, "PERSON"), (14, 23, "GPE"))
    ana = [record("ana", snippet_id=key, entities=ANA, text=texts[key]) for key in texts]
    ben = [
        record("ben", snippet_id="s1", entities=ANA),  # agreed: quick
        record("ben", snippet_id="s2", entities=differs),  # a disagreement: queued
        record("ben", snippet_id="s3", entities=ANA).model_copy(update={"text_sha256": text_sha256("old text")}),  # stale: too few left
        record("ben", snippet_id="s4", entities=ANA).model_copy(update={"text_sha256": None}),  # agreed, no hash: quick
        record("ben", snippet_id="s5", starts=()),  # story starts differ: queued
        record("ben", snippet_id="s7", entities=ANA, text=SHORT),  # agreed on another text
        record("ben", snippet_id="s8", entities=ANA),  # agreed, but written without a default (below): slow path
    ]
    write_records(corpus, "ana", *ana)
    write_records(corpus, "ben", *ben)
    journal = corpus.path / "annotations" / "ben.jsonl"
    with journal.open("a") as handle:  # s8 saved again, the same marks in other JSON
        handle.write(without_defaults(line(ben[-1])) + "\n")
    corpus.close()
    with Corpus.open(tmp_path / "c") as reference:
        expected_gold, expected_queue = old_desk(reference)
    desk = ReviewDesk(Corpus.open(tmp_path / "c"), "judge")
    try:
        on_disk = [json.loads(text) for text in (tmp_path / "c" / "gold.jsonl").read_text().splitlines()]
        got = {item["snippet_id"]: {**item, "updated_at": None} for item in on_disk}
        assert got == {key: json.loads(value.model_dump_json()) for key, value in expected_gold.items()}
        assert sorted(got) == ["s1", "s4", "s7", "s8"]
        assert desk.queue == expected_queue and len(desk.queue) == 2
        assert [item["snippet_id"] for item in on_disk] == sorted(got, key=lambda key: int(key[1:]))  # corpus order
    finally:
        desk.close()


def test_gold_put_with_known_positions_looks_none_up_and_writes_in_corpus_order(tmp_path, monkeypatch):
    from curate.model import GoldAnnotation
    from curate.store import StoreError

    corpus = corpus_of(tmp_path, {"s1": TEXT, "s2": TEXT, "s3": TEXT})
    gold = corpus.gold()

    def accepted(snippet_id: str) -> GoldAnnotation:
        base = record("judge", snippet_id=snippet_id, entities=ANA)
        return GoldAnnotation(**{**dict(base), "sources": ["ana", "ben"], "adjudicator": "judge"})

    gold.put(accepted("s2"))  # looked up: the corpus knows s2

    def refuse(snippet_id):
        raise AssertionError(f"looked up {snippet_id}")

    monkeypatch.setattr(corpus, "position", refuse)
    gold.put(accepted("s3"), accepted("s1"), positions=[2, 0])
    ids = [json.loads(text)["snippet_id"] for text in corpus.layout.gold.read_text().splitlines()]
    assert ids == ["s1", "s2", "s3"]
    monkeypatch.undo()
    reread = corpus.gold()  # another store reading the file: positions found by id, same order kept
    reread.put(accepted("s2"))
    assert [json.loads(text)["snippet_id"] for text in corpus.layout.gold.read_text().splitlines()] == ["s1", "s2", "s3"]
    try:
        reread.put(accepted("nope"))
    except StoreError as error:
        assert "'nope' is not in" in str(error)
    else:
        raise AssertionError("an unknown snippet was accepted into gold")
    corpus.close()


def old_merge_corpus(corpus, strategy: str, min_annotators: int = 2):
    """merge_corpus's decisions before the quick path: (gold records without their times, report)."""
    gold, too_few, review = {}, 0, []
    for position, records in done_records_by_snippet(corpus):
        snippet = corpus.snippet(position)
        if len(records) < min_annotators:
            too_few += 1
            continue
        stale = [name for name, item in records.items() if item.text_sha256 not in (None, text_sha256(snippet.text))]
        if stale:
            review.append((snippet.id, f"the text changed under the records of {', '.join(stale)}"))
            continue
        result = merge(records, snippet.text, strategy, f"auto:{strategy}")
        if result.record is None:
            review.append((snippet.id, result.reason))
            continue
        gold[snippet.id] = json.loads(result.record.model_copy(update={"updated_at": None}).model_dump_json())
    return gold, too_few, review


def test_merge_corpus_merges_what_merging_every_record_did(tmp_path):
    from curate.adjudicate import merge_corpus

    texts = {f"s{number}": TEXT for number in range(1, 7)}
    corpus = corpus_of(tmp_path, texts)
    differs = ((0, 9, "PERSON"), (14, 23, "GPE"))
    write_records(corpus, "ana", *[record("ana", snippet_id=key, entities=ANA) for key in texts])
    write_records(corpus, "ben", record("ben", snippet_id="s1", entities=ANA), record("ben", snippet_id="s2", entities=differs),
                  record("ben", snippet_id="s3", entities=ANA).model_copy(update={"text_sha256": text_sha256("old")}), record("ben", snippet_id="s5", entities=ANA))
    write_records(corpus, "cy", record("cy", snippet_id="s1", entities=ANA), record("cy", snippet_id="s2", entities=ANA), record("cy", snippet_id="s5", entities=differs))
    corpus.close()
    for strategy in ("unanimous", "majority"):
        with Corpus.open(tmp_path / "c") as reference:
            expected, too_few, review = old_merge_corpus(reference, strategy)
        with Corpus.open(tmp_path / "c") as current:
            report = merge_corpus(current, strategy)
            on_disk = [json.loads(text) for text in current.layout.gold.read_text().splitlines()] if report.merged else []
            current.layout.gold.unlink(missing_ok=True)
        assert {item["snippet_id"]: {**item, "updated_at": None} for item in on_disk} == expected
        assert (report.merged, report.too_few, report.left_for_review) == (len(expected), too_few, review)
    assert sorted(expected) == ["s1", "s2", "s5"]  # majority: s2 and s5 by two of three
