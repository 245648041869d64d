"""Attacks on the fast strict check (curate/store/strict.py) and the strict block scan
(curate/store/scan.py): a journal line it accepts must be one ``Annotation.model_validate_json``
accepts with an equal record, and a rebuild read in blocks (alone, on two cores, in small
blocks, split at a damaged line) must give the index, problems, line numbers, unknown ids and
torn tail of the line-by-line strict scan, for lines built to find where msgspec and numpy
differ from pydantic: odd escapes and surrogates, repeated keys, numbers at and past the
bounds, whitespace and BOMs, trailing values, odd ids, spans at story edges."""

import json
import random
import struct

import msgspec
import numpy as np
import pytest
from index_journals import TEXTS, fresh_state, make_corpus, state
from strict_answers import block_and_alone, fast_record, pydantic_record

import curate.agreement.service as agreement_service
import curate.store.scan as scan
from curate.agreement import agreement
from curate.model import MAX_OFFSET, GoldAnnotation
from curate.store import Corpus, CorpusLayout, halves
from curate.store.errors import StoreError
from curate.store.journal import Journal
from curate.store.scan import decode_whole_lines, line_ends
from curate.store.snippets import SnippetIndex
from curate.store.strict import RECORDS

# Ids JSON may spell with escapes, not ASCII, past the BMP, with '/', and long.
ODD_IDS = ["caf\u00e9", "a/b", "\U0001f600x", "sp ace", "y" * 250, "z" * 260, "\u2028"]
TEXTS_ODD = TEXTS | {key: f"Odd {number}.\nStory two." for number, key in enumerate(ODD_IDS)}
LENGTH = len(TEXTS["s1"])


def rec(snippet_id="s1", stories=None, **changes) -> str:
    text = TEXTS_ODD.get(snippet_id, "x" * 10)
    record = {"snippet_id": snippet_id, "annotator": "ana", "stories": stories or [{"start": 0, "end": len(text)}], "status": "done"}
    return json.dumps(record | changes, ensure_ascii=False)


HEAD = '"annotator": "ana", "stories": [{"start": 0, "end": %d}]' % LENGTH
# Lines pydantic accepts whose spelling is odd.
ODD_VALID = [
    '{"snippet\\u005fid": "s1", ' + HEAD + "}",  # an escaped key
    '{"snippet_id": 5, "snippet_id": "s16", ' + HEAD + "}",  # repeated key, the first invalid: pydantic reads only the last
    '{"snippet_id": "s0", "snippet_id": "s2", ' + HEAD.replace(str(LENGTH), str(len(TEXTS["s2"]))) + "}",  # repeated key: the last wins
    '{"snippet_id": "s3", ' + HEAD + ', "status": "d\\u006fne"}',  # an escaped enum value
    '{"snippet_id": "s4", ' + HEAD + ', "note": "nul \\u0000 \\ud83d\\ude00 \\/"}',
    '{"snippet_id": "s5", ' + HEAD + ', "seconds": -0}',
    '{"snippet_id": "s6", ' + HEAD + ', "seconds": -0.0}',
    '{"snippet_id": "s7", ' + HEAD + ', "seconds": 123456789012345678901234567890}',
    '{"snippet_id": "s8", ' + HEAD + ', "seconds": 1e-400}',
    '{"snippet_id": "s9", ' + HEAD + ', "seconds": 0.1000000000000000055511151231257827021181583404541015625}',
    ' \t{"snippet_id": "s10", ' + HEAD + "}\t \r",  # JSON whitespace around the object, CRLF
    '{ "snippet_id" : "s11" ,\t' + HEAD + " }",
    '{"snippet_id": "s12", ' + HEAD + ', "entities": [{"start": 0, "end": %d, "label": "ORG"}]}' % LENGTH,  # an entity over the whole story
    '{"snippet_id": "s13", "annotator": "ana", "stories": [{"start": 0, "end": 5}, {"start": 5, "end": %d}], '
    '"entities": [{"start": 4, "end": 5, "label": "O"}, {"start": 5, "end": 6, "label": "O"}], "boilerplate": [{"start": 5, "end": %d, "kind": "k"}]}' % (LENGTH, LENGTH),
    '{"snippet_id": "s14", ' + HEAD + ', "status": null, "note": null, "text_sha256": null, "updated_at": null, "entities": [], "boilerplate": []}',
    '{"snippet_id": "s2", "annotator": "ana", "stories": [{"start": 0, "end": %d}]}' % MAX_OFFSET,  # pydantic's to decide
    '{"snippet_id": "s15", "annotator": "\\u00e9", "stories": [{"start": 0, "end": %d, "truncated": true}]}' % LENGTH,
]
# Lines pydantic refuses, each for one reason.
ODD_INVALID = [
    "\ufeff" + rec("s16"),  # a BOM
    '{"snippet_id": "\\ud800", ' + HEAD + "}",  # a lone surrogate
    '{"snippet_id": "\\udc00x", ' + HEAD + "}",
    '{"snippet_id": "s17", "snippet_id": 5, ' + HEAD + "}",  # repeated key, the last invalid
    rec("s18") + " x",  # trailing garbage
    rec("s18") + " " + rec("s19"),  # two objects
    rec("s18") + " []",
    rec("s20", seconds=1.5).replace("1.5", "1e400"),
    rec("s20", seconds=-1),
    rec("s21", stories=[{"start": 0, "end": 1.0}]),
    rec("s21", stories=[{"start": 0, "end": True}]),
    rec("s21", stories=[{"start": 0, "end": MAX_OFFSET + 1}]),
    rec("s21", stories=[{"start": 0, "end": 2**64}]),
    rec("s21", stories=[{"start": -0, "end": 0}]),
    rec("s21", stories=[{"start": 0, "end": 5}, {"start": 6, "end": LENGTH}]),
    rec("s21", stories=[{"start": 0, "end": 5}, {"start": 5, "end": 5}]),
    rec("s22", entities=[{"start": 4, "end": 6, "label": "ORG"}], stories=[{"start": 0, "end": 5}, {"start": 5, "end": LENGTH}]),
    rec("s22", entities=[{"start": len(TEXTS["s22"]), "end": len(TEXTS["s22"]) + 1, "label": "ORG"}]),
    rec("s22", boilerplate=[{"start": 3, "end": 3, "kind": "ad"}]),
    rec("s22", entities=[{"start": 3, "end": 5, "label": "ORG"}, {"start": 1, "end": 2, "label": "ORG"}]),
    rec("s22", entities=[{"start": 3, "end": 5, "label": "ORG"}, {"start": 3, "end": 5, "label": "ORG"}]),
    rec("s22", entities=[{"start": 3, "end": 5, "label": ""}]),
    rec("s23", boilerplate=None),
    rec("s23", status="Done"),
    rec("s23", extra=1),
    rec("s23", annotator=""),
    rec("s23", seconds=True),
    rec("s23", note=5),
    rec("s23", text_sha256=["a"]),
    rec("s23", stories=[[[[[[[[[[[[]]]]]]]]]]]]),
    '{"snippet_id": "s24", "note": ' + "[" * 5000 + "]" * 5000 + ", " + HEAD + "}",
    '{"snippet_id": "s24", ' + HEAD + ', "seconds": NaN}',
    '{"snippet_id": "s24", ' + HEAD + ', "seconds": Infinity}',
    "null",
    "[]",
    "5",
    '"s1"',
    "\x00",
]
# Bytes that are not UTF-8 (invalid, overlong, an encoded surrogate) in a string.
BAD_BYTES = [b'{"snippet_id": "' + bad + b'", ' + HEAD.encode() + b"}" for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82")]


def all_lines() -> list[bytes]:
    return [text.encode("utf-8", "surrogatepass") for text in ODD_VALID + ODD_INVALID] + BAD_BYTES


def test_every_attack_line_the_fast_check_accepts_is_read_equal_by_pydantic():
    accepted_lines = 0
    for line in all_lines():
        fast, strict = fast_record(line), pydantic_record(line)
        if fast is not None:
            assert strict is not None, line
            builtins, dumped = msgspec.to_builtins(fast), strict.model_dump()
            assert builtins == dumped, line
            assert [type(builtins[key]) for key in dumped] == [type(value) for value in dumped.values()], line
            accepted_lines += 1
    assert accepted_lines >= len(ODD_VALID) - 2  # the check is worth having on odd spellings too
    for line in ODD_VALID:
        assert pydantic_record(line.encode()) is not None, line
    for line in ODD_INVALID:
        assert pydantic_record(line.encode("utf-8", "surrogatepass")) is None, line


def test_a_block_of_attack_lines_gets_each_lines_own_answer():
    together, alone = block_and_alone(all_lines())
    assert np.array_equal(together, alone)
    assert together.sum() >= len(ODD_VALID) - 2 and (~together).sum() >= 8


def test_seconds_written_oddly_are_read_as_pydantic_reads_them():
    # Long mantissas, numbers at halfway points between doubles, huge ints and subnormals: the
    # fast check's float is pydantic's float, or the line is left to pydantic.
    rng = random.Random(7)
    numbers = []
    for _ in range(800):
        mantissa = rng.getrandbits(53) | (1 << 52)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(17, 40)))
        numbers += [
            str(((2 * mantissa + 1) << rng.randint(0, 900)) + rng.choice([-1, 0, 1])),  # halfway (or next to it) between two doubles
            f"{digits[0]}.{digits[1:]}e{rng.randint(-340, 310)}",
            repr(struct.unpack("d", struct.pack("Q", rng.getrandbits(63)))[0]),
            str(rng.getrandbits(rng.randint(54, 1100))),
        ]
    compared = 0
    for number in numbers:
        line = ('{"snippet_id": "s1", ' + HEAD + ', "seconds": ' + number + "}").encode()
        fast = fast_record(line)
        if fast is not None:
            strict = pydantic_record(line)
            assert strict is not None and strict.seconds == fast.seconds and type(strict.seconds) is float, number
            compared += 1
    assert compared > len(numbers) // 2


# ---- whole rebuilds compared


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path, TEXTS_ODD)


def rebuilt(corpus, monkeypatch, *, blocks: bool, split: bool = False, block_bytes: int | None = None, middle=None, forks=None):
    monkeypatch.setattr(scan, "STRICT_BLOCK_BYTES", 0 if blocks else 1 << 40)
    monkeypatch.setattr(halves, "SPLIT_BYTES", 600 if split else 1 << 40)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
    if block_bytes:
        monkeypatch.setattr(scan, "_BLOCK_BYTES", block_bytes)
    if middle is not None:
        monkeypatch.setattr(scan, "middle_line_start", lambda fd, start, end, share=None: middle)
    if forks is not None:
        monkeypatch.setattr(scan, "fork_child", lambda work, real=scan.fork_child: forks.append(1) or real(work))
    with Corpus.open(corpus.path) as opened, opened.journal("ana") as journal:
        journal.rebuild()
        result = state(journal), journal.index.seconds.tolist(), journal.index.checked, journal.line_count, journal.index.facts
        tail = journal.tail_problem
    monkeypatch.undo()
    return result, tail and (tail.line, tail.reason, tail.torn)


def journal_text_lines() -> list[bytes]:
    lines = [rec(key).encode() for key in list(TEXTS)[:30]]
    lines += all_lines()
    lines += [rec(key, status="skipped").encode() for key in ODD_IDS]
    lines += [rec("ghost").encode(), rec("caf\u00e9", status="flagged").encode(), b"", b"   ", b"\r", b"\x0c"]
    lines += [rec(key, status="flagged").encode() for key in list(TEXTS)[25:40]]
    lines += [rec("ghost", status=None).encode(), json.dumps({"snippet_id": "a/b", "annotator": "ana", "stories": [{"start": 0, "end": len(TEXTS_ODD["a/b"])}]}).encode()]
    return lines


def write(corpus, lines, tail=b""):
    path = corpus.journal_path("ana")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines) + tail)
    return path


def test_attack_journal_rebuilt_in_blocks_equals_line_by_line(corpus, monkeypatch):
    write(corpus, journal_text_lines(), tail=rec("s2").encode()[:40])
    one = rebuilt(corpus, monkeypatch, blocks=False)
    assert one[0][2] and one[1] is not None and one[1][2]  # checked, a torn tail
    assert rebuilt(corpus, monkeypatch, blocks=True) == one
    assert rebuilt(corpus, monkeypatch, blocks=True, block_bytes=300) == one
    assert rebuilt(corpus, monkeypatch, blocks=True, split=True) == one


def test_a_split_at_each_damaged_line_gives_the_line_by_line_rebuild(corpus, monkeypatch):
    lines = journal_text_lines()
    path = write(corpus, lines, tail=b'{"snippet_id": "s1", "annot')
    one = rebuilt(corpus, monkeypatch, blocks=False)
    starts = np.concatenate(([0], np.cumsum([len(line) + 1 for line in lines])))
    damaged = {problem[0] for problem in one[0][0]["problems"]}
    assert len(damaged) > 30
    # The split just at, and just after, damaged and blank lines (and at the torn tail).
    blank = [number for number, line in enumerate(lines, start=1) if not line.strip()]
    chosen = sorted(damaged)[::4] + blank + [len(lines) + 1]
    for number in chosen:
        for middle in {int(starts[number - 1]), int(starts[min(number, len(lines))])}:
            if middle >= path.stat().st_size:
                continue
            forks = []
            assert rebuilt(corpus, monkeypatch, blocks=True, split=True, middle=middle, forks=forks) == one, number
            assert forks == [1]


def test_a_journal_that_is_only_damaged_lines_and_a_torn_tail(corpus, monkeypatch):
    write(corpus, [line.encode("utf-8", "surrogatepass") for line in ODD_INVALID] + BAD_BYTES, tail=b"\xe2\x82")
    one = rebuilt(corpus, monkeypatch, blocks=False)
    assert one[0][0]["statuses"].count("-") == len(TEXTS_ODD) and one[1] is not None
    assert rebuilt(corpus, monkeypatch, blocks=True) == one
    assert rebuilt(corpus, monkeypatch, blocks=True, split=True) == one


def test_ids_spelled_oddly_in_a_hand_written_snippets_file_are_found_as_line_by_line(tmp_path, monkeypatch):
    # snippets.jsonl from another tool: no space after the colon, the id not first, escapes for
    # plain characters, raw UTF-8, an escaped '/', a repeated "id" key (the first is what
    # Corpus.snippet_id peeks at): the block rebuild finds the same snippets as the line-by-line one.
    corpus = make_corpus(tmp_path, {f"s{number}": f"Text {number}." for number in range(9)})
    rows = [
        b'{"id":"s0", "text": "Text 0."}',
        b'{"text": "Text 1.", "id": "s1"}',
        b'{"id": "s\\u0032", "text": "Text 2."}',
        '{"id": "caf\u00e9", "text": "Text 3."}'.encode(),
        b'{"id": "caf\\u00e9x", "text": "Text 4."}',
        b'{"id": "a\\/b", "text": "Text 5."}',
        b'{"id": "zz", "id": "s6", "text": "Text 6."}',
        b'{"id": "' + b"w" * 250 + b'", "text": "Text 7."}',
        b'{"id": "s8", "text": "Text 8."}',
    ]
    corpus.snippets_path.write_bytes(b"".join(row + b"\n" for row in rows))
    ids = ["s0", "s1", "s2", "caf\u00e9", "caf\u00e9x", "a/b", "s6", "zz", "w" * 250, "s8", "s\\u0032"]
    write(corpus, [json.dumps({"snippet_id": key, "annotator": "ana", "stories": [{"start": 0, "end": 7}], "status": "done"}, ensure_ascii=flag).encode() for key in ids for flag in (True, False)])
    one = rebuilt(corpus, monkeypatch, blocks=False)
    assert one[0][0]["statuses"].count("done") >= 7
    assert rebuilt(corpus, monkeypatch, blocks=True) == one
    assert rebuilt(corpus, monkeypatch, blocks=True, split=True) == one


def test_a_block_with_a_few_damaged_lines_sends_only_those_to_pydantic(corpus, monkeypatch):
    lines = [rec(key).encode() for key in list(TEXTS)[:40]]
    lines[7] = b'{"snippet_id": "s7", "stories": []}'
    lines[20] = rec("s20").encode() + b" x"
    lines[33] = rec("s33", seconds=-1).encode()
    write(corpus, lines)
    one = rebuilt(corpus, monkeypatch, blocks=False)
    parsed = []
    real_parse = scan.LineScanner.parse

    def counted(self, line):
        parsed.append(line)
        return real_parse(self, line)

    monkeypatch.setattr(scan.LineScanner, "parse", counted)
    assert rebuilt(corpus, monkeypatch, blocks=True) == one
    assert parsed == [lines[7] + b"\n", lines[20] + b"\n", lines[33] + b"\n"]
    assert [problem[0] for problem in one[0][0]["problems"]] == [8, 21, 34]


def test_a_journal_of_gold_records_is_rebuilt_by_pydantic_alone_as_line_by_line(corpus, monkeypatch):
    # A record type other than Annotation: the fast check (made for Annotation) must not place
    # an Annotation line lacking `adjudicator`, nor refuse one with `sources`.
    lines = [rec(key).encode() for key in list(TEXTS)[:10]]
    lines += [rec(key, adjudicator="judge", sources=["ana"]).encode() for key in list(TEXTS)[5:15]]
    lines += [rec("s16", adjudicator="judge", sources=[1]).encode(), *all_lines()]
    write(corpus, lines)

    def gold_rebuilt(blocks: bool, split: bool = False):
        monkeypatch.setattr(scan, "STRICT_BLOCK_BYTES", 0 if blocks else 1 << 40)
        monkeypatch.setattr(halves, "SPLIT_BYTES", 600 if split else 1 << 40)
        monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)
        with Corpus.open(corpus.path) as opened:
            with Journal(opened, opened.journal_path("ana"), record_type=GoldAnnotation) as journal:
                journal.rebuild()
                result = state(journal)
        monkeypatch.undo()
        return result

    one = gold_rebuilt(False)
    placed = [key for key, status in zip(TEXTS_ODD, one["statuses"]) if status != "-"]
    assert placed == [f"s{number}" for number in range(5, 15)]
    assert gold_rebuilt(True) == one and gold_rebuilt(True, split=True) == one


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n", b"\n\n \n", rec("s1").encode(), rec("s1").encode() + b"\r", b"\n" + rec("s1").encode()[:-1], rec("s1", status=None).encode() + b"\n" + rec("s1").encode()])
def test_short_journals_and_their_tails_are_rebuilt_in_blocks_as_line_by_line(corpus, monkeypatch, content):
    write(corpus, [], tail=content)
    one = rebuilt(corpus, monkeypatch, blocks=False)
    assert rebuilt(corpus, monkeypatch, blocks=True) == one


# ---- two records joined by a comma on one line


def test_two_records_joined_by_a_comma_on_one_line_are_not_read_as_two_lines():
    # `{...},{...}` on one line: pydantic refuses it (trailing characters); the block reading
    # (a JSON array of the lines) must not take it for two lines' records.
    one, two = rec("s1"), rec("s2")
    assert pydantic_record(f"{one},{two}".encode()) is None
    data = f"{rec('s3')}\n{one},{two}\n{rec('s4')}\n".encode()
    for decoder in (RECORDS, scan._SKELETONS):
        records = decode_whole_lines(decoder, data, line_ends(data))
        assert records is None or len(records) == 3


def test_a_rebuild_in_blocks_reports_two_records_joined_by_a_comma_as_one_damaged_line(corpus, monkeypatch):
    lines = [rec("s3").encode(), f"{rec('s1')},{rec('s2', status='skipped')}".encode(), rec("s4").encode()]
    write(corpus, lines)
    one = rebuilt(corpus, monkeypatch, blocks=False)
    assert [problem[0] for problem in one[0][0]["problems"]] == [2]
    assert rebuilt(corpus, monkeypatch, blocks=True) == one
    assert rebuilt(corpus, monkeypatch, blocks=True, split=True) == one


def test_a_quick_scan_reports_two_records_joined_by_a_comma_as_one_damaged_line(corpus, monkeypatch):
    lines = [rec("s3").encode(), f"{rec('s1')},{rec('s2', status='skipped')}".encode(), rec("s4").encode()]
    write(corpus, lines)
    one = rebuilt(corpus, monkeypatch, blocks=False)
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)
    quick, checked, _ = fresh_state(corpus)  # no saved index: a quick scan
    assert not checked and quick == one[0][0]


def test_a_snippet_index_refuses_two_snippets_joined_by_a_comma_on_one_line(tmp_path):
    corpus = make_corpus(tmp_path, {"a": "Alpha text.", "b": "Beta text.", "c": "Gamma text."})
    lines = corpus.snippets_path.read_bytes().splitlines()
    corpus.snippets_path.write_bytes(lines[0] + b"," + lines[1] + b"\n" + lines[2] + b"\n")
    with pytest.raises(StoreError, match=r":1: not a snippet record"):
        SnippetIndex.build_here(corpus.snippets_path)


def test_damaged_lines_at_the_edges_of_the_lines_checked_at_a_time(corpus, monkeypatch):
    # More lines than scan._CHECK_LINES in a block, damage just before, at and after each share's edge.
    keys = list(TEXTS)
    lines = [rec(keys[number % len(keys)], status=("done", "skipped", None)[number % 3]).encode() for number in range(1100)]
    damage = {0: b"{", 510: rec("s1", seconds=-1).encode(), 511: b'{"snippet_id": 5}', 512: b"", 513: rec("ghost").encode(),
              1023: rec("s2", extra=1).encode(), 1024: b"   ", 1025: rec("s3", stories=[{"start": 0, "end": 0}]).encode(), 1099: b"[]"}
    for number, line in damage.items():
        lines[number] = line
    write(corpus, lines)
    one = rebuilt(corpus, monkeypatch, blocks=False)
    assert [problem[0] for problem in one[0][0]["problems"]] == [1, 511, 512, 514, 1024, 1026, 1100]
    assert rebuilt(corpus, monkeypatch, blocks=True) == one
    assert rebuilt(corpus, monkeypatch, blocks=True, block_bytes=40_000) == one
    assert rebuilt(corpus, monkeypatch, blocks=True, split=True) == one


# ---- agreement on journals a quick scan indexed (Journal.read_unchecked, complete_check)


def oddly_spelled(record: dict, number: int) -> str:
    """A valid record line spelled as another tool might: an escaped key, a repeated key whose
    first value msgspec refuses, whitespace and CR, keys reversed, an escaped status."""
    line = json.dumps(record)
    return [
        line.replace('"snippet_id"', '"snippet\\u005fid"'),
        '{"snippet_id": 5, ' + line[1:],
        " " + line + "\r",
        json.dumps(dict(reversed(list(record.items())))),
        line.replace('"status": "done"', '"status": "d\\u006fne"'),
        line[:-1] + ', "seconds": -1, "seconds": 3}',
    ][number % 6]


@pytest.mark.parametrize("processes", [1, 2])
def test_agreement_reads_oddly_spelled_lines_unchecked_as_a_strict_rebuild_would(corpus, monkeypatch, processes):
    keys = list(TEXTS)
    for shift, name in enumerate(("ana", "ben")):
        lines = []
        for number, key in enumerate(keys):
            text = TEXTS[key]
            start = text.index("Reporter") + shift * 9
            record = {"snippet_id": key, "annotator": name, "stories": [{"start": 0, "end": len(text)}], "status": "done" if number % 7 else "skipped",
                      "entities": [{"start": start, "end": start + 8, "label": "PERSON"}]}
            lines.append(oddly_spelled(record, number + shift).encode())
        path = corpus.journal_path(name)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"".join(line + b"\n" for line in lines))
    monkeypatch.setattr(agreement_service, "PARALLEL_MIN_SNIPPETS", 0)
    rebuilds = []
    real_rebuild = Journal.rebuild
    monkeypatch.setattr(Journal, "rebuild", lambda journal: rebuilds.append(journal.path.name) or real_rebuild(journal))

    def report(quick: bool):
        for index_path in CorpusLayout(corpus.path).journal_indexes.glob("*"):
            index_path.unlink()
        with monkeypatch.context() as patch:
            patch.setattr(scan, "QUICK_SCAN_BYTES", 0 if quick else 1 << 40)
            with Corpus.open(corpus.path) as opened:
                found = agreement(opened, ranking_size=20, processes=processes)
        return json.dumps(found.to_json(), sort_keys=True), found.ranking

    unchecked = report(quick=True)
    assert rebuilds == []  # every line a record the quick index places: read unchecked, no rebuild
    assert unchecked == report(quick=False)
