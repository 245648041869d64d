"""`curate validate` as a service: every problem of a snippets or annotation file as file:line: reason."""

import json

import pytest

from curate.ingest import ingest
from curate.model import Annotation
from curate.store import Corpus
from curate.validate import detect_kind, validate_file

TEXT = "Kim Jong-un met Moon Jae-in in Seoul.\nPhoto: AP"


@pytest.fixture
def corpus(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "s1", "text": TEXT}) + "\n")
    ingest([source], tmp_path / "c", labels=["PER", "ORG", "LOC", "MISC"])
    return Corpus.open(tmp_path / "c")


def line(**changes):
    data = {"snippet_id": "s1", "annotator": "alice", "stories": [{"start": 0, "end": len(TEXT)}], "entities": [{"start": 0, "end": 11, "label": "PER"}], "status": "done"}
    data.update(changes)
    return json.dumps(data)


def problems(path, corpus=None):
    return list(validate_file(path, corpus))


def test_a_good_annotation_file_has_no_problems(tmp_path, corpus):
    path = tmp_path / "alice.jsonl"
    path.write_text(line() + "\n" + line(status="skipped") + "\n")
    assert detect_kind(path) == "annotations"
    assert problems(path, corpus) == []


def test_every_annotation_problem_is_reported_with_its_line(tmp_path, corpus):
    path = tmp_path / "alice.jsonl"
    rows = [
        line(),
        line(entities=[{"start": 0, "end": 11, "label": "PERSON"}]),
        line(entities=[{"start": 0, "end": 5, "label": "PER"}]),
        line(stories=[{"start": 0, "end": 12}]),
        line(snippet_id="ghost"),
        line(entities=[{"start": 0, "end": 11, "label": "PER"}, {"start": 4, "end": 15, "label": "ORG"}]),
        line(boilerplate=[{"start": 38, "end": 47, "kind": "sticker"}]),
        '{"snippet_id": "s1", oops}',
        '"just a string"',
    ]
    path.write_bytes(("\n".join(rows) + "\n").encode() + b'{"snippet_id": "s\xff"}\n' + line().encode()[:30])
    found = problems(path, corpus)
    assert found == [
        f"{path}:2: entity [0,11) has label 'PERSON', not one of ['LOC', 'MISC', 'ORG', 'PER']",
        f"{path}:3: entity [0,5) 'Kim J' does not start and end on token edges",
        f"{path}:4: stories end at 12 but the text of 's1' has {len(TEXT)} characters",
        f"{path}:5: snippet 'ghost' is not in the corpus {corpus.path}",
        f"{path}:6: entities must be sorted and must not overlap: [0,11) and [4,15)",
        f"{path}:7: boilerplate [38,47) has kind 'sticker', not one of ['ad', 'byline', 'caption', 'credit', 'dateline', 'navigation']",
        f"{path}:8: malformed JSON: Expecting property name enclosed in double quotes (column 22)",
        f"{path}:9: a line must be a JSON object",
        f"{path}:10: invalid UTF-8 at byte 17",
        f"{path}:11: torn last line (an interrupted write)",
    ]


def test_without_a_corpus_only_the_record_rules_are_checked(tmp_path):
    path = tmp_path / "alice.jsonl"
    path.write_text(line(entities=[{"start": 0, "end": 11, "label": "ANY"}]) + "\n" + line(stories=[{"start": 3, "end": 9}]) + "\n")
    assert problems(path) == [f"{path}:2: the first story must start at 0, not 3", f"{path}:2: [0,11) must lie inside one story"]


def test_gold_files_hold_one_record_per_snippet(tmp_path, corpus):
    path = tmp_path / "gold.jsonl"
    gold = line(adjudicator="carol", sources=["alice"])
    path.write_text(gold + "\n" + gold + "\n" + line() + "\n")
    assert problems(path, corpus) == [
        f"{path}:2: second record for snippet 's1' (first on line 1); gold holds one per snippet",
        f"{path}:3: second record for snippet 's1' (first on line 1); gold holds one per snippet",
    ]
    path.write_text(line(sources=["alice"]) + "\n")
    assert problems(path, corpus) == [f"{path}:1: adjudicator: Field required"]


def test_snippets_files_empty_texts_and_duplicate_ids(tmp_path):
    path = tmp_path / "snippets.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a", "text": "x"}),
        json.dumps({"id": "b", "text": "  "}),
        json.dumps({"id": "a", "text": "y"}),
        json.dumps({"text": "no id"}),
    ]) + "\n")
    assert detect_kind(path) == "snippets"
    found = problems(path)
    assert found[0] == f"{path}:2: text: text is empty (only whitespace)"
    assert found[1] == f"{path}:3: duplicate id 'a' (first on line 1)"
    assert found[2] == f"{path}:4: id: Field required"
    assert len(found) == 3


def test_records_written_by_the_store_validate(tmp_path, corpus):
    with corpus.journal("alice", writable=True) as journal:
        journal.append(Annotation.model_validate_json(line()))
    assert problems(corpus.journal_path("alice"), corpus) == []


def test_a_line_with_broken_rules_also_gets_its_label_and_token_problems(tmp_path, corpus):
    path = tmp_path / "alice.jsonl"
    entities = [{"start": 0, "end": 11, "label": "PER"}, {"start": 4, "end": 15, "label": "BOGUS"}, {"start": 12, "end": 15, "label": "ORG"}, {"start": 16, "end": 19, "label": "ORG"}]
    path.write_text(line(entities=entities, boilerplate=[{"start": 38, "end": 47, "kind": "sticker"}]) + "\n")
    assert problems(path, corpus) == [
        f"{path}:1: entities must be sorted and must not overlap: [0,11) and [4,15)",
        f"{path}:1: entities must be sorted and must not overlap: [4,15) and [12,15)",
        f"{path}:1: entity [4,15) has label 'BOGUS', not one of ['LOC', 'MISC', 'ORG', 'PER']",
        f"{path}:1: boilerplate [38,47) has kind 'sticker', not one of ['ad', 'byline', 'caption', 'credit', 'dateline', 'navigation']",
        f"{path}:1: entity [16,19) 'Moo' does not start and end on token edges",
    ]
    # Field errors and the corpus checks of the well-formed parts come together too.
    path.write_text(line(status="finished", entities=[{"start": 0, "end": 11, "label": "BOGUS"}]) + "\n")
    found = problems(path, corpus)
    assert len(found) == 2 and found[0].startswith(f"{path}:1: status: ") and "label 'BOGUS'" in found[1]


@pytest.mark.parametrize("field", ["stories", "entities", "boilerplate"])
@pytest.mark.parametrize("offset", [10**30, -(10**30), 2**63, 2**53])
def test_a_huge_offset_in_any_field_is_one_problem_and_no_traceback(tmp_path, corpus, field, offset):
    spans = {
        "stories": [{"start": 0, "end": offset}],
        "entities": [{"start": 0, "end": offset, "label": "PER"}],
        "boilerplate": [{"start": 0, "end": offset, "kind": "credit"}],
    }
    path = tmp_path / "alice.jsonl"
    path.write_text(line(**{field: spans[field]}) + "\n" + line(**{field: [{**spans[field][0], "start": offset, "end": 1}]}) + "\n")
    found = problems(path, corpus)
    assert found and all(problem.startswith(f"{path}:1: ") or problem.startswith(f"{path}:2: ") for problem in found)
    assert f"{path}:1: {field}.0.end: Input should be" in found[0]


def test_the_largest_allowed_offset_is_checked_against_the_text_without_overflow(tmp_path, corpus):
    path = tmp_path / "alice.jsonl"
    end = 2**53 - 1
    path.write_text(line(stories=[{"start": 0, "end": end}], entities=[{"start": 0, "end": end, "label": "PER"}]) + "\n")
    found = problems(path, corpus)
    assert f"{path}:1: stories end at {end} but the text of 's1' has {len(TEXT)} characters" in found


def test_validate_refuses_numbers_written_as_strings_or_floats(tmp_path, corpus):
    path = tmp_path / "alice.jsonl"
    path.write_text(
        line(entities=[{"start": "0", "end": 11, "label": "PER"}]) + "\n"
        + line(stories=[{"start": 0, "end": float(len(TEXT))}]) + "\n"
        + line(stories=[{"start": 0, "end": len(TEXT), "truncated": "false"}]) + "\n"
        + line(seconds="12") + "\n"
        + line() + "\n"
    )
    found = problems(path, corpus)
    assert [problem.split(": ", 2)[:2] for problem in found] == [
        [f"{path}:1", "entities.0.start"], [f"{path}:2", "stories.0.end"], [f"{path}:3", "stories.0.truncated"], [f"{path}:4", "seconds"],
    ]


# ---------------------------------------------------------------- fuzz: never a traceback

import re  # noqa: E402
import tempfile  # noqa: E402
import unicodedata  # noqa: E402
from pathlib import Path  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

HUGE = st.sampled_from([10**30, -(10**30), 2**63, 2**64 + 1, 2**53, -1, 10**400])
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-100, 100) | HUGE
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
    | st.sampled_from(["PER", "done", "17", "", "\x1b[31m", "\ud800x"])
)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
SPAN_FIELDS = {"stories": ["start", "end", "truncated"], "entities": ["start", "end", "label"], "boilerplate": ["start", "end", "kind"]}


def base_record():
    return {
        "snippet_id": "s1", "annotator": "alice", "status": "done", "seconds": 1.5,
        "stories": [{"start": 0, "end": 38}, {"start": 38, "end": len(TEXT)}],
        "entities": [{"start": 0, "end": 11, "label": "PER"}, {"start": 16, "end": 27, "label": "PER"}],
        "boilerplate": [{"start": 38, "end": 47, "kind": "credit"}],
    }


@st.composite
def mutated_record(draw):
    record = base_record()
    if draw(st.booleans()):
        record["adjudicator"] = draw(st.sampled_from(["cy", ""]) | JSON_VALUES)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "span", "delete", "list"]))
        if where == "top":
            record[draw(st.sampled_from([*record, "text_sha256", "note", "updated_at", "sources", "extra"]))] = draw(JSON_VALUES)
        elif where == "delete" and record:
            del record[draw(st.sampled_from(sorted(record)))]
        elif where == "list":
            record[draw(st.sampled_from(sorted(SPAN_FIELDS)))] = draw(JSON_VALUES)
        else:
            field = draw(st.sampled_from(sorted(SPAN_FIELDS)))
            items = [item for item in record.get(field) or [] if isinstance(item, dict)] if isinstance(record.get(field), list) else []
            if items:
                item = draw(st.sampled_from(items))
                item[draw(st.sampled_from(SPAN_FIELDS[field] + ["other"]))] = draw(HUGE | JSON_VALUES)
    return record


@st.composite
def fuzzed_line(draw):
    kind = draw(st.sampled_from(["record", "record", "record", "cut", "value", "bytes", "snippet"]))
    if kind == "value":
        return json.dumps(draw(JSON_VALUES)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=20)).replace(b"\n", b" ")
    if kind == "snippet":
        return json.dumps({"id": draw(JSON_VALUES), "text": draw(JSON_VALUES), "meta": draw(JSON_VALUES)}).encode("utf-8", "surrogatepass")
    line = json.dumps(draw(mutated_record())).encode("utf-8", "surrogatepass")
    if kind == "cut":
        line = line[: draw(st.integers(0, len(line)))]
    return line


@pytest.fixture(scope="module")
def fuzz_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    source = folder / "in.jsonl"
    source.write_text(json.dumps({"id": "s1", "text": TEXT}) + "\n")
    ingest([source], folder / "c", labels=["PER", "ORG", "LOC", "MISC"])
    with Corpus.open(folder / "c") as opened:
        yield opened


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(fuzzed_line(), min_size=1, max_size=4), final_newline=st.booleans(), name=st.sampled_from(["alice.jsonl", "gold.jsonl", "snippets.jsonl"]))
def test_any_input_gives_file_line_reasons_and_never_a_traceback(fuzz_corpus, lines, final_newline, name):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline else b""))
        pattern = re.compile(rf"{re.escape(str(path))}:(\d+): \S.*")
        for corpus in (None, fuzz_corpus):
            for problem in validate_file(path, corpus):
                match = pattern.fullmatch(problem)
                assert match, problem
                assert 1 <= int(match.group(1)) <= len(lines)
                assert "errors.pydantic.dev" not in problem
                assert not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in problem), problem


def test_a_key_from_the_input_with_a_line_break_is_quoted_in_the_reason(tmp_path):
    path = tmp_path / "alice.jsonl"
    data = json.loads(line())
    data["entities"][0]["\n"] = None
    data["\x1b[31m"] = 1
    path.write_text(json.dumps(data) + "\n" + json.dumps({"id": "x", "text": "y", "\u2028": 1}) + "\n")
    found = problems(path)
    assert found == [
        f"{path}:1: entities.0.'\\n': Extra inputs are not permitted; '\\x1b[31m': Extra inputs are not permitted",
        f"{path}:2: snippet_id: Field required; annotator: Field required; stories: Field required; id: Extra inputs are not permitted; "
        "text: Extra inputs are not permitted; '\\u2028': Extra inputs are not permitted",
    ]


def test_a_lone_surrogate_snippet_id_is_a_field_error_not_a_traceback(tmp_path, corpus):
    path = tmp_path / "alice.jsonl"
    path.write_text(line(snippet_id="\ud800x", entities=[{"start": 0, "end": 11, "label": "NOPE"}]) + "\n")
    assert problems(path, corpus) == [f"{path}:1: snippet_id: Input should be a valid string, unable to parse raw data as a unicode string"]
