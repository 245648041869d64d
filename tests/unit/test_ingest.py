"""`curate ingest` as a service: every input kind, every bad input, nothing half-written."""

import json
import tomllib
from pathlib import Path

import pytest

from curate.ingest import IngestError, ingest
from curate.store import Corpus, StoreError

SEED = Path("/work/shared/seeds/000_43b149b2d09b88e5.txt")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def texts(directory):
    corpus = Corpus.open(directory)
    return {snippet.id: snippet.text for snippet in corpus.iter_snippets()}


def refused(paths, directory, **options):
    with pytest.raises(IngestError) as caught:
        ingest(paths, directory, **options)
    return caught.value.problems


@pytest.mark.skipif(not SEED.exists(), reason="needs the shared seed page")
def test_a_scraped_page_is_kept_byte_exact(tmp_path):
    ingest([SEED], tmp_path / "c")
    snippet = Corpus.open(tmp_path / "c").snippet(0)
    assert snippet.id == SEED.stem
    assert snippet.text.encode("utf-8") == SEED.read_bytes()


def test_txt_files_keep_crlf_bom_and_odd_spaces_exactly(tmp_path):
    raw = "\ufeffHeadline\r\n\r\nBody\u00a0text \u201cquoted\u201d \u2014 \U0001F468\u200d\U0001F469\u200d\U0001F467\u200b.\r\n".encode("utf-8")
    (tmp_path / "page.txt").write_bytes(raw)
    ingest([tmp_path / "page.txt"], tmp_path / "c")
    assert texts(tmp_path / "c")["page"].encode("utf-8") == raw


def test_folders_are_read_recursively_in_sorted_order(tmp_path):
    folder = tmp_path / "pages"
    for name in ("b.txt", "a.txt", "sub/c.txt", "sub/deeper/d.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"text of {name}")
    (folder / "notes.md").write_text("ignored")
    ingest([folder], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    assert [corpus.snippet(k).id for k in range(len(corpus))] == ["a", "b", "sub/c", "sub/deeper/d"]
    assert corpus.snippet(2).meta == {"source": str(folder / "sub/c.txt")}


def test_jsonl_ids_meta_and_defaults(tmp_path):
    source = write_jsonl(tmp_path / "feed.jsonl", [
        {"id": "x1", "text": "one", "meta": {"url": "http://a"}},
        {"text": "two", "url": "http://b", "lang": "en"},
        {"id": 7, "text": "three"},
    ])
    ingest([source], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    assert [(s.id, s.text, s.meta) for s in corpus.iter_snippets()] == [
        ("x1", "one", {"url": "http://a"}),
        ("feed-000002", "two", {"url": "http://b", "lang": "en"}),
        ("7", "three", {}),
    ]


def test_snippet_shaped_lines_are_copied_and_others_encoded(tmp_path):
    canonical = json.dumps({"id": "a", "text": "caf\u00e9 \\ line", "meta": {"k": [1, 2]}}, ensure_ascii=False) + "\n"
    compact = '{"text":"b text","id":"b"}\n'
    (tmp_path / "in.jsonl").write_text(canonical + compact, encoding="utf-8")
    ingest([tmp_path / "in.jsonl"], tmp_path / "c")
    lines = (tmp_path / "c/snippets.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0] == canonical
    assert json.loads(lines[1]) == {"id": "b", "text": "b text", "meta": {}}


def test_parquet_with_a_text_field(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"doc": ["alpha text", "beta text"], "id": ["p1", "p2"], "year": [1996, 1997]})
    pq.write_table(table, tmp_path / "pages.parquet")
    problems = refused([tmp_path / "pages.parquet"], tmp_path / "c")
    assert problems[0] == f"{tmp_path / 'pages.parquet'}: no column 'text' (columns: doc, id, year); use --text-field"
    ingest([tmp_path / "pages.parquet"], tmp_path / "c", text_field="doc")
    corpus = Corpus.open(tmp_path / "c")
    assert [(s.id, s.text, s.meta) for s in corpus.iter_snippets()] == [("p1", "alpha text", {"year": 1996}), ("p2", "beta text", {"year": 1997})]


def test_parquet_nan_or_infinity_in_a_meta_column_is_reported_by_row_not_stored_as_text(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "pages.parquet"
    table = pa.table({
        "text": ["alpha", "beta", "gamma", "delta"],
        "id": ["p1", "p2", "p3", "p4"],
        "score": [0.5, float("nan"), 1.0, 2.0],
        "tags": [[1.0], [2.0], [float("inf")], [3.0]],
        "when": pa.array([0, 1, 2, 3], type=pa.timestamp("s")),
    })
    pq.write_table(table, path)
    assert refused([path], tmp_path / "c") == [
        f"{path}:2: column 'score' holds NaN or Infinity, which is not valid JSON",
        f"{path}:3: column 'tags' holds NaN or Infinity, which is not valid JSON",
    ]
    assert not (tmp_path / "c").exists()
    report = ingest([path], tmp_path / "c", skip_invalid=True)
    assert report.added == 2 and len(report.skipped) == 2
    corpus = Corpus.open(tmp_path / "c")
    assert [(s.id, s.meta) for s in corpus.iter_snippets()] == [
        ("p1", {"score": 0.5, "tags": [1.0], "when": "1970-01-01 00:00:00"}),
        ("p4", {"score": 2.0, "tags": [3.0], "when": "1970-01-01 00:00:03"}),
    ]
    assert "nan" not in (tmp_path / "c" / "snippets.jsonl").read_text().lower()


def test_saved_hugging_face_datasets_and_dataset_dicts(tmp_path):
    import datasets

    single = datasets.Dataset.from_dict({"content": ["first story", "second story"], "source": ["a", "b"]})
    single.save_to_disk(str(tmp_path / "single"))
    ingest([tmp_path / "single"], tmp_path / "c1", text_field="content")
    assert texts(tmp_path / "c1") == {"single-000001": "first story", "single-000002": "second story"}
    both = datasets.DatasetDict({"train": single, "test": datasets.Dataset.from_dict({"content": ["third"], "source": ["c"]})})
    both.save_to_disk(str(tmp_path / "dict"))
    ingest([tmp_path / "dict"], tmp_path / "c2", text_field="content")
    corpus = Corpus.open(tmp_path / "c2")
    assert [(s.id, s.text, s.meta) for s in corpus.iter_snippets()] == [
        ("dict-train-000001", "first story", {"source": "a"}),
        ("dict-train-000002", "second story", {"source": "b"}),
        ("dict-test-000001", "third", {"source": "c"}),
    ]


def test_every_bad_input_is_reported_with_file_and_line_and_nothing_is_written(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "a", "text": "fine"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"id": "a", "text": "again"}\n'          # 1 duplicate of good.jsonl:1
        b'{"id": "e", "text": "  \\n\\t "}\n'     # 2 empty text
        b'{"id": "u", "text": "caf\xe9"}\n'        # 3 invalid UTF-8
        b'{"id": "m", "text": "unclosed\n'         # 4 malformed
        b'["a list"]\n'                             # 5 not an object
        b'{"id": "n", "body": "no text"}\n'        # 6 no text field
        b'{"id": "s", "text": "lone \\ud800"}\n'   # 7 lone surrogate
        b'{"id": "f", "text": "x", "meta": {"v": NaN}}\n'  # 8 NaN
        b'{"id": "g", "text": "x", "meta": 3}\n'   # 9 meta not an object
        b'\n'
        b'{"id": "ok", "text": "fine too"}\n'
    )
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "x.csv").write_text("a,b\n")
    (tmp_path / "latin.txt").write_bytes("first line\nsecond line caf\xe9\n".encode("latin-1"))
    target = tmp_path / "new" / "corpus"
    problems = refused([good, bad, tmp_path / "empty.txt", tmp_path / "latin.txt", tmp_path / "missing.jsonl", tmp_path / "x.csv"], target)
    assert problems == [
        f"{bad}:1: duplicate id 'a' (first at {good}:1)",
        f"{bad}:2: empty text",
        f"{bad}:3: invalid UTF-8 (byte 24 of the line)",
        f"{bad}:4: malformed JSON: Invalid control character (column 30)",
        f"{bad}:5: a line must be a JSON object",
        f"{bad}:6: no string field 'text'",
        f"{bad}:7: text or meta holds a lone surrogate, which is not valid Unicode",
        f"{bad}:8: malformed JSON: NaN is not valid JSON",
        f"{bad}:9: field 'meta' must be an object",
        f"{tmp_path / 'empty.txt'}:1: empty text",
        f"{tmp_path / 'latin.txt'}:2: invalid UTF-8 (byte 26, column 16)",
        f"{tmp_path / 'missing.jsonl'}: no such file or folder",
        f"{tmp_path / 'x.csv'}: unknown input type (expected .txt, a folder, .jsonl, .parquet or a saved HF dataset)",
    ]
    assert not (tmp_path / "new").exists()


def test_a_refused_ingest_leaves_an_existing_corpus_untouched(tmp_path):
    ingest([write_jsonl(tmp_path / "one.jsonl", [{"id": "a", "text": "first"}])], tmp_path / "c")
    before = {path.name: path.read_bytes() for path in (tmp_path / "c").iterdir() if path.is_file()}
    problems = refused([write_jsonl(tmp_path / "two.jsonl", [{"id": "b", "text": "new"}, {"id": "a", "text": "dup"}])], tmp_path / "c")
    assert problems == [f"{tmp_path / 'two.jsonl'}:2: duplicate id 'a' (first at {tmp_path / 'c' / 'snippets.jsonl'}:1)"]
    after = {path.name: path.read_bytes() for path in (tmp_path / "c").iterdir() if path.is_file()}
    assert after == before


def test_skip_invalid_keeps_going_and_reports_what_it_skipped(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "one"}, {"id": "a", "text": "two"}, {"id": "b", "text": ""}, {"id": "c", "text": "three"}])
    report = ingest([source], tmp_path / "c", skip_invalid=True)
    assert report.added == 2
    assert report.skipped == [f"{source}:2: duplicate id 'a' (first at {source}:1)", f"{source}:3: empty text"]
    assert texts(tmp_path / "c") == {"a": "one", "c": "three"}


def test_nothing_valid_is_refused_even_with_skip_invalid(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": " "}])
    problems = refused([source], tmp_path / "c", skip_invalid=True)
    assert problems[-1].endswith("nothing to ingest: no valid snippets")
    assert not (tmp_path / "c").exists()


def test_adding_to_a_corpus_appends_and_keeps_annotations_in_place(tmp_path):
    from curate.model import Annotation

    ingest([write_jsonl(tmp_path / "one.jsonl", [{"id": "a", "text": "first"}, {"id": "b", "text": "second"}])], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    with corpus.journal("alice", writable=True) as journal:
        journal.append(Annotation(snippet_id="b", annotator="alice", stories=[{"start": 0, "end": 6}], status="done"))
    ingest([write_jsonl(tmp_path / "two.jsonl", [{"id": "c", "text": "third"}])], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    assert [corpus.snippet(k).id for k in range(3)] == ["a", "b", "c"]
    assert corpus.journal("alice").latest("b").status == "done"
    with pytest.raises(StoreError, match="already has labels"):
        ingest([write_jsonl(tmp_path / "three.jsonl", [{"id": "d", "text": "x"}])], tmp_path / "c", labels=["PER"])


def test_corpus_toml_has_default_or_given_labels(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    ingest([source], tmp_path / "default")
    ingest([source], tmp_path / "custom", labels=["PER", "ORG", "LOC", "MISC"])
    default = tomllib.loads((tmp_path / "default/corpus.toml").read_text())
    custom = tomllib.loads((tmp_path / "custom/corpus.toml").read_text())
    assert [(label["name"], label["key"]) for label in default["labels"]] == [
        ("PERSON", "1"), ("ORG", "2"), ("GPE", "3"), ("LOC", "4"), ("NORP", "5"), ("FAC", "6"), ("EVENT", "7"),
    ]
    assert default["boilerplate_kinds"] == ["caption", "credit", "byline", "dateline", "ad", "navigation"]
    assert [(label["name"], label["key"]) for label in custom["labels"]] == [("PER", "1"), ("ORG", "2"), ("LOC", "3"), ("MISC", "4")]
    with pytest.raises(StoreError, match="--labels"):
        ingest([source], tmp_path / "too-many", labels=[f"L{index}" for index in range(10)])


# ---- the bulk path for snippet-shaped JSONL must agree with the line-by-line path

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import curate.ingest as ingest_module  # noqa: E402

ODD_TEXTS = ["", " ", "\u00a0", "\u3000\n", "\u2028", "\x1c", "\\", '"quoted"', "\u201cq\u201d", "caf\u00e9", "\U0001F468\u200d\U0001F469", "a\tb", "x\r\ny", "NaN", " lead", "\u0085x"]
TEXTS = st.one_of(st.sampled_from(ODD_TEXTS), st.text(min_size=0, max_size=12))
IDS = st.one_of(st.sampled_from(["a", "b", "c", 'q"d', "\u00fc", "s1", ""]), st.text(min_size=0, max_size=6))


@st.composite
def snippet_line(draw):
    kind = draw(st.sampled_from(["canonical", "canonical", "canonical", "ascii", "compact", "extra", "null-meta", "nan", "broken", "blank", "two"]))
    record = {"id": draw(IDS), "text": draw(TEXTS), "meta": draw(st.sampled_from([{}, {"n": 1}, {"v": [1.5, "x"]}, {"n": "s"}]))}
    if kind == "canonical":
        return json.dumps(record, ensure_ascii=False)
    if kind == "ascii":
        return json.dumps(record)
    if kind == "compact":
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    if kind == "extra":
        return json.dumps(record | {"url": "http://x"}, ensure_ascii=False)
    if kind == "null-meta":
        return json.dumps(record | {"meta": None}, ensure_ascii=False)
    if kind == "nan":
        return json.dumps(record | {"meta": {"v": float("nan")}}, ensure_ascii=False)
    if kind == "broken":
        return json.dumps(record, ensure_ascii=False)[:-3]
    if kind == "two":
        return json.dumps(record, ensure_ascii=False) + " " + json.dumps(record | {"id": record["id"] + "2"}, ensure_ascii=False)
    return ""


def outcome(paths, directory):
    try:
        report = ingest(paths, directory, skip_invalid=True)
    except IngestError as error:
        return ("refused", error.problems)
    corpus = Corpus.open(directory)
    return (report.skipped, [(s.id, s.text, s.meta) for s in corpus.iter_snippets()], corpus.characters)


@given(st.lists(snippet_line(), min_size=1, max_size=8), st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_bulk_and_line_by_line_ingest_agree(tmp_path_factory, lines, final_newline):
    folder = tmp_path_factory.mktemp("equal")
    source = folder / "in.jsonl"
    source.write_text("\n".join(lines) + ("\n" if final_newline else ""), encoding="utf-8", errors="surrogatepass")
    bulk = outcome([source], folder / "bulk")
    real_fast = ingest_module._fast_jsonl
    ingest_module._fast_jsonl = lambda *args: None
    try:
        careful = outcome([source], folder / "careful")
    finally:
        ingest_module._fast_jsonl = real_fast
    assert bulk == careful
    if bulk[0] != "refused":
        assert (folder / "bulk" / "snippets.jsonl").read_bytes() == (folder / "careful" / "snippets.jsonl").read_bytes()


def test_the_bulk_path_takes_a_clean_file_whole_and_leaves_odd_ones(tmp_path, monkeypatch):
    taken = []
    real_fast = ingest_module._fast_jsonl
    monkeypatch.setattr(ingest_module, "_fast_jsonl", lambda *args: taken.append(real_fast(*args)) or taken[-1])
    clean = write_jsonl(tmp_path / "clean.jsonl", [{"id": f"s{index}", "text": f"\u201cText\u201d {index}", "meta": {"n": index}} for index in range(50)])
    blank = write_jsonl(tmp_path / "blank.jsonl", [{"id": "t1", "text": "fine", "meta": {}}, {"id": "t2", "text": "\u3000 ", "meta": {}}])
    no_id = write_jsonl(tmp_path / "no-id.jsonl", [{"id": "", "text": "fine", "meta": {}}])
    problems = refused([clean, blank, no_id], tmp_path / "c")
    assert problems == [f"{blank}:2: empty text", f"{no_id}:1: field 'id' must be a non-empty string or an integer"]
    assert taken[0] is not None and taken[1] is None and taken[2] is None
    again = write_jsonl(tmp_path / "again.jsonl", [{"id": "s7", "text": "dup", "meta": {}}])
    problems = refused([clean, again], tmp_path / "c")
    assert problems == [f"{again}:1: duplicate id 's7' (first at {clean}:8)"]
    report = ingest([clean], tmp_path / "c")
    assert report.added == 50 and (tmp_path / "c/snippets.jsonl").read_bytes() == clean.read_bytes()
    assert Corpus.open(tmp_path / "c").characters == sum(len(f"\u201cText\u201d {index}") for index in range(50))


def test_a_bom_and_extra_fields_are_handled(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "text": "x", "meta": {"k": 1}, "url": "u"}).encode() + b"\n")
    ingest([source], tmp_path / "c")
    assert [(s.id, s.meta) for s in Corpus.open(tmp_path / "c").iter_snippets()] == [("a", {"url": "u", "k": 1})]


def test_mixed_inputs_keep_every_offset_right(tmp_path):
    def canonical(name, ids):
        return write_jsonl(tmp_path / name, [{"id": key, "text": f"text of {key}", "meta": {}} for key in ids])

    ingest([canonical("first.jsonl", ["e1", "e2"])], tmp_path / "c")
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"text": "odd one", "id": "o1"}\n{"id": "o2", "text": "odd two", "meta": {}, "x": 1}\n')
    (tmp_path / "page.txt").write_text("a page")
    ingest([canonical("a.jsonl", ["a1", "a2", "a3"]), odd, tmp_path / "page.txt", canonical("b.jsonl", ["b1"])], tmp_path / "c")
    corpus = Corpus.open(tmp_path / "c")
    expected = ["e1", "e2", "a1", "a2", "a3", "o1", "o2", "page", "b1"]
    assert [corpus.snippet(k).id for k in range(len(corpus))] == expected
    assert [corpus.position(key) for key in expected] == list(range(len(expected)))
    assert corpus.snippet(6).meta == {"x": 1}
    assert corpus.characters == sum(len(snippet.text) for snippet in corpus.iter_snippets())


@pytest.mark.parametrize("space", [chr(code) for code in range(0x110000) if chr(code).isspace()])
def test_the_bulk_path_sees_every_kind_of_blank_text(tmp_path, space):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "fine", "meta": {}}, {"id": "b", "text": space * 2, "meta": {}}])
    problems = refused([source], tmp_path / "c")
    assert problems == [f"{source}:2: empty text"]


@pytest.mark.parametrize("labels, reason", [
    (["PER", "BAD LABEL", "../x"], "--labels: label name(s) 'BAD LABEL', '../x' not allowed: use a letter first"),
    (["PER", "PER"], "--labels: label names repeat: ['PER', 'PER']"),
])
def test_bad_label_names_are_refused_in_one_line(tmp_path, labels, reason):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "one"}])
    with pytest.raises(StoreError) as caught:
        ingest([source], tmp_path / "c", labels=labels)
    assert str(caught.value).startswith(reason) and "\n" not in str(caught.value)
    assert not (tmp_path / "c").exists()
