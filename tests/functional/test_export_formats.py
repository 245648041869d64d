"""CoNLL, spaCy, JSONL, Prodigy and doccano out; and every format read back in gives the same annotations.

Every import goes through `validated_import`: the journal it writes passes `curate validate --corpus`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_fixtures import build_corpus
from import_checks import validated_import
from typer.testing import CliRunner

from curate.cli import app
from curate.export import export_corpus
from curate.export.rows import iob2_names, source_records, story_rows
from curate.importing import ImportRefused
from curate.store import Corpus

SPLITS = ("train", "validation", "test")


@pytest.fixture(autouse=True)
def cli_imports_are_validated(monkeypatch):
    """`curate import` run through the CLI is validated too."""
    from curate import importing as imports

    monkeypatch.setattr(imports, "import_annotations", validated_import)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("formats"))


def gold_by_id(corpus_dir: Path) -> dict:
    with Corpus.open(corpus_dir) as corpus:
        return {snippet.id: (snippet.text, record) for snippet, record in source_records(corpus)}


def annotations_of(record) -> tuple:
    return (
        [(s.start, s.end, s.truncated) for s in record.stories],
        [(b.start, b.end, b.kind) for b in record.boilerplate],
        [(e.start, e.end, e.label) for e in record.entities],
    )


def journal_by_id(corpus_dir: Path, annotator: str) -> dict:
    with Corpus.open(corpus_dir) as corpus:
        return {record.snippet_id: record for record in corpus.journal(annotator).records()}


def expected_stories(corpus_dir: Path) -> list:
    with Corpus.open(corpus_dir) as corpus:
        return [story for snippet, record in source_records(corpus) for story in story_rows(snippet, record)]


# ---------------------------------------------------------------- CoNLL


def read_conll_documents(path: Path) -> list[list[tuple[str, str]]]:
    """(token, tag) per document, read plainly: first and last column, -DOCSTART- between documents."""
    documents: list[list[tuple[str, str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-DOCSTART-"):
            documents.append([])
        elif line.strip():
            columns = line.split()
            assert len(columns) == 4
            documents[-1].append((columns[0], columns[-1]))
    return documents


def test_conll_holds_each_story_with_iob2_tags(corpus_dir, tmp_path):
    export_corpus(corpus_dir, tmp_path / "conll", fmt="conll")
    with Corpus.open(corpus_dir) as corpus:
        names = iob2_names(corpus.config.label_names)
    documents = [doc for split in SPLITS for doc in read_conll_documents(tmp_path / "conll" / f"{split}.conll")]
    stories = expected_stories(corpus_dir)
    assert len(documents) == len(stories)
    by_text = {tuple(story.text[s:e] for s, e in story.tokens): story for story in stories}
    for document in documents:
        story = by_text[tuple(token for token, _ in document)]
        tags = [tag for _, tag in document]
        assert all(tag in names for tag in tags)
        spans = []
        for index, tag in enumerate(tags):
            if tag.startswith("B-"):
                spans.append([index, index + 1, tag[2:]])
            elif tag.startswith("I-"):
                assert spans and spans[-1][2] == tag[2:] and spans[-1][1] == index  # valid IOB2
                spans[-1][1] = index + 1
        assert [(story.tokens[a][0], story.tokens[b - 1][1], label) for a, b, label in spans] == story.entities


def test_conll_reimported_and_exported_again_is_the_same(corpus_dir, tmp_path):
    export_corpus(corpus_dir, tmp_path / "first", fmt="conll")
    fresh = tmp_path / "fresh"
    for split in SPLITS:
        validated_import(tmp_path / "first" / f"{split}.conll", "conll", fresh, "conll", add_snippets=True)
    export_corpus(fresh, tmp_path / "second", fmt="conll", source="conll")
    first = sorted(doc for split in SPLITS for doc in read_conll_documents(tmp_path / "first" / f"{split}.conll"))
    second = sorted(doc for split in SPLITS for doc in read_conll_documents(tmp_path / "second" / f"{split}.conll"))
    assert first == second
    with Corpus.open(fresh) as corpus:
        assert corpus.config.label_names == ["PERSON", "GPE", "ORG"]  # a new corpus takes the file's labels


# ---------------------------------------------------------------- spaCy


def test_spacy_docbins_rebuild_story_text_and_entities(corpus_dir, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    export_corpus(corpus_dir, tmp_path / "spacy", fmt="spacy")
    nlp = spacy.blank("en")
    stories = {story.id: story for story in expected_stories(corpus_dir)}
    seen = 0
    for split in SPLITS:
        for doc in DocBin().from_disk(tmp_path / "spacy" / f"{split}.spacy").get_docs(nlp.vocab):
            story = stories[doc.user_data["id"]]
            assert doc.text == story.text
            assert [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents] == story.entities
            assert doc.user_data["truncated"] == story.truncated
            seen += 1
    assert seen == len(stories)


# ---------------------------------------------------------------- JSONL, Prodigy, doccano


@pytest.mark.parametrize("fmt", ["jsonl", "prodigy", "doccano"])
def test_snippet_formats_reimport_to_the_same_annotations(corpus_dir, tmp_path, fmt):
    export_corpus(corpus_dir, tmp_path / fmt, fmt=fmt)
    gold = gold_by_id(corpus_dir)
    annotator = f"again-{fmt}"
    fresh = tmp_path / "fresh"
    for split in SPLITS:
        report = validated_import(tmp_path / fmt / f"{split}.jsonl", fmt, corpus_dir, annotator)
        assert report.matched_by_id == report.records and report.ingested == 0
        validated_import(tmp_path / fmt / f"{split}.jsonl", fmt, fresh, annotator, add_snippets=True)
    for target in (corpus_dir, fresh):
        imported = journal_by_id(target, annotator)
        assert set(imported) == set(gold)
        for snippet_id, (text, record) in gold.items():
            assert annotations_of(imported[snippet_id]) == annotations_of(record)
            assert imported[snippet_id].status == "done"


def test_prodigy_tasks_carry_tokens_and_span_token_indexes(corpus_dir, tmp_path):
    export_corpus(corpus_dir, tmp_path / "prodigy", fmt="prodigy")
    task = json.loads((tmp_path / "prodigy" / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    tokens = task["tokens"]
    assert all(task["text"][t["start"] : t["end"]] == t["text"] for t in tokens)
    for span in task["spans"]:
        assert tokens[span["token_start"]]["start"] == span["start"]
        assert tokens[span["token_end"]]["end"] == span["end"]
    assert task["answer"] == "accept" and task["meta"]["snippet_id"]


def test_text_without_id_is_matched_by_exact_text(corpus_dir, tmp_path):
    gold = gold_by_id(corpus_dir)
    text, record = gold["page-004"]
    source = tmp_path / "doccano.jsonl"
    source.write_text(json.dumps({"text": text, "label": [[e.start, e.end, e.label] for e in record.entities]}) + "\n", encoding="utf-8")
    report = validated_import(source, "doccano", corpus_dir, "by-text")
    assert (report.matched_by_text, report.ingested) == (1, 0)
    imported = journal_by_id(corpus_dir, "by-text")["page-004"]
    assert [(e.start, e.end, e.label) for e in imported.entities] == [(e.start, e.end, e.label) for e in record.entities]
    assert [(s.start, s.end) for s in imported.stories] == [(0, len(text))]


# ---------------------------------------------------------------- Label Studio and brat


def label_studio_tasks(gold: dict) -> list[dict]:
    tasks = []
    for number, (snippet_id, (text, record)) in enumerate(sorted(gold.items())):
        result = [
            {"id": f"r{index}", "from_name": "label", "to_name": "text", "type": "labels", "value": {"start": e.start, "end": e.end, "text": text[e.start : e.end], "labels": [e.label]}}
            for index, e in enumerate(record.entities)
        ]
        tasks.append({"id": number + 1, "data": {"text": text, "snippet_id": snippet_id}, "annotations": [{"id": 1, "result": [], "was_cancelled": False}, {"id": 2, "result": result, "was_cancelled": False}], "predictions": []})
    return tasks


def test_label_studio_export_imports_the_last_annotation(corpus_dir, tmp_path):
    gold = gold_by_id(corpus_dir)
    tasks = label_studio_tasks(gold)
    tasks[0]["annotations"].append({"id": 3, "result": [], "was_cancelled": True})
    source = tmp_path / "label-studio.json"
    source.write_text(json.dumps(tasks), encoding="utf-8")
    validated_import(source, "labelstudio", corpus_dir, "ls")
    imported = journal_by_id(corpus_dir, "ls")
    first_id = sorted(gold)[0]
    assert imported[first_id].status == "skipped"
    for snippet_id, (text, record) in gold.items():
        if snippet_id != first_id:
            assert [(e.start, e.end, e.label) for e in imported[snippet_id].entities] == [(e.start, e.end, e.label) for e in record.entities]


def test_label_studio_spans_off_token_edges_are_snapped(tmp_path):
    text = "Vladimir Putin met Kim Jong-un in Pyongyang."
    task = {"data": {"text": text}, "annotations": [{"result": [{"type": "labels", "value": {"start": 0, "end": 12, "labels": ["PERSON"]}}, {"type": "labels", "value": {"start": 33, "end": 43, "labels": ["GPE"]}}]}]}
    source = tmp_path / "tasks.jsonl"
    source.write_text(json.dumps(task) + "\n", encoding="utf-8")
    report = validated_import(source, "labelstudio", tmp_path / "new", "ls", add_snippets=True)
    assert report.ingested == 1 and len(report.snapped) == 1
    record = next(iter(journal_by_id(tmp_path / "new", "ls").values()))
    assert [(text[e.start : e.end], e.label) for e in record.entities] == [("Vladimir Putin", "PERSON"), ("Pyongyang", "GPE")]


def test_brat_folder_imports_entities(corpus_dir, tmp_path):
    gold = gold_by_id(corpus_dir)
    folder = tmp_path / "brat"
    folder.mkdir()
    for snippet_id, (text, record) in gold.items():
        (folder / f"{snippet_id}.txt").write_text(text, encoding="utf-8", newline="")
        lines = [f"T{index + 1}\t{e.label} {e.start} {e.end}\t{text[e.start:e.end]}" for index, e in enumerate(record.entities)]
        lines.append("#1\tAnnotatorNotes T1\tchecked")
        (folder / f"{snippet_id}.ann").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = validated_import(folder, "brat", corpus_dir, "brat")
    assert report.matched_by_id == len(gold)
    imported = journal_by_id(corpus_dir, "brat")
    for snippet_id, (_, record) in gold.items():
        assert [(e.start, e.end, e.label) for e in imported[snippet_id].entities] == [(e.start, e.end, e.label) for e in record.entities]


# ---------------------------------------------------------------- bad input


def test_bad_lines_refuse_the_import_and_write_nothing(corpus_dir, tmp_path):
    gold = gold_by_id(corpus_dir)
    text, _ = gold["page-002"]
    source = tmp_path / "bad.jsonl"
    source.write_text(
        json.dumps({"text": text, "label": [[0, 5, "PERSON"]]}) + "\n" + "{not json\n" + json.dumps({"text": "x", "label": [[0, 9, "ORG"]]}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRefused) as refused:
        validated_import(source, "doccano", corpus_dir, "bad")
    problems = refused.value.problems
    assert any(problem.startswith(f"{source}:2: malformed JSON") for problem in problems)
    assert any(problem.startswith(f"{source}:3: span [0,9) does not fit") for problem in problems)
    assert not (corpus_dir / "annotations" / "bad.jsonl").exists()


def test_unknown_labels_are_refused_unless_mapped(corpus_dir, tmp_path):
    gold = gold_by_id(corpus_dir)
    text, record = gold["page-005"]
    source = tmp_path / "per.jsonl"
    source.write_text(json.dumps({"text": text, "label": [[e.start, e.end, "PER" if e.label == "PERSON" else e.label] for e in record.entities]}) + "\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="PER are not in .*--map-labels"):
        validated_import(source, "doccano", corpus_dir, "mapped")
    validated_import(source, "doccano", corpus_dir, "mapped", label_map={"PER": "PERSON"})
    assert annotations_of(journal_by_id(corpus_dir, "mapped")["page-005"])[2] == annotations_of(record)[2]


def test_brat_discontinuous_span_is_named_with_file_and_line(tmp_path):
    (tmp_path / "doc.txt").write_text("New York and Boston", encoding="utf-8")
    (tmp_path / "doc.ann").write_text("T1\tGPE 0 8\tNew York\nT2\tGPE 0 3;13 19\tNew Boston\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match=r"doc\.ann:2: discontinuous"):
        validated_import(tmp_path / "doc.ann", "brat", tmp_path / "corpus", "brat")
    assert not (tmp_path / "corpus").exists()


def test_cli_import_and_export(corpus_dir, tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.conll"
    bad.write_text("-DOCSTART- -X- -X- O\n\nKim B-PERSON\nsaid X-ORG\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(bad), "--format", "conll", "--corpus", str(tmp_path / "c"), "--annotator", "x"])
    assert result.exit_code == 1
    assert f"{bad}:4: tag 'X-ORG'" in result.output and "nothing was written" in result.output
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", str(corpus_dir), "--out", str(out), "--format", "doccano", "--splits", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["import", str(out / "train.jsonl"), "--format", "doccano", "--corpus", str(corpus_dir), "--annotator", "cli"])
    assert result.exit_code == 0, result.output
    assert "30 record(s) imported" in result.output
    result = runner.invoke(app, ["export", str(corpus_dir), "--out", str(out), "--format", "doccano"])
    assert result.exit_code == 1 and "--overwrite" in result.output


def test_cli_escapes_control_characters_from_foreign_files(corpus_dir, tmp_path):
    source = tmp_path / "hostile.jsonl"
    text, _ = gold_by_id(corpus_dir)["page-001"]
    source.write_text(json.dumps({"text": text, "label": [[0, 3, "\x1b[2J[red]EVIL"]]}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(source), "--format", "doccano", "--corpus", str(corpus_dir), "--annotator", "hostile"])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\\x1b[2J[red]EVIL" in result.output


# ---------------------------------------------------------------- curate's own CoNLL back onto its snippets


def test_cli_conll_export_imports_back_onto_the_original_snippets(tmp_path):
    corpus_dir = build_corpus(tmp_path)
    snippets_before = (corpus_dir / "snippets.jsonl").read_bytes()
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(corpus_dir), "--out", str(tmp_path / "first"), "--format", "conll", "--splits", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["import", str(tmp_path / "first" / "train.conll"), "--format", "conll", "--corpus", str(corpus_dir), "--annotator", "again"])
    assert result.exit_code == 0, result.output
    gold = gold_by_id(corpus_dir)
    assert f"{len(gold)} record(s) imported" in result.output and "0 new snippet(s) ingested" in result.output
    assert (corpus_dir / "snippets.jsonl").read_bytes() == snippets_before  # nothing ingested
    imported = journal_by_id(corpus_dir, "again")
    assert set(imported) == set(gold)
    for snippet_id, (text, record) in gold.items():
        stories, boilerplate, entities = annotations_of(record)
        again = annotations_of(imported[snippet_id])
        assert again[0] == stories and again[1] == boilerplate
        # CoNLL drops entities inside boilerplate; every other one comes back where it was.
        kept = [e for e in entities if not any(b[0] < e[1] and e[0] < b[1] for b in boilerplate)]
        assert again[2] == kept
    result = runner.invoke(app, ["export", str(corpus_dir), "--out", str(tmp_path / "second"), "--format", "conll", "--splits", "1", "--source", "again"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "second" / "train.conll").read_bytes() == (tmp_path / "first" / "train.conll").read_bytes()


def test_cli_import_refuses_texts_the_corpus_lacks_unless_add_snippets(tmp_path):
    corpus_dir = build_corpus(tmp_path, pages=3)
    snippets_before = (corpus_dir / "snippets.jsonl").read_bytes()
    source = tmp_path / "other.conll"
    source.write_text(
        "-DOCSTART- -X- -X- O\n\nNobody B-PERSON\nwrote I-PERSON\nthis O\n\n-DOCSTART- -X- -X- O\n\nNor O\nthis O\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    arguments = ["import", str(source), "--format", "conll", "--corpus", str(corpus_dir), "--annotator", "other"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{source}:1: no snippet in {corpus_dir} has this text ('Nobody wrote this')")
    assert lines[1].startswith(f"{source}:7: no snippet") and "--add-snippets" in lines[1]
    assert "import refused: 2 problem(s); nothing was written" in result.output
    assert (corpus_dir / "snippets.jsonl").read_bytes() == snippets_before
    assert not (corpus_dir / "annotations" / "other.jsonl").exists()
    result = runner.invoke(app, [*arguments[:2], "--format", "conll", "--corpus", str(tmp_path / "new"), "--annotator", "other"])
    assert result.exit_code == 1 and "no corpus there; pass --add-snippets" in result.output
    assert not (tmp_path / "new").exists()
    result = runner.invoke(app, [*arguments, "--add-snippets"])
    assert result.exit_code == 0, result.output
    assert "2 new snippet(s) ingested" in result.output
    assert len((corpus_dir / "snippets.jsonl").read_text(encoding="utf-8").splitlines()) == 3 + 2


def test_import_problems_come_in_line_order_each_with_its_line(corpus_dir, tmp_path):
    gold = gold_by_id(corpus_dir)
    text, _ = gold["page-002"]
    source = tmp_path / "mixed.jsonl"
    source.write_text(
        "\n".join([
            json.dumps({"text": text, "label": [[0, 4, "ORG"]]}),
            json.dumps({"text": text, "label": [[0, 4, "WEIRD"]]}),
            '{"text": "a\tb", "label": []}'.replace("\\t", "\t"),
            json.dumps({"text": text, "label": [[0, 4, "WEIRD"], [5, 9, "ODD"]]}),
        ]) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRefused) as refused:
        validated_import(source, "doccano", corpus_dir, "mixed")
    problems = refused.value.problems
    assert [problem.split(": ", 1)[0] for problem in problems] == [f"{source}:2", f"{source}:3", f"{source}:4"]
    assert problems[0].startswith(f"{source}:2: label(s) WEIRD are not in")
    assert problems[1] == f"{source}:3: malformed JSON: Invalid control character (column 12)"
    assert problems[2].startswith(f"{source}:4: label(s) WEIRD, ODD are not in")


def test_a_story_also_found_in_an_earlier_snippet_goes_back_to_the_snippet_it_came_from(tmp_path):
    from export_fixtures import annotate, page_text

    from curate.ingest import ingest

    pages = {f"page-{number:03d}": page_text(number) for number in range(4)}
    first_story = pages["page-003"][0].split("\nPhoto:")[0]  # the lead story of page-003, syndicated alone
    source = tmp_path / "in.jsonl"
    rows = [{"id": "syndicated", "text": first_story + "\n"}] + [{"id": key, "text": text} for key, (text, _) in pages.items()]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    corpus_dir = tmp_path / "corpus"
    ingest([source], corpus_dir)
    with Corpus.open(corpus_dir) as corpus, corpus.journal("alice", writable=True) as journal:
        journal.append_many(annotate(key, text, marks, "alice") for key, (text, marks) in pages.items())
    export_corpus(corpus_dir, tmp_path / "conll", fmt="conll", source="alice", splits="1")
    report = validated_import(tmp_path / "conll" / "train.conll", "conll", corpus_dir, "again")
    assert (report.matched_by_tokens, report.token_snippets, report.ingested) == (10, 4, 0)
    alice, again = journal_by_id(corpus_dir, "alice"), journal_by_id(corpus_dir, "again")
    assert set(again) == set(pages)
    for key in pages:
        assert annotations_of(again[key])[:2] == annotations_of(alice[key])[:2]


def test_a_short_text_found_inside_a_long_snippet_is_not_placed_there(tmp_path):
    corpus_dir = build_corpus(tmp_path, pages=2, gold=False, annotators=())
    with Corpus.open(corpus_dir) as corpus:
        text = corpus.snippet(0).text
    sentence = text.split("\n")[1]  # one line of page-000, which has no saved record
    source = tmp_path / "short.jsonl"
    source.write_text(json.dumps({"text": " ".join(sentence.split()) + "  ", "label": []}) + "\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match=r"short\.jsonl:1: no snippet in .* has this text"):
        validated_import(source, "doccano", corpus_dir, "short")
    whole = tmp_path / "whole.jsonl"  # the whole page with its line breaks lost is placed on it
    whole.write_text(json.dumps({"text": " ".join(text.split()), "label": []}) + "\n", encoding="utf-8")
    report = validated_import(whole, "doccano", corpus_dir, "whole")
    assert (report.matched_by_tokens, report.ingested) == (1, 0)
    assert set(journal_by_id(corpus_dir, "whole")) == {"page-000"}


def test_problems_sort_by_line_and_label_studio_task_number():
    from curate.importing import sorted_problems

    problems = ["a.json[task 10]: x", "a.json[task 2]: y", "a.json: whole", "b.jsonl:12: w", "b.jsonl:3: z"]
    assert sorted_problems(problems) == ["a.json: whole", "a.json[task 2]: y", "a.json[task 10]: x", "b.jsonl:3: z", "b.jsonl:12: w"]
