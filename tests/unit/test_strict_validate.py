"""curate.store.strict against the store's model: a journal line the fast check accepts is one
``Annotation.model_validate_json`` accepts, with an equal record, over many generated and
mutated lines (valid records, records broken in every field and rule of the model, and lines
with bytes changed at random); a block of lines checked at once gets each line's own answer;
and the fast check accepts valid records (it is worth having)."""

import json
import random

import msgspec
import numpy as np
import pytest
from strict_answers import block_and_alone, fast_record, pydantic_record

from curate.model import MAX_OFFSET

LABELS = ("ORG", "PERSON", "")
KINDS = ("caption", "ad", "")
ODD_VALUES = (None, True, False, 0, -1, 1, 2.0, 1.5, -0.0, "", "x", "done", [], {}, [1], {"start": 0},
              MAX_OFFSET, MAX_OFFSET + 1, 2**64, -(2**63), 10**30, 1e308, 3, "\u2028", "é")


def valid_record(rng: random.Random) -> dict:
    stories, start = [], 0
    for _ in range(rng.randint(1, 4)):
        end = start + rng.randint(1, 60)
        story = {"start": start, "end": end}
        if rng.random() < 0.5:
            story["truncated"] = rng.random() < 0.5
        stories.append(story)
        start = end
    spans = []
    for story in stories:
        position = story["start"]
        while position < story["end"] - 1 and rng.random() < 0.7:
            begin = rng.randint(position, story["end"] - 1)
            finish = rng.randint(begin + 1, story["end"])
            spans.append((begin, finish))
            position = finish
    entities, boilerplate = [], []
    for begin, finish in spans:
        if rng.random() < 0.7:
            entities.append({"start": begin, "end": finish, "label": rng.choice(LABELS[:2])})
        else:
            boilerplate.append({"start": begin, "end": finish, "kind": rng.choice(KINDS[:2])})
    record = {"snippet_id": f"s{rng.randint(0, 99)}", "annotator": rng.choice(["ana", "bo", "model:x"]), "stories": stories}
    optional = {
        "text_sha256": rng.choice([None, "0" * 64, "abc"]),
        "entities": entities,
        "boilerplate": boilerplate,
        "status": rng.choice([None, "done", "skipped", "flagged"]),
        "note": rng.choice([None, "a note"]),
        "seconds": rng.choice([0, 0.0, 12.5, 3, 1e-300]),
        "updated_at": rng.choice([None, "2026-01-01T00:00:00Z"]),
    }
    for key, value in optional.items():
        if rng.random() < 0.8:
            record[key] = value
    return record


def spans_of(record: dict) -> list[dict]:
    return [span for key in ("stories", "entities", "boilerplate") for span in record.get(key, [])]


def mutated(record: dict, rng: random.Random) -> dict:
    """The record with one thing changed that may (or may not) break a rule of the model."""
    record = json.loads(json.dumps(record))
    choice = rng.randrange(9)
    if choice == 0:  # a field given an odd value, or dropped, or an unknown field
        key = rng.choice([*record, "extra"])
        if rng.random() < 0.3 and key in record:
            del record[key]
        else:
            record[key] = rng.choice(ODD_VALUES)
    elif choice == 1 and spans_of(record):  # a span's field changed
        span = rng.choice(spans_of(record))
        key = rng.choice([*span, "extra"])
        if rng.random() < 0.2 and key in span:
            del span[key]
        else:
            span[key] = rng.choice(ODD_VALUES) if rng.random() < 0.5 else span.get(key, 0) + rng.choice([-2, -1, 1, 2]) if isinstance(span.get(key, 0), int) else 0
    elif choice == 2:  # spans reordered
        key = rng.choice(["stories", "entities", "boilerplate"])
        rng.shuffle(record.get(key, []))
    elif choice == 3 and record.get("entities"):  # an entity moved to overlap, cross a story or leave the text
        entity = rng.choice(record["entities"])
        shift = rng.choice([-5, -1, 1, 5, 40, 200])
        entity["start"], entity["end"] = max(0, entity["start"] + shift), entity["end"] + shift
    elif choice == 4 and record.get("boilerplate"):
        item = rng.choice(record["boilerplate"])
        item["end"] += rng.choice([1, 10, 100])
    elif choice == 5:  # a story added, or its end moved
        story = rng.choice(record["stories"])
        story["end"] += rng.choice([-1, 1])
    elif choice == 6:  # a span copied next to itself (overlap)
        key = rng.choice(["entities", "boilerplate", "stories"])
        if record.get(key):
            item = rng.choice(record[key])
            record[key].insert(record[key].index(item), dict(item))
    elif choice == 7:
        record["seconds"] = rng.choice([-1, -0.0, 1e308, 0, "1", True, None])
    else:
        record["stories"] = rng.choice([[], [{"start": 1, "end": 3}], [{"start": 0, "end": 0}], record["stories"] * 2])
    return record


def byte_mutated(line: bytes, rng: random.Random) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(len(data))
        action = rng.randrange(4)
        if action == 0:
            del data[where]
        elif action == 1:
            data.insert(where, rng.choice(b'{}[]",:0123456789.eE-+ \\unltrfa\xff\x01'))
        elif action == 2:
            data[where] = rng.randrange(256)
        else:
            duplicate = rng.choice([b'"status": 5, ', b'"seconds": -1, ', b'"snippet_id": "", ', b'"stories": [], ', b'"note": "n", '])
            data[1:1] = duplicate
    return bytes(data)


def generated_lines(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        record = valid_record(rng)
        kind = rng.random()
        if kind < 0.35:
            lines.append(json.dumps(record).encode())
        elif kind < 0.8:
            lines.append(json.dumps(mutated(record, rng), ensure_ascii=rng.random() < 0.5).encode())
        else:
            lines.append(byte_mutated(json.dumps(record).encode(), rng))
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_a_line_the_fast_check_accepts_is_one_pydantic_accepts_with_an_equal_record(seed):
    lines = generated_lines(3000, seed)
    fast_accepted = refused_by_both = pydantic_only = 0
    for line in lines:
        fast, strict = fast_record(line), pydantic_record(line)
        if fast is not None:
            assert strict is not None, line
            assert msgspec.to_builtins(fast) == strict.model_dump(), line
            fast_accepted += 1
        elif strict is None:
            refused_by_both += 1
        else:
            pydantic_only += 1
    # Both kinds of lines were met in numbers, and the fast check accepts what is plainly valid.
    assert fast_accepted > 800 and refused_by_both > 800
    assert pydantic_only <= fast_accepted // 20


def test_every_valid_record_is_accepted_by_the_fast_check():
    rng = random.Random(5)
    for _ in range(2000):
        line = json.dumps(valid_record(rng)).encode()
        assert fast_record(line) is not None, line


def test_a_block_checked_at_once_gives_each_line_its_own_answer():
    # Lines msgspec decodes, broken ones among them (lines with a newline inside are left out).
    together, alone = block_and_alone([line for line in generated_lines(4000, 11) if b"\n" not in line])
    assert np.array_equal(together, alone)
    assert together.sum() > 500 and (~together).sum() > 500


def test_offsets_past_what_int64_lays_out_are_left_to_pydantic():
    huge = MAX_OFFSET - 10
    line = json.dumps({"snippet_id": "s", "annotator": "a", "stories": [{"start": 0, "end": huge}], "entities": [{"start": huge - 5, "end": huge - 1, "label": "ORG"}]}).encode()
    assert pydantic_record(line) is not None
    assert fast_record(line) is None  # not decided here: the strict scan asks pydantic
