"""Fuzz `curate import` per format: any JSON value in any field, cut lines, wrong types, huge numbers.

Every input gives records (which `curate validate --corpus` accepts) or `file:line: reason`
problems (ImportRefused), never anything else.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from import_checks import journal_problems

from curate.importing import ImportRefused, import_annotations

TEXT = "Ana met Zoe in Paris 😀 today."

TEMPLATES: dict[str, dict] = {
    "prodigy": {
        "text": TEXT,
        "tokens": [{"text": "Ana", "start": 0, "end": 3, "id": 0}],
        "spans": [{"start": 0, "end": 3, "label": "PERSON", "token_start": 0, "token_end": 0}, {"start": 15, "end": 20, "label": "GPE"}],
        "meta": {"snippet_id": "s1"},
        "answer": "accept",
        "_view_id": "ner_manual",
        "curate": {"stories": [{"start": 0, "end": len(TEXT), "truncated": False}], "boilerplate": []},
    },
    "doccano": {"text": TEXT, "label": [[0, 3, "PERSON"], [15, 20, "GPE"]], "snippet_id": "s1"},
    "labelstudio": {
        "data": {"text": TEXT, "snippet_id": "s1"},
        "annotations": [{"result": [{"type": "labels", "value": {"start": 0, "end": 3, "text": "Ana", "labels": ["PERSON"]}}], "was_cancelled": False}],
    },
    "jsonl": {
        "id": "s1",
        "text": TEXT,
        "stories": [{"start": 0, "end": len(TEXT), "truncated": False}],
        "boilerplate": [],
        "entities": [{"start": 0, "end": 3, "label": "PERSON"}],
        "status": "done",
    },
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", " ", "\n", "accept", "reject", "labels", "PERSON", "B@D", "\ud800", "Ana \udc00", "ner", "\u2028"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

PROBLEM = re.compile(r"^/[^\n]+?(:\d+)?: \S.*$")  # file:line: reason (file: reason for the whole file)


def paths(value, prefix=()) -> list[tuple]:
    """Every path (keys and indexes) into a JSON value."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, prefix + (index,))
    return found


def replaced(value, path: tuple, new):
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copy


@st.composite
def json_file(draw, fmt: str) -> bytes:
    """Lines of the format's template, some with any value put at any path, some cut short."""
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        record = TEMPLATES[fmt]
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            path = draw(st.sampled_from(paths(record)))
            record = replaced(record, path, draw(json_values))
        line = json.dumps(record, ensure_ascii=draw(st.booleans()))
        if draw(st.integers(min_value=0, max_value=5)) == 0:
            line = line[: draw(st.integers(min_value=0, max_value=len(line)))]
        lines.append(line)
    if fmt == "labelstudio" and draw(st.booleans()):
        try:
            return json.dumps([json.loads(line) for line in lines], indent=draw(st.sampled_from([None, 2]))).encode("utf-8", "surrogatepass")
        except ValueError:
            pass
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def check(fmt: str, files: dict[str, bytes], target: str, **options) -> None:
    """Import `target` (written from `files`) into a new corpus: a report whose journal validates,
    or ImportRefused whose problems are each one `file:line: reason` line."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, content in files.items():
            (root / name).write_bytes(content)
        corpus_dir = root / "corpus"
        try:
            report = import_annotations(root / target, fmt, corpus_dir, "fuzz", add_snippets=True, **options)
        except ImportRefused as error:
            assert error.problems
            for problem in error.problems:
                assert "\n" not in problem and PROBLEM.match(problem), problem
            assert not (corpus_dir / "annotations" / "fuzz.jsonl").exists()
            return
        assert report.records > 0
        assert journal_problems(corpus_dir, report.journal) == []


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(data=st.data())
def test_fuzz_prodigy(data):
    check("prodigy", {"in.jsonl": data.draw(json_file("prodigy"))}, "in.jsonl", binary=data.draw(st.sampled_from(["refuse", "merge"])), skip_invalid=data.draw(st.booleans()))


@FUZZ
@given(data=st.data())
def test_fuzz_doccano(data):
    check("doccano", {"in.jsonl": data.draw(json_file("doccano"))}, "in.jsonl", skip_invalid=data.draw(st.booleans()))


@FUZZ
@given(data=st.data())
def test_fuzz_labelstudio(data):
    check("labelstudio", {"in.json": data.draw(json_file("labelstudio"))}, "in.json", skip_invalid=data.draw(st.booleans()))


@FUZZ
@given(data=st.data())
def test_fuzz_jsonl(data):
    check("jsonl", {"in.jsonl": data.draw(json_file("jsonl"))}, "in.jsonl", skip_invalid=data.draw(st.booleans()))


words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=8)
tags = st.sampled_from(["O", "B-PER", "I-PER", "E-LOC", "S-ORG", "L-X", "U-Y", "I-", "B-B@D", "X-PER", "17.9"])


@FUZZ
@given(
    lines=st.lists(
        st.one_of(
            st.builds(lambda word, tag: f"{word} {tag}", words, tags),
            st.builds(lambda word, tag: f"{word}\t_\t_\t{tag}", words, tags),
            st.sampled_from(["", "", "-DOCSTART- -X- -X- O", "\ufeff", "\ufeffKim B-PER", "lonely"]),
            words,
        ),
        max_size=25,
    ),
    doc_per=st.sampled_from([None, "docstart", "sentence", "blank-lines"]),
    skip_invalid=st.booleans(),
    tail=st.binary(max_size=3),
)
def test_fuzz_conll(lines, doc_per, skip_invalid, tail):
    content = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass") + tail
    check("conll", {"in.conll": content}, "in.conll", doc_per=doc_per, skip_invalid=skip_invalid)


ann_lines = st.one_of(
    st.builds(
        lambda number, label, start, end, quoted: f"T{number}\t{label} {start} {end}\t{quoted}",
        st.integers(0, 5),
        st.sampled_from(["PERSON", "GPE", "B@D", "", "Transfer-money"]),
        st.one_of(st.integers(-3, 40), st.just(10**25), st.just("4.0"), st.just("x")),
        st.one_of(st.integers(-3, 40), st.just(10**25), st.just("1;5 7")),
        st.sampled_from(["Ana", "Zoe", "", "Paris"]),
    ),
    st.builds(lambda trigger, argument: f"E1\tTransfer-money:T{trigger} Giver-Arg:T{argument}", st.integers(0, 5), st.integers(0, 5)),
    st.sampled_from(["R1\tOrigin Arg1:T1 Arg2:T2\t", "A1\tNegation E1", "#1\tAnnotatorNotes T1\tnote", "N1\tReference T1 Wikipedia:1\tAna", "*\tAlias T1 T2", "", "T1", "Z9 unknown", "T1\tPERSON 0 3"]),
    st.text(max_size=10),
)


@FUZZ
@given(
    text=st.one_of(st.just(TEXT), st.text(max_size=30)),
    lines=st.lists(ann_lines, max_size=6),
    triggers=st.booleans(),
    skip_invalid=st.booleans(),
    raw_text=st.one_of(st.none(), st.binary(max_size=8)),
)
def test_fuzz_brat(text, lines, triggers, skip_invalid, raw_text):
    files = {
        "doc.txt": raw_text if raw_text is not None else text.encode("utf-8", "surrogatepass"),
        "doc.ann": ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"),
    }
    check("brat", files, "doc.ann", brat_triggers=triggers, skip_invalid=skip_invalid)
