"""`curate import` on real files from doccano, Label Studio, Prodigy, brat and CoNLL-2003 / WNUT-17
(read in place from /work/shared/bench/interop), and on the malformed inputs that once gave tracebacks.

Every successful import here is followed by `curate validate --corpus` on the written journal
(`validated_import`): no importer writes a record the validator rejects.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from import_checks import validated_import
from typer.testing import CliRunner

from curate.cli import app
from curate.export import export_corpus
from curate.importing import ImportRefused
from curate.ingest import ingest
from curate.model import Annotation, Entity, Story, text_sha256
from curate.store import Corpus

INTEROP = Path("/work/shared/bench/interop")


@pytest.fixture(autouse=True)
def cli_imports_are_validated(monkeypatch):
    """`curate import` run through the CLI is validated too."""
    from curate import importing as imports

    monkeypatch.setattr(imports, "import_annotations", validated_import)


def records_of(corpus_dir: Path, annotator: str) -> list[tuple[str, Annotation]]:
    """(snippet text, record) per record of the journal, in journal order."""
    with Corpus.open(corpus_dir) as corpus:
        return [(corpus.snippet_by_id(record.snippet_id).text, record) for record in corpus.journal(annotator).records()]


def entity_texts(text: str, record: Annotation) -> list[tuple[str, str]]:
    return [(text[entity.start : entity.end], entity.label) for entity in record.entities]


def refused(tmp_path: Path, source: Path, fmt: str, **options) -> list[str]:
    """The problems of an import that must be refused; nothing may be written."""
    corpus_dir = tmp_path / "refused-corpus"
    with pytest.raises(ImportRefused) as error:
        validated_import(source, fmt, corpus_dir, "x", add_snippets=True, **options)
    assert not corpus_dir.exists()
    return error.value.problems


def run_cli(*arguments: str):
    result = CliRunner().invoke(app, ["import", *arguments])
    assert "Traceback" not in result.output and not isinstance(result.exception, (TypeError, KeyError, AttributeError))
    return result


# ---------------------------------------------------------------- 1. inputs that gave tracebacks


def test_prodigy_answer_that_is_a_list_is_refused_with_its_line(tmp_path):
    source = tmp_path / "answers.jsonl"
    source.write_text(json.dumps({"text": "Kim met Ana.", "spans": []}) + "\n" + json.dumps({"text": "Bob left.", "answer": ["accept"]}) + "\n")
    assert refused(tmp_path, source, "prodigy") == [f"{source}:2: unknown answer ['accept'] (expected accept, ignore or reject)"]
    result = run_cli(str(source), "--format", "prodigy", "--corpus", str(tmp_path / "c"), "--annotator", "x", "--add-snippets")
    assert result.exit_code == 1 and f"{source}:2: unknown answer" in result.output
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        ({"annotations": [1]}, "an annotation must be an object, got 1"),
        ({"annotations": {"result": []}}, "'annotations' must be a list"),
        ({"annotations": [{"result": ["r"]}]}, "result 1 must be an object, got 'r'"),
        ({"annotations": [{"result": [{"type": "labels", "value": "v"}]}]}, "'value' must be an object"),
        ({"annotations": [{"result": [{"type": "labels", "value": {"start": 0, "labels": ["PERSON"]}}]}]}, "'value' has no 'end'"),
    ],
)
def test_label_studio_malformed_tasks_are_refused_with_their_line(tmp_path, task, reason):
    source = tmp_path / "tasks.jsonl"
    source.write_text(json.dumps({"data": {"text": "Kim met Ana."}, **task}) + "\n")
    problems = refused(tmp_path, source, "labelstudio")
    assert len(problems) == 1 and problems[0].startswith(f"{source}:1: ") and reason in problems[0]


def test_an_invalid_label_name_for_a_new_corpus_is_one_line_with_its_line(tmp_path):
    source = tmp_path / "labels.jsonl"
    source.write_text(json.dumps({"text": "Hello Bob there", "label": [[6, 9, "B@D"]]}) + "\n")
    result = run_cli(str(source), "--format", "doccano", "--corpus", str(tmp_path / "c"), "--annotator", "x", "--add-snippets")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{source}:1: label 'B@D' cannot be a corpus label: use a letter first, then letters, digits, '_' or '-' (at most 64); rename it with --map-labels FROM=TO"
    assert len(lines) == 2 and lines[1].startswith("error: import refused: 1 problem(s)")
    assert "pydantic" not in result.output and "http" not in result.output
    assert not (tmp_path / "c").exists()
    report = validated_import(source, "doccano", tmp_path / "c", "x", add_snippets=True, label_map={"B@D": "PERSON"})
    assert report.records == 1


# ---------------------------------------------------------------- 4. CoNLL


def test_conll2003_entities_end_at_sentence_breaks(tmp_path):
    report = validated_import(INTEROP / "conll" / "conll2003-eng.testa", "conll", tmp_path / "c", "x", add_snippets=True)
    assert report.records == 216
    records = records_of(tmp_path / "c", "x")
    entities = [pair for text, record in records for pair in entity_texts(text, record)]
    assert not [name for name, _ in entities if "\n" in name]
    # `Netherlands I-LOC`, a blank line, `Czech I-LOC Republic I-LOC`: two LOCs, not one across the break
    document = next((text, record) for text, record in records if "Netherlands\nCzech Republic" in text)
    assert ("Netherlands", "LOC") in entity_texts(*document) and ("Czech Republic", "LOC") in entity_texts(*document)


def test_conll_entity_count_is_the_per_sentence_count(tmp_path):
    path = INTEROP / "conll" / "conll2003-eng.testa"
    expected = 0
    previous = "O"
    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split()
        tag = columns[-1] if columns and not line.startswith("-DOCSTART-") else "O"
        if tag != "O" and (tag.startswith("B-") or previous == "O" or previous[2:] != tag[2:]):
            expected += 1  # IOB1: an entity starts at B-, or at I- after O, another label or a sentence break
        previous = tag
    validated_import(path, "conll", tmp_path / "c", "x", add_snippets=True)
    assert sum(len(record.entities) for _, record in records_of(tmp_path / "c", "x")) == expected


def test_wnut17_with_a_stray_bom_and_no_docstart_is_one_text_per_sentence(tmp_path):
    path = INTEROP / "conll" / "wnut17-emerging.dev.conll"
    raw = path.read_bytes()
    assert raw.rstrip(b"\n").endswith(b"\n\xef\xbb\xbf") and b"-DOCSTART-" not in raw
    sentences = [block for block in raw.decode("utf-8").replace("\ufeff", "").split("\n\n") if block.strip()]
    report = validated_import(path, "conll", tmp_path / "c", "x", add_snippets=True, skip_invalid=True)
    # 1009 sentences: two repeat an earlier one exactly (merged), one repeats "Where ' s Kishan ?" with another label (skipped)
    assert len(sentences) == 1009 and (report.records, report.duplicates, len(report.skipped)) == (1006, 2, 1)
    assert max(len(text) for text, _ in records_of(tmp_path / "c", "x")) < 1000


def test_conll_doc_per_options(tmp_path):
    source = tmp_path / "doc.conll"
    source.write_text(
        "\ufeffKim B-PER\nleft O\n\nAna I-PER\nstayed O\n\n\nBob B-PER\n\n-DOCSTART- -X- -X- O\n\nEve B-PER\n", encoding="utf-8"
    )
    texts = {}
    for doc_per in ("sentence", "blank-lines", "docstart"):
        validated_import(source, "conll", tmp_path / doc_per, "x", add_snippets=True, doc_per=doc_per)
        texts[doc_per] = [text for text, _ in records_of(tmp_path / doc_per, "x")]
    assert texts["sentence"] == ["Kim left", "Ana stayed", "Bob", "Eve"]
    assert texts["blank-lines"] == ["Kim left\nAna stayed", "Bob", "Eve"]
    assert texts["docstart"] == ["Kim left\nAna stayed\nBob", "Eve"]
    validated_import(source, "conll", tmp_path / "default", "x", add_snippets=True)
    assert [text for text, _ in records_of(tmp_path / "default", "x")] == texts["docstart"]  # the file has -DOCSTART-
    result = run_cli(str(source), "--format", "conll", "--corpus", str(tmp_path / "bad"), "--annotator", "x", "--doc-per", "page")
    assert result.exit_code == 1 and "--doc-per 'page': choose docstart, sentence or blank-lines" in result.output


def test_conll_bad_line_skips_only_its_document_with_skip_invalid(tmp_path):
    source = tmp_path / "bad.conll"
    source.write_text("Kim B-PER\nleft O\n\nAna WRONG\nstayed O\n\nBob B-PER\n", encoding="utf-8")
    assert refused(tmp_path, source, "conll") == [f"{source}:4: tag 'WRONG' is not O or B-/I-/E-/S-/L-/U- LABEL"]
    report = validated_import(source, "conll", tmp_path / "c", "x", add_snippets=True, skip_invalid=True)
    assert report.skipped == [f"{source}:4: tag 'WRONG' is not O or B-/I-/E-/S-/L-/U- LABEL"]
    assert [text for text, _ in records_of(tmp_path / "c", "x")] == ["Kim left", "Bob"]


# ---------------------------------------------------------------- 5. Prodigy binary answers


def test_prodigy_binary_answers_are_refused_as_not_complete(tmp_path):
    source = INTEROP / "prodigy" / "reddit-product-binary.jsonl"
    problems = refused(tmp_path, source, "prodigy")
    assert len(problems) == len(source.read_text(encoding="utf-8").splitlines())
    assert problems[0].startswith(f"{source}:1: a binary answer") and "is not a complete annotation" in problems[0]
    assert "--binary merge" in problems[0]


def test_prodigy_binary_answers_merge_per_text_into_in_progress_records(tmp_path):
    source = INTEROP / "prodigy" / "reddit-product-binary.jsonl"
    tasks = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    report = validated_import(source, "prodigy", tmp_path / "c", "x", add_snippets=True, binary="merge")
    records = {text: record for text, record in records_of(tmp_path / "c", "x")}
    assert report.records == len(records) == len({task["text"] for task in tasks})
    assert all(record.status is None for record in records.values())  # in progress, not done
    accepted: dict[str, set] = {}
    for task in tasks:
        for span in task["spans"]:
            if span.get("answer", task["answer"]) == "accept":
                accepted.setdefault(task["text"], set()).add(span["text"])
    # line 1: "MX" rejected, nothing else for that text
    assert records["This was taken during the Easter celebrations at Real de Catorce, MX."].entities == []
    for text, record in records.items():
        marked = {text[entity.start : entity.end] for entity in record.entities}
        assert all(any(name in mark for mark in marked) for name in accepted.get(text, ()))  # kept (maybe grown to tokens)
        assert len(marked) == len(accepted.get(text, ()))


def test_prodigy_manual_files_are_not_taken_for_binary_ones(tmp_path):
    for name in ("news-headlines-ner.jsonl", "fashion-brands-eval.jsonl"):
        report = validated_import(INTEROP / "prodigy" / name, "prodigy", tmp_path / name, "x", add_snippets=True)
        assert report.records > 300
    assert all(record.status == "done" for _, record in records_of(tmp_path / "fashion-brands-eval.jsonl", "x"))


# ---------------------------------------------------------------- 6. --skip-invalid


def test_prodigy_whitespace_texts_are_skipped_with_skip_invalid(tmp_path):
    source = INTEROP / "prodigy" / "tweets-test-annotated.jsonl"
    assert refused(tmp_path, source, "prodigy") == [f"{source}:286: empty text (only whitespace)", f"{source}:437: empty text (only whitespace)"]
    result = run_cli(str(source), "--format", "prodigy", "--corpus", str(tmp_path / "c"), "--annotator", "x", "--add-snippets", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert f"skipped {source}:286: empty text" in result.output and f"skipped {source}:437: empty text" in result.output
    texts = [json.loads(line)["text"] for line in source.read_text(encoding="utf-8").splitlines()]
    unique = {text for text in texts if text.strip()}
    repeats = len([text for text in texts if text.strip()]) - len(unique)  # the same tweet twice, annotated alike: merged
    assert f"{len(unique)} record(s) imported" in result.output and "2 skipped" in result.output
    assert f"note: {repeats} record(s) repeated an earlier record of the file exactly" in result.output
    assert len(records_of(tmp_path / "c", "x")) == len(unique)  # one per snippet


# ---------------------------------------------------------------- 7. Label Studio shapes


def test_label_studio_single_task_object_array_and_jsonl(tmp_path):
    source = INTEROP / "labelstudio" / "named-entity-task.json"
    task = json.loads(source.read_text(encoding="utf-8"))
    expected = sorted((result["value"]["text"], result["value"]["labels"][0]) for result in task["annotations"][-1]["result"])
    array = tmp_path / "array.json"
    array.write_text(json.dumps([task, {"data": {"text": "Nothing to see."}, "annotations": [{"result": []}]}], indent=2))
    lines = tmp_path / "tasks.jsonl"
    lines.write_text(json.dumps(task) + "\n")
    for number, path in enumerate((source, array, lines)):
        report = validated_import(path, "labelstudio", tmp_path / f"c{number}", "x", add_snippets=True)
        assert report.records == (2 if path == array else 1)
        text, record = records_of(tmp_path / f"c{number}", "x")[0]
        assert sorted(entity_texts(text, record)) == expected


def test_label_studio_array_problems_name_the_line_where_the_task_starts(tmp_path):
    source = tmp_path / "array.json"
    good = {"data": {"text": "Kim met Ana."}, "annotations": [{"result": []}]}
    source.write_text(json.dumps([good, {"data": {"text": "x"}, "annotations": [{"result": ["r"]}]}], indent=2))
    line = [number for number, text in enumerate(source.read_text().splitlines(), start=1) if text == "  {"][1]  # the second task's brace
    assert refused(tmp_path, source, "labelstudio") == [f"{source}:{line}: bad result: result 1 must be an object, got 'r'"]


# ---------------------------------------------------------------- 8. brat: what is not imported


def test_brat_reports_what_is_not_imported_and_leaves_triggers_out(tmp_path):
    folder = INTEROP / "brat" / "news"
    kinds: Counter = Counter()
    triggers = 0
    entities = 0
    for ann in folder.glob("*.ann"):
        lines = ann.read_text(encoding="utf-8").splitlines()
        kinds.update(line[0] for line in lines if line)
        trigger_ids = {line.split("\t")[1].split()[0].split(":")[1] for line in lines if line.startswith("E")}
        triggers += sum(1 for line in lines if line.startswith("T") and line.split("\t")[0] in trigger_ids)
        entities += sum(1 for line in lines if line.startswith("T"))
    report = validated_import(folder, "brat", tmp_path / "c", "x", add_snippets=True)
    assert report.not_imported == {
        "events (E)": kinds["E"],
        "relations (R)": kinds["R"],
        "attributes (A)": kinds["A"],
        "notes (#)": kinds["#"],
        "normalizations (N)": kinds["N"],
        "equivalences (*)": kinds["*"],
        "event triggers (T lines named by E lines)": triggers,
    }
    assert triggers == 23 and kinds["E"] == 23
    assert sum(len(record.entities) for _, record in records_of(tmp_path / "c", "x")) == entities - triggers
    report = validated_import(folder, "brat", tmp_path / "t", "x", add_snippets=True, brat_triggers=True)
    assert "event triggers (T lines named by E lines)" not in report.not_imported
    assert sum(len(record.entities) for _, record in records_of(tmp_path / "t", "x")) == entities
    result = run_cli(str(folder), "--format", "brat", "--corpus", str(tmp_path / "cli"), "--annotator", "x", "--add-snippets")
    assert result.exit_code == 0, result.output
    assert f"{kinds['E']} events (E)" in result.output and f"{kinds['R']} relations (R)" in result.output
    assert "23 event triggers" in result.output


def test_brat_real_corpora_import(tmp_path):
    for name in ("ncbi-disease", "conll2002-esp"):
        report = validated_import(INTEROP / "brat" / name, "brat", tmp_path / name, "x", add_snippets=True)
        assert report.records == len(list((INTEROP / "brat" / name).glob("*.ann")))


# ---------------------------------------------------------------- 9. messages in the file's own terms


def test_doccano_overlap_message_shows_the_files_offsets(tmp_path):
    source = INTEROP / "doccano" / "test-example-overlapping.jsonl"
    assert refused(tmp_path, source, "doccano") == [f"{source}:1: entities [0,1) LOC and [0,1) LOC overlap; curate's entities are flat (one per token)"]


def test_prodigy_spans_inside_one_curate_token_say_so(tmp_path):
    source = INTEROP / "prodigy" / "drugs-eval.jsonl"
    problems = refused(tmp_path, source, "prodigy")
    assert problems == [
        f"{source}:60: entities 'weed' [69,73) DRUG and 'heroin' [74,80) DRUG fall inside one curate token "
        f"'weed-heroin-weed' [69,85); an entity is whole curate tokens, so they would overlap"
    ]


def test_a_moved_entity_is_named(tmp_path):
    report = validated_import(INTEROP / "prodigy" / "news-headlines-ner.jsonl", "prodigy", tmp_path / "c", "x", add_snippets=True)
    assert [note for note in report.snapped if ":76:" in note] == [
        f"{INTEROP / 'prodigy' / 'news-headlines-ner.jsonl'}:76: 1 entity moved to token edges: 'Yahoo' [67,72) → 'Ex-Yahoo' [64,72)"
    ]


# ---------------------------------------------------------------- 10. UTF-16 offsets (doccano, Label Studio)

EMOJI_TEXT = "😀 Ana met 🇫🇷 Zoe\u0301 in Paris 👍🏽 today"


def utf16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def marks(text: str) -> list[tuple[int, int, str]]:
    names = [("Ana", "PERSON"), ("Zoe\u0301" if "Zoe\u0301" in text else "Zoe", "PERSON"), ("Paris", "GPE")]
    return sorted((text.index(name), text.index(name) + len(name), label) for name, label in names)


@pytest.mark.parametrize("fmt", ["doccano", "labelstudio"])
def test_utf16_offsets_are_converted_on_import(tmp_path, fmt):
    text = EMOJI_TEXT
    spans = [(utf16(text, start), utf16(text, end), label) for start, end, label in marks(text)]
    assert spans != [span for span in marks(text)]  # the emoji and the flag shift them
    source = tmp_path / "in.jsonl"
    if fmt == "doccano":
        row = {"text": text, "label": [list(span) for span in spans]}
    else:
        row = {"data": {"text": text}, "annotations": [{"result": [{"type": "labels", "value": {"start": s, "end": e, "labels": [label]}} for s, e, label in spans]}]}
    source.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    validated_import(source, fmt, tmp_path / "c", "x", add_snippets=True)
    (stored, record), = records_of(tmp_path / "c", "x")
    assert entity_texts(stored, record) == [("Ana", "PERSON"), ("Zoe\u0301", "PERSON"), ("Paris", "GPE")]


def test_an_offset_inside_a_surrogate_pair_is_refused(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "😀 Ana", "label": [[1, 6, "PERSON"]]}) + "\n")
    problems = refused(tmp_path, source, "doccano")
    assert problems == [f"{source}:1: bad label: offset 1 falls inside a character that UTF-16 counts as two units (a surrogate pair)"]


@pytest.mark.parametrize("fmt", ["doccano", "labelstudio"])
def test_utf16_round_trip_export_then_import_keeps_offsets(tmp_path, fmt):
    texts = {"emoji": EMOJI_TEXT, "plain": "Ana met Zoe in Paris today", "flags": "🇩🇪🇫🇷 Ana 🇯🇵 went to Paris and Zoe\u0301 stayed"}
    source = tmp_path / "snippets.jsonl"
    source.write_text("".join(json.dumps({"id": key, "text": text}, ensure_ascii=False) + "\n" for key, text in texts.items()), encoding="utf-8")
    corpus_dir = tmp_path / "corpus"
    ingest([source], corpus_dir)
    with Corpus.open(corpus_dir) as corpus, corpus.journal("alice", writable=True) as journal:
        journal.append_many(
            Annotation(
                snippet_id=key, annotator="alice", text_sha256=text_sha256(text), stories=[Story(start=0, end=len(text))],
                entities=[Entity(start=s, end=e, label=label) for s, e, label in marks(text)], status="done",
            )
            for key, text in texts.items()
        )
    export_corpus(corpus_dir, tmp_path / "out", fmt=fmt, source="alice", splits="1")
    exported = next((tmp_path / "out").iterdir())
    raw = exported.read_text(encoding="utf-8")
    rows = [json.loads(line) for line in raw.splitlines()] if fmt == "doccano" else json.loads(raw)
    emoji_row = next(row for row in rows if (row.get("text") or row["data"]["text"]) == EMOJI_TEXT)
    first = emoji_row["label"][0][:2] if fmt == "doccano" else [emoji_row["annotations"][0]["result"][0]["value"][key] for key in ("start", "end")]
    assert first == [utf16(EMOJI_TEXT, marks(EMOJI_TEXT)[0][0]), utf16(EMOJI_TEXT, marks(EMOJI_TEXT)[0][1])]  # UTF-16 in the file
    validated_import(exported, fmt, corpus_dir, "again")
    again = {record.snippet_id: record for _, record in records_of(corpus_dir, "again")}
    with Corpus.open(corpus_dir) as corpus:
        alice = {record.snippet_id: record for record in corpus.journal("alice").records()}
    assert {key: record.entities for key, record in again.items()} == {key: record.entities for key, record in alice.items()}


# ---------------------------------------------------------------- 11. strict offsets in every reader


def strict_rows(value) -> dict[str, tuple[str, str]]:
    """Per format: a file whose one entity starts at `value`, and its file name."""
    text = "The Rolling Stones played in Paris."
    return {
        "prodigy": ("in.jsonl", json.dumps({"text": text, "spans": [{"start": value, "end": 18, "label": "ORG"}]})),
        "doccano": ("in.jsonl", json.dumps({"text": text, "label": [[value, 18, "ORG"]]})),
        "labelstudio": ("in.json", json.dumps({"data": {"text": text}, "annotations": [{"result": [{"type": "labels", "value": {"start": value, "end": 18, "labels": ["ORG"]}}]}]})),
        "jsonl": ("in.jsonl", json.dumps({"text": text, "entities": [{"start": value, "end": 18, "label": "ORG"}]})),
    }


@pytest.mark.parametrize("fmt", ["prodigy", "doccano", "labelstudio", "jsonl"])
@pytest.mark.parametrize("value", [3.9, "4", True, -1, float("nan")])
def test_non_integer_offsets_are_refused_in_every_reader(tmp_path, fmt, value):
    name, row = strict_rows(value)[fmt]
    source = tmp_path / name
    source.write_text(row + "\n")  # json.dumps writes nan as NaN, which json.loads reads back
    problems = refused(tmp_path, source, fmt)
    assert len(problems) == 1 and problems[0].startswith(f"{source}:1: ")
    assert "must be an integer" in problems[0] or "must not be negative" in problems[0]


def test_prodigy_offset_17_9_is_not_cut_to_17(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "The Rolling Stones played.", "spans": [{"start": 4, "end": 17.9, "label": "ORG"}]}) + "\n")
    assert refused(tmp_path, source, "prodigy") == [f"{source}:1: bad span: span 1 end must be an integer, got 17.9"]


@pytest.mark.parametrize("offsets", ["4.0 18", "4 1e3", "x 18", "4 99999999999999999999999"])
def test_brat_offsets_must_be_integers(tmp_path, offsets):
    (tmp_path / "doc.txt").write_text("The Rolling Stones played in Paris.", encoding="utf-8")
    (tmp_path / "doc.ann").write_text(f"T1\tORG {offsets}\tRolling Stones\n", encoding="utf-8")
    problems = refused(tmp_path, tmp_path / "doc.ann", "brat")
    assert problems == [f"{tmp_path / 'doc.ann'}:1: offsets must be two integers, got {offsets!r}"]


def test_integral_float_offsets_are_taken(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "The Rolling Stones played.", "spans": [{"start": 4.0, "end": 18, "label": "ORG"}]}) + "\n")
    validated_import(source, "prodigy", tmp_path / "c", "x", add_snippets=True)
    (text, record), = records_of(tmp_path / "c", "x")
    assert entity_texts(text, record) == [("Rolling Stones", "ORG")]


# ---------------------------------------------------------------- strings that are not Unicode text


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"text": "Ana \ud800 met", "label": [[0, 3, "PERSON"]]}, "the text holds a lone surrogate (\\ud800)"),
        ({"text": "Ana met", "label": [[0, 3, "PER\udc00"]]}, "the label 1 holds a lone surrogate (\\udc00)"),
        ({"text": "Ana met", "label": [[0, 3, "PERSON"]], "snippet_id": "a\udc00"}, "the id holds a lone surrogate (\\udc00)"),
    ],
)
def test_lone_surrogates_from_json_escapes_are_refused(tmp_path, row, reason):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(row) + "\n")  # ensure_ascii: the surrogate is a \\udXXX escape, valid JSON
    problems = refused(tmp_path, source, "doccano")
    assert problems == [f"{source}:1: {reason}, which is not Unicode text"]
