"""GoldStore keeps where each gold line is, not the records: it validates a record when asked,
and a rewrite copies unchanged lines as their bytes. What it reads and writes equals reading
every line with pydantic and writing every record back (the store before it was lazy)."""

from __future__ import annotations

import copy
import errno
import json
import os
import random

import msgspec
import pytest
from disk_faults import FullDisk
from hypothesis import given, settings
from hypothesis import strategies as st
from index_journals import make_corpus

import curate.store.gold as gold_module
from curate.model import GoldAnnotation
from curate.store import Corpus, SaveFailed, StoreError
from curate.store.lines import record_line

TEXTS = {f"s{index:03d}": f"Story {index} by Reporter {index}.\nPhoto: Agency {index}" for index in range(60)}


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path, TEXTS)


def gold(snippet_id: str, note: str | None = None, adjudicator: str = "carol") -> GoldAnnotation:
    length = len(TEXTS.get(snippet_id, "x" * 12))
    cut = length // 2
    return GoldAnnotation(
        snippet_id=snippet_id, annotator="gold", adjudicator=adjudicator, sources=["ana", "bo"], status="done", note=note,
        stories=[{"start": 0, "end": cut}, {"start": cut, "end": length}],
        entities=[{"start": 0, "end": 5, "label": "PERSON"}], seconds=1.5, updated_at="2026-12-07T10:00:00Z",
    )  # fmt: skip


def pydantic_reading(data: bytes) -> dict[str, GoldAnnotation]:
    """Every valid line read with pydantic, the later line of a snippet winning (the store before)."""
    records: dict[str, GoldAnnotation] = {}
    for line in data.splitlines(keepends=True):
        if line.strip():
            try:
                record = GoldAnnotation.model_validate_json(line)
            except ValueError:
                continue
            records[record.snippet_id] = record
    return records


def whole_rewrite(corpus: Corpus, records: dict[str, GoldAnnotation]) -> bytes:
    """What the store before wrote: every record serialised again, in corpus order, ties by id."""
    missing = len(corpus)

    def key(record: GoldAnnotation) -> tuple[int, str]:
        position = corpus.position(record.snippet_id)
        return (missing if position is None else position, record.snippet_id)

    return b"".join(record_line(record) for record in sorted(records.values(), key=key))


def test_puts_and_removes_write_what_rewriting_every_record_wrote(corpus):
    rng = random.Random(19)
    path = corpus.layout.gold
    # Written out of order, with ids the corpus lacks (kept, placed last by id) and a snippet twice.
    start = [gold(key, note=f"start {key}") for key in rng.sample(sorted(TEXTS), 30)]
    start += [gold("zz-ghost"), gold("aa-ghost"), gold(start[0].snippet_id, note="again")]
    path.write_bytes(b"".join(record_line(record) for record in start))
    store = corpus.gold()
    for step in range(60):
        expected = pydantic_reading(path.read_bytes())
        if step % 5 == 4:
            keys = rng.sample(sorted(expected), 2) + ["s059-never"]
            store.remove(*keys)
            for key in keys:
                expected.pop(key, None)
        else:
            records = [gold(key, note=f"step {step}") for key in rng.sample(sorted(TEXTS), rng.choice([1, 1, 3]))]
            if step % 3:
                store.put(*records)
            else:
                store.put(*records, positions=[corpus.position(record.snippet_id) for record in records])
            expected.update((record.snippet_id, record) for record in records)
        assert path.read_bytes() == whole_rewrite(corpus, expected)
        assert len(store) == len(expected) and sorted(store.records) == sorted(expected)
        assert all(store.get(key) == record for key, record in expected.items())
        assert {key: record for key, record in Corpus.open(corpus.path).gold().records.items()} == expected


def test_lines_are_validated_only_when_pydantic_must_decide_or_a_record_is_asked_for(corpus, monkeypatch):
    path = corpus.layout.gold
    path.write_bytes(b"".join(record_line(gold(key)) for key in sorted(TEXTS)))
    calls = []
    real = GoldAnnotation.model_validate_json
    monkeypatch.setattr(GoldAnnotation, "model_validate_json", lambda line, *a, **k: calls.append(line) or real(line, *a, **k))
    store = corpus.gold()
    assert calls == [] and len(store) == 60 and "s007" in store and "s999" not in store and store.problems == []
    assert store.get("s007") == gold("s007") and len(calls) == 1
    assert store.get("s007") is store.get("s007") and len(calls) == 1  # the last records asked are kept
    assert store.get("s999") is None
    escaped = record_line(gold("s100-x")).replace(b'"ana"', b'"\\u0061na"')  # a \u escape: pydantic decides
    path.write_bytes(path.read_bytes() + escaped)
    calls.clear()
    assert len(corpus.gold()) == 61 and calls == [escaped]


def test_a_damaged_line_is_refused_as_before_whether_msgspec_or_pydantic_finds_it(corpus):
    path = corpus.layout.gold
    good = record_line(gold("s001"))
    broken_structure = record_line(gold("s002")).replace(b'"start":0,"end":5', b'"start":5,"end":3')
    broken_json = b'{"snippet_id": "s003", "stories": [ broken\n'
    path.write_bytes(good + broken_structure + b"\n" + broken_json)
    store = corpus.gold()
    assert [problem.line for problem in store.problems] == [2, 4] and len(store) == 1
    with pytest.raises(StoreError, match=r"gold\.jsonl:2: .* \(and 1 more damaged line\(s\)\).*repair or remove the line"):
        store.put(gold("s004"))
    assert path.read_bytes() == good + broken_structure + b"\n" + broken_json


def test_lines_not_written_by_pydantic_are_copied_as_they_are_and_read_the_same(corpus):
    """The store before wrote every line again; copied lines keep their spelling (spaces, key
    order, escapes, CRLF), which every reader of gold.jsonl reads alike. Only a last line
    without its newline gets one, so the next line does not join it."""
    path = corpus.layout.gold
    spaced = json.dumps(json.loads(record_line(gold("s005"))), indent=None).encode() + b"\n"
    reordered = json.dumps(dict(reversed(list(json.loads(record_line(gold("s002"))).items())))).encode() + b"\r\n"
    escaped = record_line(gold("s003")).replace(b'"ana"', b'"\\u0061na"')
    unterminated = record_line(gold("s009")).rstrip(b"\n")
    path.write_bytes(spaced + reordered + escaped + unterminated)
    before = pydantic_reading(path.read_bytes())
    store = corpus.gold()
    store.put(gold("s010"))
    assert path.read_bytes() == reordered + escaped + spaced + unterminated + b"\n" + record_line(gold("s010"))
    assert Corpus.open(corpus.path).gold().records == pydantic_reading(path.read_bytes()) == {**before, "s010": gold("s010")}
    store.put(gold("s001"))  # the copy of a copy is the same line
    assert path.read_bytes().endswith(unterminated + b"\n" + record_line(gold("s010")))


def test_a_store_reads_the_version_it_opened_until_its_next_change(corpus):
    first = corpus.gold()
    first.put(gold("s001", note="one"), gold("s002"))
    second = Corpus.open(corpus.path).gold()
    second.put(gold("s001", note="two"))  # gold.jsonl is replaced: `first` still reads its version
    assert first.get("s001").note == "one" and first.get("s002") == gold("s002")
    first.put(gold("s003"))  # a change merges onto the other writer's version
    assert first.get("s001").note == "two" and sorted(first.records) == ["s001", "s002", "s003"]


@pytest.mark.parametrize("fault", ["full disk", "read error", "interrupted"])
def test_a_failed_rewrite_leaves_gold_and_the_store_as_they_were(corpus, monkeypatch, fault):
    path = corpus.layout.gold
    store = corpus.gold()
    store.put(*[gold(key, note="kept") for key in sorted(TEXTS)[:40]])
    store = Corpus.open(corpus.path).gold()  # its lines read from the file, not held
    before, order = path.read_bytes(), list(store.records)
    with monkeypatch.context() as patch:
        if fault == "full disk":
            FullDisk(corpus.path, patch)
            expected = SaveFailed
        else:  # reading the old lines to copy them fails midway (an I/O error, or Ctrl-C)
            expected = SaveFailed if fault == "read error" else KeyboardInterrupt
            real, reads = os.pread, []

            def pread(fd, length, offset):
                if not os.readlink(f"/proc/self/fd/{fd}").endswith("gold.jsonl"):
                    return real(fd, length, offset)
                reads.append(offset)
                if len(reads) > 1:
                    raise OSError(errno.EIO, os.strerror(errno.EIO)) if expected is SaveFailed else KeyboardInterrupt
                return real(fd, length, offset)

            patch.setattr(os, "pread", pread)
            patch.setattr(gold_module, "_RUN", 64)  # neighbouring lines read one by one
        with pytest.raises(expected):
            store.put(gold("s001", note="changed"), gold("s045"), gold("s050"))
        reads = [0]
        with pytest.raises(expected):
            store.remove("s002", "s045")
    assert path.read_bytes() == before and not [name for name in os.listdir(corpus.path) if name.endswith(".tmp")]
    assert list(store.records) == order and store.get("s001").note == "kept" and "s045" not in store and "s002" in store
    store.put(gold("s045"))
    store.remove("s002")
    expected_records = pydantic_reading(before) | {"s045": gold("s045")}
    del expected_records["s002"]
    assert path.read_bytes() == whole_rewrite(corpus, expected_records)


ODD = st.sampled_from([None, True, 0, -1, 2.5, 12, 30, 31, 2**64, "", "x", "17", [], {}, [1], "\ud800", "é", float("inf")])
FIELDS = st.sampled_from(
    [("snippet_id",), ("annotator",), ("adjudicator",), ("sources",), ("status",), ("seconds",), ("note",), ("updated_at",), ("text_sha256",),
     ("stories",), ("entities",), ("boilerplate",), ("other",), ("stories", 0, "start"), ("stories", 0, "end"), ("stories", 1, "start"),
     ("stories", 1, "end"), ("stories", 1, "truncated"), ("stories", 1, "x"), ("entities", 0, "start"), ("entities", 0, "end"),
     ("entities", 0, "label"), ("entities", 1, "start"), ("boilerplate", 0, "end"), ("boilerplate", 0, "kind")]
)  # fmt: skip


@given(st.lists(st.tuples(FIELDS, ODD | st.just("<drop>")), max_size=3), st.booleans(), st.booleans())
@settings(max_examples=1000, deadline=None)
def test_a_line_found_valid_on_open_is_one_pydantic_accepts(changes, ascii, one_story):
    record = json.loads(record_line(gold("s001")))
    if one_story:
        record["stories"] = [{"start": 0, "end": record["stories"][-1]["end"], "truncated": False}]
    record["boilerplate"] = [{"start": 20, "end": 24, "kind": "credit"}]
    record["entities"].append({"start": 8, "end": 12, "label": "GPE"})
    for path, value in changes:
        target = record
        for key in path[:-1]:
            target = target[key] if isinstance(target, (dict, list)) and (key in target if isinstance(target, dict) else key < len(target)) else None
        if isinstance(target, dict) and isinstance(path[-1], str):
            if value == "<drop>":
                target.pop(path[-1], None)
            else:
                target[path[-1]] = copy.deepcopy(value)  # never the strategy's own list or dict
    line = json.dumps(record, ensure_ascii=ascii).encode("utf-8", "surrogatepass")
    snippet_id = gold_module._quick_gold_id(line)
    if snippet_id is not None:
        assert GoldAnnotation.model_validate_json(line).snippet_id == snippet_id == msgspec.json.decode(line)["snippet_id"]


def test_records_set_in_memory_are_written_by_the_next_change_and_removing_all_leaves_an_empty_file(corpus):
    path = corpus.layout.gold
    store = corpus.gold()
    store.put(gold("s001"), gold("s003"))
    store.records["s002"] = gold("s002", note="set")  # as a desk putting back what it had
    store.put(gold("s004"))
    assert path.read_bytes() == whole_rewrite(corpus, {key: gold(key) for key in ("s001", "s003", "s004")} | {"s002": gold("s002", note="set")})
    assert list(store.records) == ["s001", "s003", "s002", "s004"] and store.get("s002").note == "set"
    store.remove(*store.records, "s050")
    assert path.read_bytes() == b"" and len(store) == 0 and len(Corpus.open(corpus.path).gold()) == 0
    store.put(gold("s007"))
    assert path.read_bytes() == record_line(gold("s007"))
